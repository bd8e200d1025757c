"""Value objects of the event log, shared by the log's port (ingest) and its adapters (store)."""

from __future__ import annotations

import zlib
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


ROUTED_SUBJECTS = 64
"""The routed stream's subjects (ADR 0005): a customer's events go to subject `crc32(customer) mod 64`, so a
routing partition i of N (N a power of two up to 64) reads the subjects whose number is i modulo N."""


def routed_subject_of(customer_no: str) -> int:
    """The routed subject of a customer's events: fixed in every process and release (crc32, not Python's
    salted hash), and congruent to its routing partition (`crc32 mod N` for every N dividing 64)."""
    return zlib.crc32(customer_no.encode("utf-8")) % ROUTED_SUBJECTS


@dataclass(frozen=True)
class RoutedEvent:
    """An event of the log with the customer One ID linked it to, as it is republished to the routed
    stream; `source` is its offset in the event log."""

    source: int
    customer_no: str
    event_id: str
    received_at: datetime
    payload: dict[str, Any]

    def body(self) -> dict[str, Any]:
        """The routed record's payload: the event with its customer and source offset beside it (a dead
        letter of a routing partition keeps all three)."""
        return {"customer_no": self.customer_no, "source": self.source, "event": self.payload}


def routed_parts(record: LogRecord) -> tuple[dict[str, Any], str, int]:
    """The event, its customer and its source offset from a record of the routed stream."""
    body = record.payload
    return body["event"], str(body["customer_no"]), int(body["source"])
