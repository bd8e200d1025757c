"""Rows of approval requests and of the per-action approval switches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from touchpoint.store.operational.schema import approval_policies, approvals


def add(connection: Connection, values: dict[str, Any]) -> int:
    """Insert a request; returns its id."""
    key = connection.execute(insert(approvals).values(**values)).inserted_primary_key
    assert key is not None  # an autoincrement insert always names its row
    return int(key[0])


def by_id(connection: Connection, approval_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    """One request, or None (`for_update` locks the row on PostgreSQL while it is decided)."""
    query = select(approvals).where(approvals.c.id == approval_id)
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).mappings().first()
    return None if row is None else dict(row)


def search(
    connection: Connection, *, status: str | None, action: str | None, maker: str | None, limit: int
) -> list[dict[str, Any]]:
    """Requests matching every filter given, newest first."""
    query = select(approvals).order_by(approvals.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(approvals.c.status == status)
    if action is not None:
        query = query.where(approvals.c.action == action)
    if maker is not None:
        query = query.where(approvals.c.maker == maker)
    return [dict(r) for r in connection.execute(query).mappings()]


def pending_for(connection: Connection, action: str, target: str) -> list[dict[str, Any]]:
    """Open requests for one action on one target, oldest first."""
    query = (
        select(approvals)
        .where(approvals.c.action == action, approvals.c.target == target, approvals.c.status == "pending")
        .order_by(approvals.c.id)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def decide(connection: Connection, approval_id: int, *, expected: str, values: dict[str, Any]) -> bool:
    """Move a request out of the `expected` status; False when another decision came first."""
    result = connection.execute(
        update(approvals)
        .where(approvals.c.id == approval_id, approvals.c.status == expected)
        .values(**values)
    )
    return bool(result.rowcount == 1)


def policies(connection: Connection) -> dict[str, dict[str, Any]]:
    """Every switched action's row, by action."""
    return {r["action"]: dict(r) for r in connection.execute(select(approval_policies)).mappings()}


def set_policy(connection: Connection, values: dict[str, Any]) -> None:
    """Insert or replace one action's switch."""
    action = values["action"]
    changed = connection.execute(
        update(approval_policies).where(approval_policies.c.action == action).values(**values)
    )
    if changed.rowcount == 0:
        connection.execute(insert(approval_policies).values(**values))
