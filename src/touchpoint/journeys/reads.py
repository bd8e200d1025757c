"""Read-side queries of journeys in the operational store: what is scheduled next (a virtual clock jumps
there), a journey's runs page by page, where runs ended, and a run's effects with their times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select

from touchpoint.journeys.engine import ACTIVE, Run
from touchpoint.journeys.repo import as_utc, run_of, within
from touchpoint.store.operational.schema import journey_outbox, journey_runs


def effect_times(connection: Connection, run_id: str) -> list[dict[str, Any]]:
    """A run's effects in step order with their times: when each concluded (`done_at`) or, while pending,
    when it is due (`due_at`)."""
    c = journey_outbox.c
    query = (
        select(c.node, c.kind, c.status, c.last_error, c.done_at, c.next_attempt_at)
        .where(c.run_id == run_id)
        .order_by(c.step)
    )
    return [
        {
            "node": node,
            "kind": kind,
            "status": status,
            "reason": reason,
            "done_at": None if done is None else as_utc(done),
            "due_at": None if due is None or status != "pending" else as_utc(due),
        }
        for node, kind, status, reason, done, due in connection.execute(query)
    ]


def next_effect_due(connection: Connection, after: datetime) -> datetime | None:
    """The earliest time after `after` at which a pending effect falls due (a send delayed by quiet hours or
    a rate limit, a retry after a failure): a virtual clock jumps there."""
    moment = connection.execute(
        select(func.min(journey_outbox.c.next_attempt_at)).where(
            journey_outbox.c.status == "pending", journey_outbox.c.next_attempt_at > after
        )
    ).scalar_one_or_none()
    return None if moment is None else as_utc(moment)


def next_wake_after(connection: Connection, after: datetime) -> datetime | None:
    """The earliest wake-at after `after` of any active run."""
    moment = connection.execute(
        select(func.min(journey_runs.c.wake_at)).where(
            journey_runs.c.status.in_(ACTIVE), journey_runs.c.wake_at > after
        )
    ).scalar_one_or_none()
    return None if moment is None else as_utc(moment)


def list_runs(
    connection: Connection,
    journey: str,
    *,
    node: str | None = None,
    status: str | None = None,
    after_id: str | None = None,
    limit: int = 100,
    customers: Table | None = None,
) -> list[Run]:
    """A page of a journey's runs in id order (`after_id`: the last id of the previous page), optionally only
    those at a node or with a status (`active` means any active status)."""
    query = select(journey_runs).where(
        journey_runs.c.journey == journey, within(journey_runs.c.customer_no, customers)
    )
    if node is not None:
        query = query.where(journey_runs.c.node == node)
    if status == "active":
        query = query.where(journey_runs.c.status.in_(ACTIVE))
    elif status is not None:
        query = query.where(journey_runs.c.status == status)
    if after_id is not None:
        query = query.where(journey_runs.c.id > after_id)
    query = query.order_by(journey_runs.c.id).limit(limit)
    return [run_of(row) for row in connection.execute(query).mappings()]


def ended_counts(
    connection: Connection, journey: str, customers: Table | None = None
) -> list[tuple[str | None, str, int]]:
    """Ended runs by (node they ended at, status): how many runs each node lost to goals, stops, failures
    (of `customers` only, if given)."""
    query = (
        select(journey_runs.c.node, journey_runs.c.status, func.count())
        .where(
            journey_runs.c.journey == journey,
            journey_runs.c.status.not_in(ACTIVE),
            within(journey_runs.c.customer_no, customers),
        )
        .group_by(journey_runs.c.node, journey_runs.c.status)
    )
    return [(node, status, int(n)) for node, status, n in connection.execute(query)]
