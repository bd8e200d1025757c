"""Value objects of the event log, shared by the log's port (ingest) and its adapters (store)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection


@dataclass(frozen=True)
class LogEntry:
    """One event to append: its dedupe key (None = never a duplicate), its id and its normalised body."""

    dedupe_key: str | None
    event_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class LogGroup:
    """The entries of one request, appended together with other requests' in one durable write."""

    entries: Sequence[LogEntry]
    received_at: datetime


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


# What a writer records beside the events it appends (the collector's counters and quarantined messages),
# given each group's result: in the same transaction when the log lives in the operational store.
Bookkeeping = Callable[["Connection", Sequence[AppendResult]], None]
