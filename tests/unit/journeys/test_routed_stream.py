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
from datetime import UTC, datetime
from typing import Any

import pytest

from touchpoint.bootstrap import Container
from touchpoint.config import load_settings
from touchpoint.core.events import LogEntry, routed_parts, routed_subject_of
from touchpoint.identity.service import process_log
from touchpoint.journeys import routing, runtime
from touchpoint.journeys.routing import REPUBLISHER, ROUTED, partition_names, partition_of, partition_place
from touchpoint.journeys.runtime import republish, route_events
from touchpoint.store.operational import dead_letters
from touchpoint.store.operational.offsets import all_offsets
from touchpoint.store.operational.schema import consumer_offsets
from touchpoint.worker.jobs import housekeep
from unit.journeys.routing_world import append, kept, publish_journey

NATS_ENV = "TOUCHPOINT_TEST_NATS_URL"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

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
    publish_journey(container)
    yield container
    assert container.routed is not None
    container.routed.delete_stream()  # type: ignore[attr-defined]
    container.log.delete_stream()  # type: ignore[attr-defined]


def _route(env: Any) -> None:
    """One ID, the republisher and routing until three passes in a row do nothing (as the worker's consumers
    job polls: a pass that only makes missing rows or changes the layout routes nothing; the next goes on)."""
    idle = 0
    while idle < 3:
        done = process_log(env=env, log=env.log) + republish(env=env, limit=9)
        done += route_events(env=env, limit=7)
        idle = 0 if done else idle + 1


def _republish_then_stop(env: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """The republisher publishes a batch and is killed before it commits its offset."""

    def stopped(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("killed after publishing, before committing")

    with monkeypatch.context() as patched:
        patched.setattr(runtime, "set_offset", stopped)
        with pytest.raises(ConnectionError):
            republish(env=env, limit=1_000)


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
    expected = append(env, random.Random(2), 120, 0)
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
        expected += append(now, rng, 60, 60 * step)
        _route(now)
        assert kept(now) == sorted(expected), (source, partitions)
        prefix = ROUTED if source == "routed" else "journeys"
        wanted = set(partition_names(partitions, prefix)) | ({REPUBLISHER} if source == "routed" else set())
        assert _routing(now) == wanted


def test_a_change_of_source_waits_for_a_partition_behind_the_others(env: Container) -> None:
    """Routing moves from the log in 2 to the routed stream in 4 while log partition 0 is behind partition
    1: partition 0 catches up first, then the republisher starts where both are, so nothing of partition 0
    is lost or doubled."""
    rng = random.Random(7)
    two = replace(env, routing_source="log", routing_partitions=2)
    expected = append(two, rng, 50, 0)
    _route(two)
    expected += append(two, rng, 30, 50)
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
    assert kept(routed) == sorted(expected)
    more = append(routed, rng, 30, 80)
    _route(routed)
    assert kept(routed) == sorted(expected + more)
    assert _routing(routed) == {*partition_names(4, ROUTED), REPUBLISHER}


def test_a_republisher_stopped_before_committing_publishes_again_and_the_stream_keeps_one_copy(
    env: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = append(env, random.Random(5), 80, 0)
    process_log(env=env, log=env.log)
    route_events(env=env)
    assert env.routed is not None
    _republish_then_stop(env, monkeypatch)
    published = env.routed.head()
    assert published > 0
    assert republish(env=env, limit=1_000) == 80  # the batch again: the offset moves now
    assert env.routed.head() == published  # every copy dropped by its source offset
    _route(env)
    assert kept(env) == sorted(expected)


def _route_only(env: Container, names: list[str], routed: bool = True, bound: int | None = None) -> None:
    """Route some partitions of a layout and not the others, as workers would while another holds those."""
    catalog = runtime.live_versions(env)
    listened = runtime.listened_events(catalog)
    for name in names:
        place = partition_place(name)
        assert place is not None
        spot = runtime._Place(name, place[1], place[2], routed=routed)
        runtime._route_partition(env, catalog, listened, runtime._Seen(), spot, bound, 1_000)


def test_housekeeping_purges_only_what_every_partition_passed(env: Container) -> None:
    eight = replace(env, routing_partitions=8)  # some partitions get few records: sparse offsets
    rng = random.Random(9)
    expected = append(eight, rng, 100, 0)
    _route(eight)
    behind = append(eight, rng, 100, 100)
    expected += behind
    process_log(env=eight, log=eight.log)
    while republish(env=eight, limit=1_000):
        pass
    names = partition_names(8, ROUTED)
    _route_only(eight, names[1:])  # partition 0 has not routed the new records
    with eight.ops.begin() as connection:
        offset = all_offsets(connection)[names[0]]
    assert eight.routed is not None
    waiting = eight.routed.read(offset, 1_000, index=0, count=8)
    assert waiting  # (the seed gives partition 0 some of the new records)
    housekeep(eight)
    assert eight.routed.read(offset, 1_000, index=0, count=8) == waiting  # what it still needs is kept
    _route(eight)
    assert kept(eight) == sorted(expected)
    housekeep(eight)
    newest = eight.routed.head()
    assert [r.offset for r in eight.routed.read(0, 1_000, index=0, count=1)] == [newest]  # kept: see below
    assert eight.routed.last_source() > 0  # the republisher's mark of what it published survives a purge


def test_a_worker_routing_a_replaced_layout_routes_nothing_again(env: Container) -> None:
    """Worker A takes the layout to route (2 partitions, one behind, with a bound); worker B catches the
    late one up and replaces the layout by 4. A then routes its stale layout: its partitions' rows are gone,
    so it routes nothing — not everything again from offset 0."""
    rng = random.Random(3)
    two = replace(env, routing_partitions=2)
    expected = append(two, rng, 60, 0)
    _route(two)
    expected += append(two, rng, 60, 60)
    process_log(env=two, log=two.log)
    while republish(env=two, limit=50):
        pass
    _route_only(two, partition_names(2, ROUTED)[:1])
    four = replace(env, routing_partitions=4)
    stale = routing.layout_to_route(four, 4, routed=True)  # worker A
    assert stale.names == partition_names(2, ROUTED)
    assert stale.bound is not None
    _route(four)  # worker B
    _route_only(four, stale.names, bound=stale.bound)  # worker A goes on
    assert _routing(four) == {*partition_names(4, ROUTED), REPUBLISHER}
    assert kept(four) == sorted(expected)
    expected += append(four, rng, 40, 200)
    _route(four)
    assert kept(four) == sorted(expected)


def test_a_worker_beginning_late_leaves_the_layout_another_began(env: Container) -> None:
    """Two workers find no routing offsets at once; A begins, republishes and routes; B's begin, made on
    its stale view, must change nothing (no offset moved back, no record skipped)."""
    rng = random.Random(4)
    expected = append(env, rng, 80, 0)
    _route(env)
    expected += append(env, rng, 40, 80)
    process_log(env=env, log=env.log)
    while republish(env=env, limit=1_000):
        pass
    with env.ops.begin() as connection:
        before = all_offsets(connection)
    routing._begin(env, partition_names(1, ROUTED), {}, env.routed)  # worker B, from its view of no rows
    with env.ops.begin() as connection:
        assert all_offsets(connection) == before
    _route(env)
    assert kept(env) == sorted(expected)


def test_back_to_the_log_after_a_purge_routes_an_unacknowledged_batch_once(
    env: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The republisher is stopped after publishing, before committing; the partitions route the batch;
    housekeeping purges the stream; routing goes back to the log: the log partitions start after what was
    published, not after the republisher's stale offset."""
    expected = append(env, random.Random(6), 60, 0)
    process_log(env=env, log=env.log)
    route_events(env=env)
    _republish_then_stop(env, monkeypatch)
    while route_events(env=env):
        pass
    housekeep(env)  # every partition passed the batch: the routed stream is purged of it
    _route(replace(env, routing_source="log"))
    assert kept(env) == sorted(expected)


def test_a_republisher_skips_what_the_stream_already_holds_even_past_the_duplicate_window(
    env: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Restarted long after it was stopped between publishing and committing, the republisher does not rely
    on the server's duplicate window: it publishes only events after the newest one the stream holds."""
    append(env, random.Random(8), 60, 0)
    process_log(env=env, log=env.log)
    route_events(env=env)
    assert env.routed is not None
    _republish_then_stop(env, monkeypatch)
    sent: list[Any] = []
    real = env.routed.publish
    monkeypatch.setattr(env.routed, "publish", lambda events: sent.extend(events) or real(events))
    assert republish(env=env, limit=1_000) == 60
    assert sent == []


def test_an_event_too_large_for_the_routed_stream_is_a_dead_letter_and_the_rest_go_on(env: Container) -> None:
    largest = env.log.connection.max_payload  # type: ignore[attr-defined]
    expected = append(env, random.Random(10), 20, 0)
    ms = int(env.clock.now().timestamp() * 1000)
    big = {
        "event_id": "big",
        "kind": "track",
        "event": "fund_subscribe",
        "time": ms,
        "distinct_id": "C0001",
        "properties": {"note": "x" * (largest - 400)},  # fits the log, not the routed envelope
        "ids": {"customer_no": "C0001"},
    }
    env.log.append([LogEntry(None, "big", big)], received_at=env.clock.now())
    expected += append(env, random.Random(11), 20, 20)
    _route(env)
    assert kept(env) == sorted(expected)
    with env.ops.begin() as connection:
        letters = [d for d in dead_letters.list_letters(connection) if d.consumer == REPUBLISHER]
    assert [d.record["event_id"] for d in letters] == ["big"]
    assert "larger than" in letters[0].error
    with env.ops.begin() as connection:  # the operator trims the note and asks for a retry
        table = dead_letters.dead_letters
        mended = big | {"properties": {"note": "short"}}
        connection.execute(table.update().where(table.c.id == letters[0].id).values(record=mended))
        dead_letters.request_retry(connection, letters[0].id)
    _route(env)
    assert kept(env) == sorted([*expected, ("C0001", ms)])
    with env.ops.begin() as connection:
        letter = dead_letters.get_letter(connection, letters[0].id)
    assert letter is not None
    assert letter.status == "resolved"


def test_a_malformed_event_one_id_refused_does_not_stop_the_republisher(env: Container) -> None:
    expected = append(env, random.Random(12), 20, 0)
    bad = {"event_id": "bad", "kind": "track", "event": "fund_subscribe", "time": 1, "ids": "oops"}
    env.log.append([LogEntry(None, "bad", bad)], received_at=env.clock.now())
    expected += append(env, random.Random(13), 20, 20)
    _route(env)
    assert kept(env) == sorted(expected)


def test_a_malformed_routed_message_is_a_dead_letter_of_its_partition(env: Container) -> None:
    expected = append(env, random.Random(14), 20, 0)
    _route(env)
    routed = env.routed
    assert routed is not None
    subject = ".".join([routed.prefix, *["0"] * 6])  # type: ignore[attr-defined]
    env.log.run(env.log.jetstream.publish(subject, b"not json"))  # type: ignore[attr-defined]
    expected += append(env, random.Random(15), 20, 20)
    _route(env)
    assert kept(env) == sorted(expected)
    with env.ops.begin() as connection:
        letters = [d for d in dead_letters.list_letters(connection) if d.consumer == ROUTED]
    assert [d.record.get("malformed") for d in letters] == ["not json"]


def test_a_routed_stream_made_anew_is_an_error_not_a_silent_skip(env: Container) -> None:
    append(env, random.Random(16), 30, 0)
    _route(env)
    assert env.routed is not None
    env.routed.delete_stream()  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="made anew"):
        route_events(env=env)
    append(env, random.Random(17), 30, 30)
    process_log(env=env, log=env.log)
    with pytest.raises(
        RuntimeError, match="is gone"
    ):  # not made again, numbering from 1, under the partitions
        republish(env=env)
    assert env.routed.last_source() is None


def test_an_event_the_server_lost_from_an_unacknowledged_batch_is_published_again(
    env: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch published and not committed, of which the server kept a later event but not an earlier one
    (as a cluster's leader change can): the republisher publishes the missing one, and only it."""
    expected = append(env, random.Random(18), 60, 0)
    process_log(env=env, log=env.log)
    route_events(env=env)
    assert env.routed is not None
    real = env.routed.publish

    def losing_one(events: list[Any]) -> Any:
        return real([e for i, e in enumerate(events) if i != len(events) // 2])

    with monkeypatch.context() as patched:
        patched.setattr(env.routed, "publish", losing_one)
        _republish_then_stop(env, monkeypatch)
    before = env.routed.head()
    _route(env)
    assert env.routed.head() == before + 1  # the lost event, once
    assert kept(env) == sorted(expected)


def test_partitions_made_one_by_one_by_an_earlier_release_are_completed(env: Container) -> None:
    """Releases before 40 made a partition's offset on its first use, so a deployment may hold some of its
    layout's rows: the missing ones are made (at the log's start, as first use did), none is skipped."""
    two = replace(env, routing_source="log", routing_partitions=2)
    expected = append(two, random.Random(19), 40, 0)
    process_log(env=two, log=two.log)
    with two.ops.begin() as connection:
        connection.execute(consumer_offsets.insert().values(consumer="journeys:0/2", offset=0, updated_at=T0))
    _route(two)
    assert kept(two) == sorted(expected)
    assert _routing(two) == set(partition_names(2))


def test_a_layout_with_missing_rows_is_completed_before_it_is_replaced(env: Container) -> None:
    two = replace(env, routing_source="log", routing_partitions=2)
    expected = append(two, random.Random(20), 40, 0)
    process_log(env=two, log=two.log)
    with two.ops.begin() as connection:
        connection.execute(consumer_offsets.insert().values(consumer="journeys:1/2", offset=0, updated_at=T0))
    routed = replace(env, routing_partitions=4)  # the old layout, one row short, gives way to the routed one
    _route(routed)
    assert kept(routed) == sorted(expected)
    assert _routing(routed) == {*partition_names(4, ROUTED), REPUBLISHER}


@pytest.mark.parametrize("changes", [{"event_log": "sql"}, {"journey_routing_partitions": 3}])
def test_routing_from_the_routed_stream_needs_nats_and_a_power_of_two(
    tmp_path: Any, changes: dict[str, Any]
) -> None:
    base = {"event_log": "nats", "journey_routing_source": "routed", "journey_routing_partitions": 4}
    with pytest.raises(ValueError, match=r"journey_routing_source|power of two"):
        load_settings(tmp_path / "home", **(base | changes))
