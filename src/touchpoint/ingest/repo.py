"""Persistence of import runs in the operational store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from touchpoint.store.operational.schema import import_runs

COMPLETED = ("imported", "imported_with_rejects")


def start_run(
    connection: Connection,
    *,
    run_id: str,
    table: str,
    source_name: str,
    sha256: str,
    business_date: date | None,
    options: dict[str, Any],
    actor: str,
    started_at: datetime,
) -> None:
    """Record that an import has begun."""
    connection.execute(
        insert(import_runs).values(
            id=run_id,
            table_name=table,
            source_name=source_name,
            source_sha256=sha256,
            business_date=business_date,
            options=options,
            status="running",
            rows_read=0,
            rows_imported=0,
            rows_rejected=0,
            actor=actor,
            started_at=started_at,
        )
    )


def finish_run(
    connection: Connection, *, run_id: str, status: str, report: dict[str, Any], finished_at: datetime
) -> None:
    """Record how an import ended, with its report."""
    connection.execute(
        update(import_runs)
        .where(import_runs.c.id == run_id)
        .values(
            status=status,
            rows_read=report.get("rows_read", 0),
            rows_imported=report.get("rows_imported", 0),
            rows_rejected=report.get("rows_rejected", 0),
            report=report,
            reject_file=report.get("reject_file"),
            finished_at=finished_at,
        )
    )


def completed_runs_of_file(
    connection: Connection, *, table: str, sha256: str, business_date: date | None, options: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every completed run of the same file into the same table with the same options, newest first."""
    rows = connection.execute(
        select(import_runs)
        .where(
            import_runs.c.table_name == table,
            import_runs.c.source_sha256 == sha256,
            import_runs.c.status.in_(COMPLETED),
        )
        .order_by(import_runs.c.started_at.desc())
    ).mappings()
    return [dict(row) for row in rows if row["business_date"] == business_date and row["options"] == options]


def runs_by_id(connection: Connection, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The import runs with the given ids (those that exist), by id."""
    wanted = sorted(set(run_ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):  # bounded IN lists
        query = select(import_runs).where(import_runs.c.id.in_(wanted[start : start + 500]))
        found.update({row["id"]: dict(row) for row in connection.execute(query).mappings()})
    return found


def recent_runs(connection: Connection, *, limit: int = 20) -> list[dict[str, Any]]:
    """The newest import runs first."""
    query = select(import_runs).order_by(import_runs.c.started_at.desc()).limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]


def latest_per_table(connection: Connection) -> list[dict[str, Any]]:
    """The newest import run of each table, by table name."""
    newest = (
        select(import_runs.c.table_name, func.max(import_runs.c.started_at).label("at"))
        .group_by(import_runs.c.table_name)
        .subquery()
    )
    query = (
        select(import_runs)
        .join(
            newest,
            (import_runs.c.table_name == newest.c.table_name) & (import_runs.c.started_at == newest.c.at),
        )
        .order_by(import_runs.c.table_name, import_runs.c.id)
    )
    runs: dict[str, dict[str, Any]] = {}
    for row in connection.execute(query).mappings():
        runs.setdefault(
            row["table_name"], dict(row)
        )  # two runs started at the same instant: either is newest
    return list(runs.values())


def supersede_completed(connection: Connection) -> int:
    """Mark every completed run superseded (their data was cleared); returns how many."""
    result = connection.execute(
        update(import_runs).where(import_runs.c.status.in_(COMPLETED)).values(status="superseded")
    )
    return int(result.rowcount or 0)
