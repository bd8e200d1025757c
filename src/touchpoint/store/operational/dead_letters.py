"""Dead letters: event-log records a consumer could not process, kept with the consumer, the offset, the error
and the record, so that the consumer moves past them instead of failing on them forever.

A letter is `open` when written; an operator asks for it to be tried again (`retrying`), and the consumer's
next pass does so: `resolved` when it went through, `open` again with the new error when it did not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from touchpoint.core.events import LogRecord
from touchpoint.store.operational.bulk import insert_ignoring_duplicates
from touchpoint.store.operational.schema import dead_letters

OPEN, RETRYING, RESOLVED = "open", "retrying", "resolved"
STATUSES = (OPEN, RETRYING, RESOLVED)
ERROR_CHARS = 2_000  # a driver's message can quote a whole statement; the head says what went wrong
EVENT_ID_CHARS = 255


@dataclass(frozen=True)
class DeadLetter:
    """One record a consumer could not process, and what became of it."""

    id: int
    consumer: str
    offset: int
    event_id: str | None
    received_at: datetime | None
    record: Any
    error: str
    status: str
    attempts: int
    created_at: datetime
    retried_at: datetime | None
    resolved_at: datetime | None

    def log_record(self) -> LogRecord:
        """The record as the consumer first read it, to process it again."""
        return LogRecord(
            offset=self.offset,
            event_id=self.event_id or "",
            received_at=self.received_at or self.created_at,
            payload=self.record,
        )


def describe_error(exc: BaseException) -> str:
    """The error as one line of storable text: the driver's own message rather than SQLAlchemy's (which
    quotes the statement and its parameters), control characters made visible, the length bounded."""
    cause = getattr(exc, "orig", None) or exc
    text = f"{type(cause).__name__}: {cause}".strip()
    return printable(text.splitlines()[0] if text else type(exc).__name__, ERROR_CHARS)


def printable(text: str, limit: int) -> str:
    """`text` with NUL and other control characters escaped (PostgreSQL text cannot hold NUL), cut to
    `limit` characters."""
    shown = "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text[: limit * 2])
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def add(connection: Connection, *, consumer: str, record: LogRecord, error: str, now: datetime) -> bool:
    """Keep a record `consumer` could not process (in the caller's transaction); False when it is already
    kept (a pass that died after writing it is repeated)."""
    row = {
        "consumer": consumer,
        "offset": record.offset,
        "event_id": printable(str(record.event_id), EVENT_ID_CHARS) if record.event_id else None,
        "received_at": record.received_at,
        "record": record.payload,
        "error": printable(error, ERROR_CHARS),
        "status": OPEN,
        "attempts": 1,
        "created_at": now,
    }
    return insert_ignoring_duplicates(connection, dead_letters, row)


def list_letters(
    connection: Connection,
    *,
    consumer: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[DeadLetter]:
    """Dead letters, newest first, optionally of one consumer or in one status."""
    query = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit).offset(offset)
    if consumer is not None:
        query = query.where(dead_letters.c.consumer == consumer)
    if status is not None:
        query = query.where(dead_letters.c.status == status)
    return [_letter(row) for row in connection.execute(query).mappings()]


def get_letter(connection: Connection, letter_id: int) -> DeadLetter | None:
    """One dead letter by id, or None."""
    row = connection.execute(select(dead_letters).where(dead_letters.c.id == letter_id)).mappings().first()
    return None if row is None else _letter(row)


def request_retry(connection: Connection, letter_id: int) -> DeadLetter | None:
    """Ask the letter's consumer to process it again on its next pass; None when there is no such letter.
    A resolved letter stays resolved."""
    connection.execute(
        update(dead_letters)
        .where(dead_letters.c.id == letter_id, dead_letters.c.status == OPEN)
        .values(status=RETRYING)
    )
    return get_letter(connection, letter_id)


def retries_requested(connection: Connection, consumer: str, limit: int = 100) -> list[DeadLetter]:
    """The consumer's letters an operator asked to be tried again, oldest first."""
    query = (
        select(dead_letters)
        .where(dead_letters.c.consumer == consumer, dead_letters.c.status == RETRYING)
        .order_by(dead_letters.c.id)
        .limit(limit)
    )
    return [_letter(row) for row in connection.execute(query).mappings()]


def consumers_retrying(connection: Connection) -> set[str]:
    """The consumers that have letters waiting for their retry."""
    query = select(dead_letters.c.consumer).where(dead_letters.c.status == RETRYING).distinct()
    return {str(name) for name in connection.execute(query).scalars()}


def mark_retried(connection: Connection, letter_id: int, *, error: str | None, now: datetime) -> bool:
    """Record a retry's outcome if the letter still waits for it: resolved when `error` is None, else open
    again with the new error. False when it no longer waits (another worker took it): written first in a
    transaction, it is that transaction's claim on the letter (PostgreSQL locks the row, SQLite the
    database), so two workers never apply one letter twice."""
    values: dict[str, Any] = {"retried_at": now, "attempts": dead_letters.c.attempts + 1}
    if error is None:
        values |= {"status": RESOLVED, "resolved_at": now}
    else:
        values |= {"status": OPEN, "error": printable(error, ERROR_CHARS)}
    changed = connection.execute(
        update(dead_letters)
        .where(dead_letters.c.id == letter_id, dead_letters.c.status == RETRYING)
        .values(**values)
    )
    return bool(changed.rowcount)


def counts(connection: Connection) -> dict[str, dict[str, int]]:
    """Letters per consumer and status, e.g. {"identity": {"open": 2, "resolved": 1}}."""
    query = select(dead_letters.c.consumer, dead_letters.c.status, func.count()).group_by(
        dead_letters.c.consumer, dead_letters.c.status
    )
    found: dict[str, dict[str, int]] = {}
    for consumer, status, count in connection.execute(query):
        found.setdefault(str(consumer), {})[str(status)] = int(count)
    return found


def unresolved(connection: Connection) -> int:
    """Letters not resolved yet (open or waiting for their retry)."""
    query = select(func.count()).select_from(dead_letters).where(dead_letters.c.status != RESOLVED)
    return int(connection.execute(query).scalar_one())


def _letter(row: Any) -> DeadLetter:
    return DeadLetter(
        id=int(row["id"]),
        consumer=row["consumer"],
        offset=int(row["offset"]),
        event_id=row["event_id"],
        received_at=row["received_at"],
        record=row["record"],
        error=row["error"],
        status=row["status"],
        attempts=int(row["attempts"]),
        created_at=row["created_at"],
        retried_at=row["retried_at"],
        resolved_at=row["resolved_at"],
    )
