"""The event log as the collector and its consumers see it; adapters live under store/."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from touchpoint.core.events import AppendResult, Bookkeeping, LogEntry, LogGroup, LogRecord, RoutedEvent

__all__ = [
    "AppendResult",
    "Bookkeeping",
    "EventLog",
    "LogEntry",
    "LogGroup",
    "LogRecord",
    "RoutedEvent",
    "RoutedLog",
]


class EventLog(Protocol):
    """A durable, ordered, deduplicating log; consumers keep their offsets in the operational store."""

    def append(self, entries: Sequence[LogEntry], *, received_at: datetime) -> AppendResult:
        """Append new entries durably (all or none) and return once they would survive a crash."""
        ...

    def append_groups(
        self, groups: Sequence[LogGroup], *, bookkeeping: Bookkeeping | None = None
    ) -> list[AppendResult]:
        """Append several requests' entries in one durable write (group commit), all or none, a result per
        group; a key repeated in a later group is that group's duplicate. `bookkeeping` is written in the
        same transaction as the events when the log is in the operational store, right after otherwise."""
        ...

    def read_after(self, offset: int, limit: int) -> list[LogRecord]:
        """Up to `limit` records after `offset`, in order (for consumers that keep their own offsets)."""
        ...

    def head(self) -> int:
        """The offset of the newest record (0 when empty)."""
        ...

    def forget_dedupe_keys(self, *, older_than: datetime) -> int:
        """Drop dedupe keys seen before `older_than` (the end of the dedupe window); returns how many."""
        ...

    def trim(self, *, up_to: int, older_than: datetime) -> int:
        """Delete records at or below offset `up_to` received before `older_than`; returns how many."""
        ...


class RoutedLog(Protocol):
    """The routed stream (ADR 0005): linked events by customer subject, read by routing partition.
    Offsets are its own sequence numbers, shared by all partitions (a partition's records are sparse)."""

    def publish(self, events: Sequence[RoutedEvent]) -> list[tuple[RoutedEvent, str]]:
        """Store the events in order, each on its customer's subject; one already stored under the same
        source offset (within the duplicate window) is not stored again. Returns the events refused as
        they are (too large to store), each with why; a failure of the stream is a ConnectionError."""
        ...

    def read(self, after: int, limit: int, *, index: int, count: int) -> list[LogRecord]:
        """Up to `limit` records of partition `index` of `count` after `after`, in order."""
        ...

    def next_offset(self, after: int, *, index: int, count: int) -> int | None:
        """The offset of the partition's first record after `after` (None: it has none)."""
        ...

    def head(self) -> int:
        """The offset of the newest record (0 when none was ever stored)."""
        ...

    def last_source(self) -> int | None:
        """The event-log offset of the newest record (0 when it never held one: trimming keeps it; None
        when there is no stream)."""
        ...

    def sources_after(self, source: int) -> set[int] | None:
        """The source offsets above `source` held at the stream's end (None: too many to read back)."""
        ...

    def trim(self, *, up_to: int) -> int:
        """Delete the records at or below `up_to`; returns how many."""
        ...
