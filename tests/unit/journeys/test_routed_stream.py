"""Journey routing through the routed stream (ADR 0005, `journey_routing_source = "routed"`), against the
local NATS server: One ID's republisher puts each linked event on its customer's subject, each routing
partition reads only its own subjects, and every event is routed exactly once — also when the republisher is
stopped between publishing and committing, when the number of partitions changes, and when routing moves
from the log to the routed stream and back."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from touchpoint.bootstrap import Container
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.events import LogEntry, routed_parts, routed_subject_of
from touchpoint.governance import SYSTEM
from touchpoint.identity.service import process_log
from touchpoint.journeys import runtime
from touchpoint.journeys.routing import REPUBLISHER, ROUTED, partition_names, partition_of
from touchpoint.journeys.runtime import republish, route_events
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.store.operational.offsets import all_offsets
from touchpoint.store.operational.schema import journey_inbox
from touchpoint.worker.jobs import consume, housekeep

NATS_ENV = "TOUCHPOINT_TEST_NATS_URL"
JOURNEY = {
    "name": "subscribers",
    "title": "subscribers",
    "entry": {"type": "api"},
    "start": "hi",
    "nodes": [{"id": "hi", "type": "action", "action": {"kind": "send", "channel": "log", "text": "hi"}}],
    # A goal's event is kept for every customer it is routed for: one inbox row per routed event.
    "goal": {"event": "fund_subscribe", "within": "7d"},
}

pytestmark = pytest.mark.nats


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    url = os.environ.get(NATS_ENV)
    if not url:
        pytest.skip(f"{NATS_ENV} is not set")
    return {
        "event_log": "nats",
        "nats_url": url,
        "nats_stream": f"T_{uuid.uuid4().hex[:10]}",
        "journey_routing_source": "routed",
    }


@pytest.fixture
def env(container: Container) -> Iterator[Container]:
    save_journey(env=container, principal=SYSTEM, journey=parse_journey(JOURNEY))
    publish(env=container, principal=SYSTEM, name="subscribers")
    yield container
    assert container.routed is not None
    container.routed.delete_stream()  # type: ignore[attr-defined]
    container.log.delete_stream()  # type: ignore[attr-defined]


def _append(env: Container, rng: random.Random, count: int, start: int) -> list[tuple[str, int]]:
    """`count` events of 25 customers, a third of them fund_subscribe; the (customer, ms) of those."""
    sent = []
    for n in range(start, start + count):
        customer = f"C{rng.randrange(25):04d}"
        event = rng.choice(["fund_subscribe", "page_view", "login"])
        ms = int((env.clock.now() + timedelta(seconds=n)).timestamp() * 1000)
        body = {
            "event_id": f"e{n}",
            "kind": "track",
            "event": event,
            "time": ms,
            "distinct_id": customer,
            "properties": {},
            "ids": {"customer_no": customer},
        }
        env.log.append([LogEntry(None, body["event_id"], body)], received_at=env.clock.now())
        if event == "fund_subscribe":
            sent.append((customer, ms))
    return sent


def _route(env: Any) -> None:
    """One ID, the republisher and routing until nothing is left (as the worker's consumers job)."""
    while process_log(env=env, log=env.log) + republish(env=env, limit=9) + route_events(env=env, limit=7):
        pass


def _kept(env: Container) -> list[tuple[str, int]]:
    with env.ops.begin() as connection:
        rows = connection.execute(select(journey_inbox.c.customer_no, journey_inbox.c.time)).all()
    return sorted((c, int(t.timestamp() * 1000)) for c, t in rows)


def _routing(env: Container) -> set[str]:
    with env.ops.begin() as connection:
        return {n for n in all_offsets(connection) if n.startswith("journeys") or n == REPUBLISHER}


def test_a_customers_subject_is_fixed_and_agrees_with_its_partition_of_every_power_of_two() -> None:
    # The subject must be the same in every process and every release (crc32, never Python's salted hash):
    # these values were taken once, and a change of them would send a customer's events to another partition.
    assert [routed_subject_of(c) for c in ("C0000001", "C0000002", "客户-1")] == [38, 28, 17]
    customers = [f"C{i:07d}" for i in range(500)]
    for partitions in (1, 2, 4, 8, 16, 32, 64):
        assert all(routed_subject_of(c) % partitions == partition_of(c, partitions) for c in customers)


def test_each_partition_reads_only_its_customers_events_in_log_order(env: Container) -> None:
    expected = _append(env, random.Random(2), 120, 0)
    process_log(env=env, log=env.log)
    route_events(env=env)  # routing begins: the republisher's offset is made
    while republish(env=env, limit=11):
        pass
    assert env.routed is not None
    seen: list[tuple[str, int]] = []
    for index in range(4):
        records = env.routed.read(0, 1_000, index=index, count=4)
        parts = [routed_parts(r) for r in records]
        assert all(partition_of(customer, 4) == index for _, customer, _ in parts)
        sources = [source for _, _, source in parts]
        assert sources == sorted(sources)  # each subject in log order
        seen += [(c, int(e["time"])) for e, c, _ in parts if e["event"] == "fund_subscribe"]
    assert sorted(seen) == sorted(expected)
    # Only the events a journey listens to are republished (not the page views and logins).
    assert env.routed.head() == len(expected)


def test_every_event_is_routed_once_across_partition_counts_and_between_log_and_routed_stream(
    env: Container,
) -> None:
    """From the log in 1, through the routed stream in 2 then 4, back to the log in 3, then the routed
    stream in 8: every kept event once, never twice, and only the current layout's offsets remain."""
    rng = random.Random(3)
    expected: list[tuple[str, int]] = []
    layouts = (("log", 1), ("routed", 2), ("routed", 4), ("log", 3), ("routed", 8))
    for step, (source, partitions) in enumerate(layouts):
        now = replace(env, routing_source=source, routing_partitions=partitions)
        expected += _append(now, rng, 60, 60 * step)
        _route(now)
        assert _kept(now) == sorted(expected), (source, partitions)
        prefix = ROUTED if source == "routed" else "journeys"
        wanted = set(partition_names(partitions, prefix)) | ({REPUBLISHER} if source == "routed" else set())
        assert _routing(now) == wanted


def test_a_change_of_source_waits_for_a_partition_behind_the_others(env: Container) -> None:
    """Routing moves from the log in 2 to the routed stream in 4 while log partition 0 is behind partition
    1: partition 0 catches up first, then the republisher starts where both are, so nothing of partition 0
    is lost or doubled."""
    rng = random.Random(7)
    two = replace(env, routing_source="log", routing_partitions=2)
    expected = _append(two, rng, 50, 0)
    _route(two)
    expected += _append(two, rng, 30, 50)
    process_log(env=two, log=two.log)
    catalog = runtime.live_versions(two)
    # Partition 1 alone routes the new records (as a worker would while another held partition 0).
    place = runtime._Place(partition_names(2)[1], 1, 2, routed=False)
    runtime._route_partition(
        two, catalog, runtime.listened_events(catalog), runtime._Seen(), place, None, 1_000
    )
    with two.ops.begin() as connection:
        offsets = all_offsets(connection)
    assert offsets[partition_names(2)[0]] < offsets[partition_names(2)[1]]
    routed = replace(env, routing_partitions=4)
    _route(routed)
    assert _kept(routed) == sorted(expected)
    more = _append(routed, rng, 30, 80)
    _route(routed)
    assert _kept(routed) == sorted(expected + more)
    assert _routing(routed) == {*partition_names(4, ROUTED), REPUBLISHER}


def test_a_republisher_stopped_before_committing_publishes_again_and_the_stream_keeps_one_copy(
    env: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _append(env, random.Random(5), 80, 0)
    process_log(env=env, log=env.log)
    route_events(env=env)
    assert env.routed is not None

    def stopped(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("killed after publishing, before committing")

    monkeypatch.setattr(runtime, "set_offset", stopped)
    with pytest.raises(ConnectionError):
        republish(env=env, limit=1_000)
    published = env.routed.head()
    assert published > 0
    monkeypatch.undo()
    assert republish(env=env, limit=1_000) == 80  # the batch again: the offset moves now
    assert env.routed.head() == published  # every copy dropped by its source offset
    _route(env)
    assert _kept(env) == sorted(expected)


def test_housekeeping_trims_what_every_consumer_passed_from_the_log_and_the_routed_stream(
    env: Container, clock: VirtualClock
) -> None:
    eight = replace(env, routing_partitions=8)  # some partitions get few records: sparse offsets
    _append(eight, random.Random(9), 100, 0)
    _route(eight)
    consume(eight)  # the compactor and MOT read the log too
    assert eight.routed is not None
    assert eight.routed.head() > 0
    clock.advance(timedelta(days=eight.settings.event_log_retention_days + 1))
    housekeep(eight)
    assert eight.routed.read(0, 1_000, index=0, count=1) == []  # every routed record passed and purged
    assert eight.log.read_after(0, 1_000) == []


@pytest.mark.parametrize("changes", [{"event_log": "sql"}, {"journey_routing_partitions": 3}])
def test_routing_from_the_routed_stream_needs_nats_and_a_power_of_two(
    tmp_path: Any, changes: dict[str, Any]
) -> None:
    base = {"event_log": "nats", "journey_routing_source": "routed", "journey_routing_partitions": 4}
    with pytest.raises(ValueError, match=r"journey_routing_source|power of two"):
        load_settings(tmp_path / "home", **(base | changes))
