"""The compactor and One ID move past records they cannot process (dead letters) and keep the rest."""

from __future__ import annotations

from typing import Any

from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.core.events import LogEntry
from touchpoint.identity.service import CONSUMER as IDENTITY
from touchpoint.identity.service import process_log, resolve
from touchpoint.ingest.collector.timing import to_millis
from touchpoint.ingest.compactor import CONSUMER as COMPACTOR
from touchpoint.ingest.compactor import compact
from touchpoint.store.operational import dead_letters
from touchpoint.store.operational.offsets import get_offset


def _payload(event_id: str, customer: str, at: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "kind": "track",
        "event": "login",
        "time": at,
        "distinct_id": customer,
        "properties": {},
        "ids": {"customer_no": customer},
        "source": "native",
        "project": "default",
    }


def _append(container: Container, *payloads: dict[str, Any]) -> list[int]:
    entries = [LogEntry(None, p["event_id"], p) for p in payloads]
    return container.log.append(entries, received_at=container.clock.now()).offsets


def _compact(container: Container) -> Any:
    return compact(
        log=container.log,
        ops=container.ops,
        analytics=container.analytics,
        clock=container.clock,
        calendar=container.calendar,
    )


def _letters(container: Container, consumer: str) -> dict[int, dead_letters.DeadLetter]:
    with container.ops.begin() as connection:
        return {d.offset: d for d in dead_letters.list_letters(connection, consumer=consumer)}


def test_a_record_the_compactor_cannot_convert_is_a_dead_letter(
    container: Container, clock: VirtualClock
) -> None:
    now = to_millis(clock.now())
    offsets = _append(
        container,
        _payload("a", "C1", now),
        _payload("b", "C2", "yesterday"),  # a time no row can hold
        _payload("c", "C3", now),
    )
    step = _compact(container)
    assert (step.records, step.events, step.dead, step.up_to_offset) == (3, 2, 1, offsets[-1])
    events = container.analytics.table("events").execute()
    assert sorted(events["event_id"]) == ["a", "c"]
    letters = _letters(container, COMPACTOR)
    assert list(letters) == [offsets[1]]
    assert letters[offsets[1]].record["time"] == "yesterday"
    assert letters[offsets[1]].error.startswith("TypeError")
    assert _compact(container).records == 0


def test_one_id_refuses_control_characters_and_overlong_identifiers(
    container: Container, clock: VirtualClock
) -> None:
    now = to_millis(clock.now())
    offsets = _append(
        container,
        _payload("a", "C1", now),
        _payload("b", "C\x002", now),
        _payload("c", "C" * 256, now),
        _payload("d", "C4", now),
    )
    while process_log(env=container, log=container.log) > 0:
        pass
    with container.ops.begin() as connection:
        assert get_offset(connection, IDENTITY) == offsets[-1]
    letters = _letters(container, IDENTITY)
    assert sorted(letters) == offsets[1:3]
    assert "control character" in letters[offsets[1]].error
    assert "256 characters" in letters[offsets[2]].error
    env = container
    assert resolve(env=env, value="C1") is not None
    assert resolve(env=env, value="C4") is not None
    assert resolve(env=env, value="C" * 256) is None  # never linked, on either database
