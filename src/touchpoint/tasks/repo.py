"""Persistence of advisor tasks, through the operational store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from touchpoint.store.operational.bulk import insert_ignoring_duplicates
from touchpoint.store.operational.schema_service import advisor_tasks as TASKS


def insert(connection: Connection, row: dict[str, Any]) -> bool:
    """Insert a task unless one with its source key exists; True when this call inserted it."""
    return insert_ignoring_duplicates(connection, TASKS, row)


def id_for(connection: Connection, source_key: str) -> str | None:
    """The task made from a source key, if any."""
    found = connection.execute(select(TASKS.c.id).where(TASKS.c.source_key == source_key)).scalar()
    return None if found is None else str(found)


def get(connection: Connection, task_id: str) -> dict[str, Any] | None:
    """One task's row."""
    row = connection.execute(select(TASKS).where(TASKS.c.id == task_id)).first()
    return None if row is None else dict(row._mapping)


def listing(
    connection: Connection,
    *,
    status: str | None,
    rule: str | None = None,
    journey: str | None = None,
    customer_no: str | None = None,
    advisor_id: str | None = None,
    overdue_at: datetime | None = None,
    escalated: bool | None = None,
) -> list[dict[str, Any]]:
    """Tasks matching the filters, due soonest first (scoping to the caller's customers is the service's)."""
    query = select(TASKS)
    for column, value in (
        (TASKS.c.status, status),
        (TASKS.c.rule, rule),
        (TASKS.c.journey, journey),
        (TASKS.c.customer_no, customer_no),
        (TASKS.c.advisor_id, advisor_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if overdue_at is not None:
        query = query.where(and_(TASKS.c.status == "open", TASKS.c.due_at <= overdue_at))
    if escalated is not None:
        query = query.where(
            TASKS.c.escalated_at.is_not(None) if escalated else TASKS.c.escalated_at.is_(None)
        )
    query = query.order_by(TASKS.c.due_at, TASKS.c.id)
    return [dict(r._mapping) for r in connection.execute(query)]


def open_by_customer(connection: Connection) -> dict[str, int]:
    """Open tasks per customer number."""
    query = (
        select(TASKS.c.customer_no, func.count())
        .where(TASKS.c.status == "open")
        .group_by(TASKS.c.customer_no)
    )
    return {str(customer_no): int(n) for customer_no, n in connection.execute(query)}


def set_values(
    connection: Connection, task_id: str, values: dict[str, Any], *, status: str | None = None
) -> bool:
    """Change a task (only while it has `status`, when given); True when a row changed."""
    statement = update(TASKS).where(TASKS.c.id == task_id)
    if status is not None:
        statement = statement.where(TASKS.c.status == status)
    return bool(connection.execute(statement.values(**values)).rowcount)


def due_for_escalation(
    connection: Connection, now: datetime, unclaimed_since: datetime
) -> list[dict[str, Any]]:
    """Open tasks not escalated yet that are overdue, or waiting in a branch queue unclaimed too long."""
    unclaimed = and_(
        TASKS.c.advisor_id.is_(None), TASKS.c.claimed_by.is_(None), TASKS.c.created_at <= unclaimed_since
    )
    query = select(TASKS).where(
        TASKS.c.status == "open", TASKS.c.escalated_at.is_(None), or_(TASKS.c.due_at <= now, unclaimed)
    )
    return [dict(r._mapping) for r in connection.execute(query.order_by(TASKS.c.due_at))]


def created_between(connection: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Tasks created in [start, end) (the KPIs' population)."""
    query = select(TASKS).where(TASKS.c.created_at >= start, TASKS.c.created_at < end)
    return [dict(r._mapping) for r in connection.execute(query.order_by(TASKS.c.created_at))]


def counts_by_rule(connection: Connection, since: datetime) -> dict[str, int]:
    """Tasks per MOT rule created since `since`."""
    query = (
        select(TASKS.c.rule, func.count())
        .where(TASKS.c.rule.is_not(None), TASKS.c.created_at >= since)
        .group_by(TASKS.c.rule)
    )
    return {str(rule): int(n) for rule, n in connection.execute(query)}
