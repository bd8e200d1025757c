"""Quarantine rows and collector counters in the operational store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from touchpoint.ingest.collector.model import Quarantined
from touchpoint.store.operational.counters import add_counts
from touchpoint.store.operational.schema import collector_counters, event_quarantine

# A stored row says what it holds, so that a replay can tell a message (with what its request said) from a
# refused request; rows written before this format hold the bare message, or the request's text.
FORMAT = 1


@dataclass(frozen=True)
class Stored:
    """What one quarantine row holds: a message and its request's context, or a refused request's text."""

    message: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    request: str | None = None

    @property
    def replayable(self) -> bool:
        """True when the row holds one message that can be checked again."""
        return self.request is None


def quarantine(
    connection: Connection,
    source: str,
    problems: Sequence[Quarantined],
    at: datetime,
    context: dict[str, Any] | None = None,
) -> None:
    """Store each problem message with its reason and what its request said (project, key, send time)."""
    if not problems:
        return
    rows = [
        {
            "received_at": at,
            "source": source,
            "reason": p.reason,
            "detail": p.detail,
            "payload": _dumps({"format": FORMAT, "message": p.message, "context": context or {}}),
        }
        for p in problems
    ]
    connection.execute(insert(event_quarantine), rows)


def quarantine_request(
    connection: Connection, source: str, reason: str, detail: str, text: str, at: datetime
) -> None:
    """Store a request refused whole (its text), which holds no single message to replay."""
    payload = _dumps({"format": FORMAT, "request": text})
    row = {"received_at": at, "source": source, "reason": reason, "detail": detail, "payload": payload}
    connection.execute(insert(event_quarantine).values(**row))


def read_payload(text: str) -> Stored:
    """What a row's payload holds, in the current format or the earlier bare one."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return Stored(request=text)
    if isinstance(value, dict) and value.get("format") == FORMAT:
        if "request" in value:
            return Stored(request=str(value["request"]))
        context = value.get("context")
        return Stored(message=value.get("message"), context=context if isinstance(context, dict) else {})
    return Stored(message=value) if isinstance(value, dict) else Stored(request=text)


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def bump(connection: Connection, counters: dict[str, int]) -> None:
    """Add to named counters, creating them at zero (concurrent writers never collide)."""
    add_counts(connection, counters)


def counters(connection: Connection) -> dict[str, int]:
    """Every counter by name."""
    return {r.name: int(r.value) for r in connection.execute(select(collector_counters))}


def quarantine_by_reason(connection: Connection) -> dict[str, int]:
    """How many quarantined messages there are for each reason."""
    query = select(event_quarantine.c.reason, func.count()).group_by(event_quarantine.c.reason)
    return {reason: int(n) for reason, n in connection.execute(query)}


def recent_quarantine(
    connection: Connection, limit: int = 20, reason: str | None = None
) -> list[dict[str, Any]]:
    """The newest quarantined messages, optionally of one reason."""
    query = select(event_quarantine).order_by(event_quarantine.c.id.desc()).limit(limit)
    if reason is not None:
        query = query.where(event_quarantine.c.reason == reason)
    return [dict(r) for r in connection.execute(query).mappings()]


def count_quarantine(connection: Connection, reason: str | None = None) -> int:
    """How many messages are quarantined, optionally of one reason."""
    query = select(func.count()).select_from(event_quarantine)
    if reason is not None:
        query = query.where(event_quarantine.c.reason == reason)
    return int(connection.execute(query).scalar_one())


def quarantined_by_id(connection: Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The quarantined messages with these ids (those that exist), oldest first."""
    query = (
        select(event_quarantine).where(event_quarantine.c.id.in_(list(ids))).order_by(event_quarantine.c.id)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def quarantined_of_reason(
    connection: Connection, reason: str, after_id: int, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` quarantined messages of one reason with ids above `after_id`, oldest first."""
    query = (
        select(event_quarantine)
        .where(event_quarantine.c.reason == reason, event_quarantine.c.id > after_id)
        .order_by(event_quarantine.c.id)
        .limit(limit)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def release(connection: Connection, ids: Sequence[int]) -> set[int]:
    """Remove messages from the quarantine; returns the ids this call removed (a concurrent replay may have
    taken some already)."""
    if not ids:
        return set()
    query = (
        delete(event_quarantine).where(event_quarantine.c.id.in_(list(ids))).returning(event_quarantine.c.id)
    )
    return {int(i) for i in connection.execute(query).scalars()}


def requarantine(connection: Connection, row_id: int, reason: str, detail: str) -> bool:
    """Give a quarantined message the reason it fails now; False when it is no longer there."""
    query = (
        update(event_quarantine).where(event_quarantine.c.id == row_id).values(reason=reason, detail=detail)
    )
    return bool(connection.execute(query).rowcount)
