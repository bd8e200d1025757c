"""Value objects of the event log, shared by the log's port (ingest) and its adapters (store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class LogEntry:
    """One event to append: its dedupe key (None = never a duplicate), its id and its normalised body."""

    dedupe_key: str | None
    event_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class LogRecord:
    """One appended event, at its offset."""

    offset: int
    event_id: str
    received_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class AppendResult:
    """Offsets of the events appended, and how many were dropped as duplicates."""

    offsets: list[int]
    duplicates: int
