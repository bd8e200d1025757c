"""A record no consumer can process never stops the worker: with a NUL byte and a 10,000-character
identifier in the event log, a pass still admits, advances and sends; the bad records become dead letters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from support import demo_world
from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.core.events import LogEntry
from touchpoint.governance import SYSTEM
from touchpoint.identity.service import CONSUMER as IDENTITY
from touchpoint.ingest.collector import native
from touchpoint.ingest.collector.service import check_batch
from touchpoint.ingest.collector.timing import to_millis
from touchpoint.ingest.compactor import CONSUMER as COMPACTOR
from touchpoint.journeys.routing import CONSUMER as JOURNEYS
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.store.operational import dead_letters
from touchpoint.store.operational.offsets import all_offsets
from touchpoint.store.operational.schema import channel_log, journey_runs
from touchpoint.worker.loop import run_pass

NUL_CUSTOMER = "C\x00001"
LONG_ID = "x" * 10_000


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Container, VirtualClock]]:
    yield from demo_world(request, tmp_path_factory.mktemp("poison") / "home", _welcome_journey)


def _welcome_journey(container: Container) -> None:
    body = {
        "name": "welcome_poison",
        "title": "welcome",
        "entry": {"type": "event", "event": "fund_subscribe"},
        "start": "hello",
        "nodes": [
            {"id": "hello", "type": "action", "action": {"kind": "send", "channel": "log", "text": "欢迎"}},
        ],
    }
    env = container
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(body))
    publish(env=env, principal=SYSTEM, name="welcome_poison")


def _append_native(
    container: Container, *events: dict[str, Any], poison: dict[str, str] | None = None
) -> list[int]:
    """Normalise native events as the collector would, then put the `poison` values in place of the ones
    they name (the collector would quarantine them) and append straight to the log."""
    received = container.clock.now()
    batch = native.decode(orjson.dumps({"events": list(events)}), inflate_limit=1 << 24)
    checked = check_batch(batch, received, container.collector_window)
    assert not checked.quarantined
    payloads = [_replaced(n.payload, poison or {}) for n in checked.accepted]
    entries = [LogEntry(None, p["event_id"], p) for p in payloads]
    return container.log.append(entries, received_at=received).offsets


def _replaced(value: Any, poison: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _replaced(v, poison) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, poison) for v in value]
    return poison.get(value, value) if isinstance(value, str) else value


def _customers(container: Container, n: int) -> list[str]:
    with container.ops.begin() as connection:
        taken = {r for (r,) in connection.execute(select(journey_runs.c.customer_no))}
    day = container.analytics.latest_partition_on_or_before("customers", container.clock.now().date())
    numbers = sorted(container.analytics.read_partition("customers", day)["customer_no"].to_pylist())
    return [c for c in numbers if c not in taken][:n]


def _welcomed(container: Container) -> set[str]:
    with container.ops.begin() as connection:
        query = select(channel_log.c.customer_no, channel_log.c.content)
        return {customer for customer, content in connection.execute(query) if content == "欢迎"}


def _event(event_id: str, customer: str, at: int) -> dict[str, Any]:
    return {"event_id": event_id, "event": "fund_subscribe", "customer_no": customer, "time": at}


def test_poison_records_become_dead_letters_and_the_worker_keeps_going(
    world: tuple[Container, VirtualClock],
) -> None:
    container, clock = world
    run_pass(container)  # links the demo's customers
    first, second, third = _customers(container, 3)
    now = to_millis(clock.now())
    bad = _append_native(
        container,
        _event("poison-nul", "NUL-CUSTOMER", now),
        {**_event("poison-long", "C1", now), "anonymous_id": "LONG-ID"},
        poison={"NUL-CUSTOMER": NUL_CUSTOMER, "LONG-ID": LONG_ID},
    )
    good = _append_native(container, _event("good-1", first, now), _event("good-2", second, now))

    run_pass(container)
    clock.advance(timedelta(minutes=5))
    run_pass(container)

    head = container.log.head()
    assert head == good[-1]
    with container.ops.begin() as connection:
        offsets = all_offsets(connection)
        letters = dead_letters.list_letters(connection)
    assert {name: offsets[name] for name in (IDENTITY, COMPACTOR, JOURNEYS)} == dict.fromkeys(
        (IDENTITY, COMPACTOR, JOURNEYS), head
    )
    assert {first, second} <= _welcomed(container)  # admitted, advanced and sent despite the poison
    identity_letters = {letter.offset: letter for letter in letters if letter.consumer == IDENTITY}
    assert set(identity_letters) == set(bad)
    assert identity_letters[bad[0]].record["ids"]["customer_no"] == NUL_CUSTOMER
    assert all(letter.error and letter.status == "open" for letter in letters)
    assert {letter.offset for letter in letters} <= set(bad)  # no good record was dead-lettered
    compacted = container.analytics.table("events").filter(lambda t: t.customer_no == first)
    assert compacted.filter(compacted.event == "fund_subscribe").count().execute() == 1

    later = _append_native(container, _event("good-3", third, to_millis(clock.now())))
    run_pass(container)
    assert third in _welcomed(container)
    with container.ops.begin() as connection:
        assert all_offsets(connection)[JOURNEYS] == later[-1]
