"""The compactor: moves events from the log into the analytical store's daily partitions (Beijing dates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import Clock
from touchpoint.ingest.model import EVENTS
from touchpoint.ingest.ports import EventLog, LogRecord
from touchpoint.store import AnalyticalStore, OperationalStore
from touchpoint.store.operational.offsets import get_offset, set_offset

CONSUMER = "compactor"
BATCH = 100_000


@dataclass(frozen=True)
class Compaction:
    """What one compaction pass moved."""

    records: int
    events: int
    up_to_offset: int


def compact(
    *,
    log: EventLog,
    ops: OperationalStore,
    analytics: AnalyticalStore,
    clock: Clock,
    calendar: TradingCalendar,
    limit: int = BATCH,
) -> Compaction:
    """Write the next records after the compactor's offset to Parquet, then commit the offset.

    Rows are upserted by event_id, so a crash between the write and the commit repeats nothing. Only the
    partitions written are searched for an earlier row of an id: the collector drops a re-sent event within
    its dedupe window, so an id repeats only when this very batch is written again after a crash, onto the
    same days (scanning every day's ids on each pass would cost seconds a year into live traffic).
    """
    with ops.begin() as connection:
        after = get_offset(connection, CONSUMER)
    records = log.read_after(after, limit)
    if not records:
        return Compaction(records=0, events=0, up_to_offset=after)
    rows = [row for row in (_event_row(r) for r in records) if row is not None]
    if rows:
        analytics.upsert(EVENTS.name, _to_arrow(rows, calendar), within_partitions=True)
    last = records[-1].offset
    with ops.begin() as connection:
        set_offset(connection, CONSUMER, last, clock.now())
    return Compaction(records=len(records), events=len(rows), up_to_offset=last)


def _event_row(record: LogRecord) -> dict[str, Any] | None:
    body = record.payload
    if not body.get("event"):
        return None  # profile operations and identity calls are not behaviour
    ids = body.get("ids") or {}
    return {
        "event_id": body["event_id"],
        "event": body["event"],
        "distinct_id": body.get("distinct_id"),
        "customer_no": ids.get("customer_no"),
        "login_id": _text(ids.get("login_id")),
        "anonymous_id": _text(ids.get("anonymous_id")),
        "time": datetime.fromtimestamp(body["time"] / 1000, tz=UTC),
        "properties": orjson.dumps(body.get("properties") or {}).decode(),
        "source": body.get("source"),
        "project": body.get("project"),
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _to_arrow(rows: list[dict[str, Any]], calendar: TradingCalendar) -> pa.Table:
    schema = EVENTS.arrow_schema()
    table = pa.Table.from_pylist(rows, schema=schema)
    local = pc.local_timestamp(table["time"].cast(pa.timestamp("us", tz=str(calendar.tz))))
    return table.append_column("dt", pc.cast(local, pa.date32()))


def consumer_lag(*, log: EventLog, ops: OperationalStore, clock: Clock, consumer: str) -> dict[str, Any]:
    """Records not yet processed by `consumer`, and the age in seconds of the oldest of them."""
    with ops.begin() as connection:
        committed = get_offset(connection, consumer)
    pending = log.read_after(committed, 1)
    seconds = (clock.now() - pending[0].received_at).total_seconds() if pending else 0.0
    return {
        "committed": committed,
        "records": max(log.head() - committed, 0) if pending else 0,
        "seconds": round(max(seconds, 0.0), 3),
    }
