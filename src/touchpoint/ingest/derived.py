"""Events the system derives itself (`mot_<rule>`, `advisor_task_completed`), in the log's normalised shape,
and their forwarding from the operational outbox to the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from touchpoint.core.clock import Clock
from touchpoint.core.events import LogEntry
from touchpoint.core.ids import new_id
from touchpoint.ingest.collector.model import payload
from touchpoint.ingest.ports import EventLog
from touchpoint.store import OperationalStore
from touchpoint.store.operational import derived

SOURCE_PROJECT = "default"


class DerivedEnv(Protocol):
    """What forwarding needs."""

    ops: OperationalStore
    log: EventLog
    clock: Clock


def derived_event(name: str, customer_no: str, at: datetime, properties: dict[str, Any]) -> dict[str, Any]:
    """The normalised event `name` of a customer at `at`, attributed to the customer number (a login)."""
    millis = int(at.timestamp() * 1000)
    return payload(
        event_id=new_id("ev"),
        source="native",
        project=SOURCE_PROJECT,
        kind="track",
        event=name,
        time=millis,
        client_time=millis,
        received_at=millis,
        distinct_id=customer_no,
        properties=properties,
        ids={"customer_no": customer_no, "is_login": True},
    )


def forward_derived(*, env: DerivedEnv, limit: int = 1_000) -> int:
    """Append recorded derived events to the event log, then mark them. A crash between the two appends them
    again under the same dedupe key, which the log drops."""
    with env.ops.begin() as connection:
        rows = derived.unforwarded(connection, limit)
    if not rows:
        return 0
    entries = [LogEntry(f"derived|{r['event_key']}", r["payload"]["event_id"], r["payload"]) for r in rows]
    env.log.append(entries, received_at=env.clock.now())
    with env.ops.begin() as connection:
        derived.mark_forwarded(connection, [int(r["id"]) for r in rows])
    return len(rows)
