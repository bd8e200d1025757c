"""Uploaded lists and refresh runs in the operational store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from touchpoint.store.operational.schema import segment_list_members, segment_lists, segment_runs


def save_list(
    connection: Connection, list_id: str, name: str, numbers: Sequence[str], actor: str, now: datetime
) -> None:
    """Store an uploaded list of customer numbers."""
    connection.execute(
        insert(segment_lists).values(id=list_id, name=name, rows=len(numbers), actor=actor, created_at=now)
    )
    if numbers:
        connection.execute(
            insert(segment_list_members), [{"list_id": list_id, "customer_no": n} for n in numbers]
        )


def list_ids(connection: Connection) -> set[str]:
    """Every uploaded list's id."""
    return {row[0] for row in connection.execute(select(segment_lists.c.id))}


def lists(connection: Connection, limit: int) -> list[dict[str, Any]]:
    """The newest uploaded lists: id, name, rows, who uploaded it and when."""
    query = select(segment_lists).order_by(segment_lists.c.created_at.desc(), segment_lists.c.id).limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]


def list_members(connection: Connection, list_id: str) -> list[str]:
    """The customer numbers of one uploaded list."""
    query = select(segment_list_members.c.customer_no).where(segment_list_members.c.list_id == list_id)
    return [row[0] for row in connection.execute(query)]


def start_run(
    connection: Connection, run_id: str, segment: str, day: date, attempt: int, now: datetime
) -> None:
    """Record that a refresh began."""
    connection.execute(
        insert(segment_runs).values(
            id=run_id, segment=segment, business_date=day, status="running", attempt=attempt, started_at=now
        )
    )


def finish_run(connection: Connection, run_id: str, **values: Any) -> None:
    """Record how a refresh ended (status, size or error, retry time)."""
    connection.execute(update(segment_runs).where(segment_runs.c.id == run_id).values(**values))


def runs_of(connection: Connection, segment: str, limit: int = 30) -> list[dict[str, Any]]:
    """A segment's refresh runs, newest first."""
    query = (
        select(segment_runs)
        .where(segment_runs.c.segment == segment)
        .order_by(segment_runs.c.started_at.desc())
        .limit(limit)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def snapshot_dates(connection: Connection, segment: str) -> list[date]:
    """Business dates a refresh of the segment succeeded for (each left a member snapshot)."""
    query = (
        select(segment_runs.c.business_date)
        .where(segment_runs.c.segment == segment, segment_runs.c.status == "succeeded")
        .distinct()
        .order_by(segment_runs.c.business_date)
    )
    return [row[0] for row in connection.execute(query)]
