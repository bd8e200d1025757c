"""Consumer offsets of the event log, kept in the operational store whatever the log's backend.

A consumer whose effects also live in the operational store moves its offset in the same transaction, so
each event takes effect exactly once; others (the compactor) make their effects idempotent instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update
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
    if get_offset(connection, consumer) == 0:
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(consumer_offsets).values(consumer=consumer, offset=0, updated_at=now)
                )
        except IntegrityError:
            pass  # another worker created it first
    value = connection.execute(
        select(consumer_offsets.c.offset).where(consumer_offsets.c.consumer == consumer).with_for_update()
    ).scalar_one()
    return int(value)


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
