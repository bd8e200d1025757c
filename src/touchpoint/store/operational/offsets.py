"""Consumer offsets of the event log, kept in the operational store whatever the log's backend.

A consumer whose effects also live in the operational store moves its offset in the same transaction, so
each event takes effect exactly once; others (the compactor) make their effects idempotent instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from touchpoint.store.operational.schema import consumer_offsets


def get_offset(connection: Connection, consumer: str) -> int:
    """The consumer's committed offset (0 before its first commit)."""
    value = connection.execute(
        select(consumer_offsets.c.offset).where(consumer_offsets.c.consumer == consumer)
    ).scalar_one_or_none()
    return int(value or 0)


def lock_offset(connection: Connection, consumer: str, now: datetime) -> int:
    """The consumer's offset, its row locked until the transaction ends, so two workers never process the
    same records (PostgreSQL; SQLite's single writer refuses the second one at its first write)."""
    value = _locked(connection, consumer, now, skip_locked=False)
    assert value is not None  # waited for the lock
    return value


def claim_offset(connection: Connection, consumer: str, now: datetime) -> int | None:
    """As `lock_offset`, but None at once when another worker holds the row (PostgreSQL's SKIP LOCKED):
    workers sharing a consumer's partitions each take the ones free."""
    return _locked(connection, consumer, now, skip_locked=True)


def claim_existing_offset(connection: Connection, consumer: str) -> int | None:
    """As `claim_offset` for a consumer whose row is made by someone else (journey routing makes a layout's
    rows when it begins): None when the row is missing — the consumer was replaced — or another worker holds
    it, never a new row."""
    return _select_locked(connection, consumer, skip_locked=True)


def _locked(connection: Connection, consumer: str, now: datetime, *, skip_locked: bool) -> int | None:
    """The consumer's offset with its row locked (created first if missing); None when skipped."""
    if get_offset(connection, consumer) == 0:
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(consumer_offsets).values(consumer=consumer, offset=0, updated_at=now)
                )
        except IntegrityError:
            pass  # another worker created it first
    return _select_locked(connection, consumer, skip_locked=skip_locked)


def _select_locked(connection: Connection, consumer: str, *, skip_locked: bool) -> int | None:
    value = connection.execute(
        select(consumer_offsets.c.offset)
        .where(consumer_offsets.c.consumer == consumer)
        .with_for_update(skip_locked=skip_locked)
    ).scalar_one_or_none()
    return None if value is None else int(value)


def set_offset(connection: Connection, consumer: str, value: int, now: datetime) -> None:
    """Move the consumer's offset forward (never back) inside the caller's transaction."""
    current = connection.execute(
        select(consumer_offsets.c.offset).where(consumer_offsets.c.consumer == consumer)
    ).scalar_one_or_none()
    if current is None:
        connection.execute(insert(consumer_offsets).values(consumer=consumer, offset=value, updated_at=now))
    elif value > current:
        connection.execute(
            update(consumer_offsets)
            .where(consumer_offsets.c.consumer == consumer)
            .values(offset=value, updated_at=now)
        )


def all_offsets(connection: Connection) -> dict[str, int]:
    """Every consumer's offset."""
    return {r.consumer: int(r.offset) for r in connection.execute(select(consumer_offsets))}


def offsets_of(connection: Connection, consumers: Sequence[str], *, lock: bool = False) -> dict[str, int]:
    """The offsets of these consumers that have one (their rows locked with `lock`)."""
    query = select(consumer_offsets.c.consumer, consumer_offsets.c.offset).where(
        consumer_offsets.c.consumer.in_(list(consumers))
    )
    rows = connection.execute(query.with_for_update() if lock else query)
    return {r.consumer: int(r.offset) for r in rows}


def replace_consumers(
    connection: Connection, old: Sequence[str], new: Sequence[str], offset: int, now: datetime
) -> None:
    """Put `new` consumers at `offset` in place of the `old` ones (the caller holds the old rows' locks)."""
    connection.execute(delete(consumer_offsets).where(consumer_offsets.c.consumer.in_(list(old))))
    connection.execute(
        insert(consumer_offsets), [{"consumer": n, "offset": offset, "updated_at": now} for n in new]
    )
