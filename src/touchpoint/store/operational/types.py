"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, Dialect, Text
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store as naive UTC so SQLite and PostgreSQL hold the same wall value."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps stored in the operational store must be aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Mark what comes back as UTC."""
        return None if value is None else value.replace(tzinfo=UTC)


class JSONText(TypeDecorator[Any]):
    """JSON kept as text (orjson), portable across dialects and readable in a SQL shell."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Serialise with orjson."""
        return None if value is None else orjson.dumps(value).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """Parse with orjson."""
        return None if value is None else orjson.loads(value)
