"""Persistence of MOT evaluations and firings, through the operational store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from touchpoint.store.operational.bulk import insert_ignoring_duplicates
from touchpoint.store.operational.schema import channel_sends, compute_runs, import_runs
from touchpoint.store.operational.schema_service import advisor_tasks, mot_evaluations, mot_firings

FIRINGS, EVALUATIONS = mot_firings, mot_evaluations
SERVED_SENDS = ("sent", "delivered", "opened", "clicked")


def evaluation(connection: Connection, rule: str, slot: str) -> dict[str, Any] | None:
    """The evaluation of a rule's slot, if it happened."""
    query = select(EVALUATIONS).where(EVALUATIONS.c.rule == rule, EVALUATIONS.c.slot == slot)
    row = connection.execute(query).first()
    return None if row is None else dict(row._mapping)


def save_evaluation(connection: Connection, row: dict[str, Any]) -> None:
    """Record (or update) the evaluation of a rule's slot."""
    where = (EVALUATIONS.c.rule == row["rule"]) & (EVALUATIONS.c.slot == row["slot"])
    values = {k: v for k, v in row.items() if k not in ("rule", "slot")}
    if not connection.execute(update(EVALUATIONS).where(where).values(**values)).rowcount:
        insert_ignoring_duplicates(connection, EVALUATIONS, row)


def data_watermark(connection: Connection) -> datetime | None:
    """When the data last changed: the newest finished import or computation."""
    imported = connection.execute(select(func.max(import_runs.c.finished_at))).scalar()
    computed = connection.execute(select(func.max(compute_runs.c.finished_at))).scalar()
    known = [t for t in (imported, computed) if t is not None]
    return max(known) if known else None


def insert_firing(connection: Connection, row: dict[str, Any]) -> bool:
    """Record a firing unless the rule fired for this customer and occurrence before; True when new."""
    return insert_ignoring_duplicates(connection, FIRINGS, row)


def set_task(connection: Connection, firing_id: str, task_id: str) -> None:
    """Link a firing to the task it made."""
    connection.execute(update(FIRINGS).where(FIRINGS.c.id == firing_id).values(task_id=task_id))


def firings(
    connection: Connection,
    *,
    rule: str | None = None,
    customer_no: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Firings matching the filters, newest first."""
    query = select(FIRINGS)
    if rule is not None:
        query = query.where(FIRINGS.c.rule == rule)
    if customer_no is not None:
        query = query.where(FIRINGS.c.customer_no == customer_no)
    if since is not None:
        query = query.where(FIRINGS.c.fired_at >= since)
    if until is not None:
        query = query.where(FIRINGS.c.fired_at < until)
    query = query.order_by(FIRINGS.c.fired_at.desc(), FIRINGS.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [dict(r._mapping) for r in connection.execute(query)]


def counts_since(connection: Connection, since: datetime) -> dict[str, int]:
    """Firings per rule since `since`."""
    query = select(FIRINGS.c.rule, func.count()).where(FIRINGS.c.fired_at >= since).group_by(FIRINGS.c.rule)
    return {str(rule): int(n) for rule, n in connection.execute(query)}


def task_completions(connection: Connection, task_ids: list[str]) -> dict[str, datetime]:
    """When each of these tasks was completed (open ones absent)."""
    done: dict[str, datetime] = {}
    for start in range(0, len(task_ids), 500):
        chunk = task_ids[start : start + 500]
        query = select(advisor_tasks.c.id, advisor_tasks.c.completed_at).where(
            advisor_tasks.c.id.in_(chunk), advisor_tasks.c.status == "done"
        )
        done.update({str(i): at for i, at in connection.execute(query) if at is not None})
    return done


def first_sends(
    connection: Connection, journeys: list[str], customers: list[str], since: datetime
) -> dict[str, list[datetime]]:
    """When messages of these journeys went to these customers since `since`, per customer (oldest first)."""
    found: dict[str, list[datetime]] = {}
    if not journeys:
        return found
    for start in range(0, len(customers), 500):
        chunk = customers[start : start + 500]
        query = (
            select(channel_sends.c.customer_no, channel_sends.c.created_at)
            .where(
                channel_sends.c.journey.in_(journeys),
                channel_sends.c.customer_no.in_(chunk),
                channel_sends.c.created_at >= since,
                channel_sends.c.status.in_(SERVED_SENDS),
            )
            .order_by(channel_sends.c.created_at)
        )
        for customer, at in connection.execute(query):
            found.setdefault(str(customer), []).append(at)
    return found
