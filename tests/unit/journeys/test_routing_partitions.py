"""Journey routing in partitions by customer (`journey_routing_partitions`): every event is routed exactly
once whatever the number of partitions, while the number changes, and while another worker holds a
partition; each customer's events stay in one partition."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select, text

from touchpoint.bootstrap import Container
from touchpoint.core.events import LogEntry
from touchpoint.identity.service import process_log
from touchpoint.journeys.routing import partition_names, partition_of
from touchpoint.journeys.runtime import route_events
from touchpoint.store.operational import dead_letters
from touchpoint.store.operational.offsets import all_offsets
from touchpoint.store.operational.schema import journey_inbox
from unit.journeys.routing_world import append, kept, publish_journey


@pytest.fixture
def env(container: Container) -> Container:
    publish_journey(container)
    return container


def _route(env: Any) -> None:
    """One ID, then routing, until nothing is left (as the worker's consumers job)."""
    process_log(env=env, log=env.log)
    while route_events(env=env, limit=7):
        pass


def test_a_customer_always_falls_in_one_partition_of_each_layout() -> None:
    customers = [f"C{i:07d}" for i in range(2_000)]
    for partitions in (1, 2, 3, 8, 64):
        seen = [partition_of(c, partitions) for c in customers]
        assert seen == [partition_of(c, partitions) for c in customers]
        assert set(seen) == set(range(partitions))  # every partition gets customers
    assert partition_names(1) == ["journeys"]
    assert partition_names(3) == ["journeys:0/3", "journeys:1/3", "journeys:2/3"]


def test_every_event_is_routed_once_in_partitions_and_across_layout_changes(env: Container) -> None:
    """1 partition, then 4, then 3: every kept event once, never twice; the old layout's offsets go."""
    rng = random.Random(3)
    expected: list[tuple[str, int]] = []
    for partitions, start in ((1, 0), (4, 60), (3, 120)):
        env = replace(env, routing_partitions=partitions)
        expected += append(env, rng, 60, start)
        _route(env)
        assert kept(env) == sorted(expected)
        with env.ops.begin() as connection:
            routing = {n for n in all_offsets(connection) if n.startswith("journeys")}
        assert routing == set(partition_names(partitions))


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # row locks: PostgreSQL
def test_a_partition_held_by_another_worker_is_skipped_then_caught_up_before_a_layout_change(
    env: Container,
) -> None:
    """Another worker holds partition 0 (PostgreSQL's row lock): this one routes the other partitions
    without waiting. Changing the number of partitions then first brings partition 0 to where the others
    are, so its customers' events are routed once, not skipped by the new layout."""
    rng = random.Random(5)
    three = replace(env, routing_partitions=3)
    expected = append(three, rng, 90, 0)
    _route(three)
    later = append(three, rng, 90, 90)
    expected += later
    process_log(env=three, log=three.log)
    with three.ops.engine.connect() as other:
        other.execute(text("SELECT 1 FROM consumer_offsets WHERE consumer = 'journeys:0/3' FOR UPDATE"))
        while route_events(env=three, limit=7):
            pass
        held = [(c, ms) for c, ms in later if partition_of(c, 3) == 0]
        assert held
        assert sorted(set(expected) - set(held)) == kept(three)
        other.rollback()
    two = replace(env, routing_partitions=2)
    _route(two)
    assert kept(two) == sorted(expected)
    with two.ops.begin() as connection:
        count = connection.execute(select(func.count()).select_from(journey_inbox)).scalar_one()
        routing = {n for n in all_offsets(connection) if n.startswith("journeys")}
    assert count == len(expected)
    assert routing == set(partition_names(2))


def test_a_dead_letter_of_an_earlier_layout_is_retried_once_by_its_customers_partition(
    env: Container,
) -> None:
    """A record routing could not read becomes a dead letter of its partition (`journeys:i/4`). After the
    number of partitions changes that name is gone; retried on request, the letter is still routed — once,
    whoever routes — not left waiting for a partition that no longer exists."""
    four = replace(env, routing_partitions=4)
    rng = random.Random(11)
    expected = append(four, rng, 40, 0)
    bad = {
        "event_id": "bad",
        "kind": "track",
        "event": "fund_subscribe",
        "time": "at noon",  # routing reads a time in milliseconds
        "distinct_id": "C0001",
        "properties": {},
        "ids": {"customer_no": "C0001"},
    }
    four.log.append([LogEntry(None, "bad", bad)], received_at=four.clock.now())
    _route(four)
    assert kept(four) == sorted(expected)
    with four.ops.begin() as connection:
        routing = [d for d in dead_letters.list_letters(connection) if d.consumer.startswith("journeys")]
    assert [d.consumer for d in routing] == [f"journeys:{partition_of('C0001', 4)}/4"]

    three = replace(env, routing_partitions=3)
    _route(three)  # the layout changes; the letter waits for an operator
    ms = int(three.clock.now().timestamp() * 1000)
    with three.ops.begin() as connection:  # the operator mends the record and asks for a retry
        table = dead_letters.dead_letters
        connection.execute(
            table.update().where(table.c.id == routing[0].id).values(record={**bad, "time": ms})
        )
        dead_letters.request_retry(connection, routing[0].id)
    _route(three)
    _route(three)
    assert kept(three) == sorted([*expected, ("C0001", ms)])
    with three.ops.begin() as connection:
        letter = dead_letters.get_letter(connection, routing[0].id)
    assert letter is not None
    assert letter.status == "resolved"
