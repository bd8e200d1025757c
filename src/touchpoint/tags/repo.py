"""Computation runs, model metrics and imported tag values in the operational store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from touchpoint.store.operational.schema import (
    compute_runs,
    definitions,
    import_runs,
    model_metrics,
    tag_imports,
)


def start_run(connection: Connection, run_id: str, day: date, now: datetime) -> None:
    """Record that a computation began."""
    connection.execute(
        insert(compute_runs).values(id=run_id, business_date=day, status="running", started_at=now)
    )


def finish_run(
    connection: Connection,
    run_id: str,
    *,
    status: str,
    now: datetime,
    stats: Any = None,
    error: str | None = None,
) -> None:
    """Record how a computation ended."""
    connection.execute(
        update(compute_runs)
        .where(compute_runs.c.id == run_id)
        .values(status=status, finished_at=now, stats=stats, error=error)
    )


def recent_runs(connection: Connection, limit: int = 10) -> list[dict[str, Any]]:
    """The newest computation runs first."""
    query = select(compute_runs).order_by(compute_runs.c.started_at.desc()).limit(limit)
    return [dict(r) for r in connection.execute(query).mappings()]


def last_run_of(connection: Connection, day: date, status: str | None = None) -> dict[str, Any] | None:
    """The newest computation run for a business date (of one status when given)."""
    query = select(compute_runs).where(compute_runs.c.business_date == day)
    if status is not None:
        query = query.where(compute_runs.c.status == status)
    row = connection.execute(query.order_by(compute_runs.c.started_at.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def last_input_change(connection: Connection) -> datetime | None:
    """When data was last imported or a definition last changed (what makes a computation stale)."""
    imported = connection.execute(
        select(func.max(import_runs.c.finished_at)).where(import_runs.c.status.like("imported%"))
    ).scalar()
    defined = connection.execute(select(func.max(definitions.c.created_at))).scalar()
    uploaded = connection.execute(select(func.max(tag_imports.c.uploaded_at))).scalar()
    changed = [t for t in (imported, defined, uploaded) if t is not None]
    return max(changed) if changed else None


def save_metrics(connection: Connection, tag: str, day: date, metrics: dict[str, Any], now: datetime) -> None:
    """Keep a model tag's training metrics."""
    connection.execute(
        insert(model_metrics).values(tag=tag, business_date=day, trained_at=now, metrics=metrics)
    )


def latest_metrics(connection: Connection, tag: str) -> dict[str, Any] | None:
    """The newest training metrics of a model tag."""
    row = (
        connection.execute(
            select(model_metrics)
            .where(model_metrics.c.tag == tag)
            .order_by(model_metrics.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else {**row["metrics"], "business_date": row["business_date"].isoformat()}


def replace_imported(
    connection: Connection, tag: str, rows: Sequence[tuple[str, str]], now: datetime
) -> None:
    """Replace the uploaded (customer_no, value) list of an imported tag."""
    connection.execute(delete(tag_imports).where(tag_imports.c.tag == tag))
    if rows:
        connection.execute(
            insert(tag_imports),
            [{"tag": tag, "customer_no": c, "value": v, "uploaded_at": now} for c, v in rows],
        )


def set_imported_value(connection: Connection, tag: str, customer_no: str, value: str, now: datetime) -> None:
    """Set one customer's value of an imported tag (replacing their earlier value)."""
    connection.execute(
        delete(tag_imports).where(tag_imports.c.tag == tag, tag_imports.c.customer_no == customer_no)
    )
    connection.execute(
        insert(tag_imports).values(tag=tag, customer_no=customer_no, value=value, uploaded_at=now)
    )


def imported_values(connection: Connection, tag: str) -> dict[str, str]:
    """customer_no → value of an imported tag."""
    query = select(tag_imports.c.customer_no, tag_imports.c.value).where(tag_imports.c.tag == tag)
    return {str(row[0]): str(row[1]) for row in connection.execute(query)}
