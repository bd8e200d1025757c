"""Quarantine rows and collector counters in the operational store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, update

from touchpoint.ingest.collector.model import Quarantined
from touchpoint.store.operational.schema import collector_counters, event_quarantine


def quarantine(connection: Connection, source: str, problems: Sequence[Quarantined], at: datetime) -> None:
    """Store each problem message with its reason."""
    if not problems:
        return
    rows = [
        {
            "received_at": at,
            "source": source,
            "reason": p.reason,
            "detail": p.detail,
            "payload": p.message
            if isinstance(p.message, str)
            else orjson.dumps(p.message, default=str).decode(),
        }
        for p in problems
    ]
    connection.execute(insert(event_quarantine), rows)


def bump(connection: Connection, counters: dict[str, int]) -> None:
    """Add to named counters, creating them at zero."""
    for name, delta in counters.items():
        updated = connection.execute(
            update(collector_counters)
            .where(collector_counters.c.name == name)
            .values(value=collector_counters.c.value + delta)
        )
        if not updated.rowcount:
            connection.execute(insert(collector_counters).values(name=name, value=delta))


def counters(connection: Connection) -> dict[str, int]:
    """Every counter by name."""
    return {r.name: int(r.value) for r in connection.execute(select(collector_counters))}


def quarantine_by_reason(connection: Connection) -> dict[str, int]:
    """How many quarantined messages there are for each reason."""
    query = select(event_quarantine.c.reason, func.count()).group_by(event_quarantine.c.reason)
    return {reason: int(n) for reason, n in connection.execute(query)}


def recent_quarantine(connection: Connection, limit: int = 20) -> list[dict[str, Any]]:
    """The newest quarantined messages."""
    query = select(event_quarantine).order_by(event_quarantine.c.id.desc()).limit(limit)
    return [dict(r) for r in connection.execute(query).mappings()]
