"""Small named values the deployment remembers (e.g. which demo it generated)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from touchpoint.store.operational.schema import meta_values


def get_value(connection: Connection, key: str) -> Any:
    """The value stored under `key`, or None."""
    return connection.execute(
        select(meta_values.c.value).where(meta_values.c.key == key)
    ).scalar_one_or_none()


def set_value(connection: Connection, key: str, value: Any, *, now: datetime) -> None:
    """Store `value` under `key`, replacing any earlier value."""
    connection.execute(delete(meta_values).where(meta_values.c.key == key))
    connection.execute(insert(meta_values).values(key=key, value=value, updated_at=now))


def delete_value(connection: Connection, key: str) -> None:
    """Forget the value stored under `key`."""
    connection.execute(delete(meta_values).where(meta_values.c.key == key))
