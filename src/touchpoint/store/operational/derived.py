"""The outbox of events the system derives (`mot_*`, `advisor_task_completed`): written in the transaction
that decided them, forwarded to the event log afterwards and marked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from touchpoint.store.operational.bulk import insert_ignoring_duplicates
from touchpoint.store.operational.schema_service import derived_events


def add(connection: Connection, key: str, payload: dict[str, Any], now: datetime) -> bool:
    """Record one derived event under its unique key (a second call with the key adds nothing)."""
    row = {"event_key": key, "payload": payload, "created_at": now, "forwarded": False}
    return insert_ignoring_duplicates(connection, derived_events, row)


def unforwarded(connection: Connection, limit: int) -> list[dict[str, Any]]:
    """The oldest events not yet in the log."""
    table = derived_events
    query = select(table.c.id, table.c.event_key, table.c.payload).where(~table.c.forwarded)
    return [dict(r._mapping) for r in connection.execute(query.order_by(table.c.id).limit(limit))]


def mark_forwarded(connection: Connection, ids: list[int]) -> None:
    """Mark events as appended to the log."""
    if ids:
        connection.execute(update(derived_events).where(derived_events.c.id.in_(ids)).values(forwarded=True))
