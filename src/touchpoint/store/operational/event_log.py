"""The default event log: a table in the operational store (SQLite WAL or PostgreSQL).

Dedupe keys are stored as the SHA-256 of the SDK's key, so that a key of any length fits the 320-character
column (a 400-character Segment `messageId` was refused by PostgreSQL, and its batch retried forever). Keys
stored before this change are the raw text: a lookup asks for both forms, so a resend across the upgrade is
still recognised; the raw ones age out with the dedupe window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from touchpoint.core.events import AppendResult, LogEntry, LogRecord
from touchpoint.store.operational.db import OperationalStore
from touchpoint.store.operational.schema import event_dedupe, event_log

_RETRIES = 3
# Keys stored before hashing fit the column; longer ones were never stored, so are never looked up raw.
_LEGACY_KEY_LENGTH = 320


def stored_dedupe_key(key: str) -> str:
    """What the log stores for an SDK's dedupe key: its SHA-256, 64 hex characters whatever its length."""
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()


class SqlEventLog:
    """Append commits the dedupe keys and the events in one transaction, so an ack means durable."""

    def __init__(self, ops: OperationalStore) -> None:
        self.ops = ops

    def append(self, entries: Sequence[LogEntry], *, received_at: datetime) -> AppendResult:
        """Append entries whose dedupe key is new; duplicates within the batch count once."""
        for attempt in range(_RETRIES):
            try:
                return self._append_once(entries, received_at)
            except IntegrityError:
                # Another collector committed one of these keys meanwhile: retry, it is now a duplicate.
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _append_once(self, entries: Sequence[LogEntry], received_at: datetime) -> AppendResult:
        hashed = {e.dedupe_key: stored_dedupe_key(e.dedupe_key) for e in entries if e.dedupe_key is not None}
        with self.ops.begin() as connection:
            seen = _stored_keys(connection, hashed)
            fresh: list[LogEntry] = []
            for entry in entries:
                if entry.dedupe_key is not None:
                    if entry.dedupe_key in seen:
                        continue
                    seen.add(entry.dedupe_key)
                fresh.append(entry)
            new_keys = [
                {"key": hashed[e.dedupe_key], "seen_at": received_at}
                for e in fresh
                if e.dedupe_key is not None
            ]
            if new_keys:
                connection.execute(insert(event_dedupe), new_keys)
            offsets: list[int] = []
            if fresh:
                rows = [
                    {"event_id": e.event_id, "received_at": received_at, "payload": e.payload} for e in fresh
                ]
                result = connection.execute(
                    insert(event_log).returning(event_log.c.offset, sort_by_parameter_order=True), rows
                )
                offsets = [int(o) for o in result.scalars()]
        return AppendResult(offsets=offsets, duplicates=len(entries) - len(fresh))

    def read_after(self, after: int, limit: int) -> list[LogRecord]:
        """Records after `after`, in offset order."""
        query = select(event_log).where(event_log.c.offset > after).order_by(event_log.c.offset).limit(limit)
        with self.ops.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            LogRecord(
                offset=r["offset"], event_id=r["event_id"], received_at=r["received_at"], payload=r["payload"]
            )
            for r in rows
        ]

    def head(self) -> int:
        """The newest offset."""
        with self.ops.engine.connect() as connection:
            return int(connection.execute(select(func.max(event_log.c.offset))).scalar_one() or 0)

    def trim(self, *, up_to: int, older_than: datetime) -> int:
        """Delete records every consumer has processed, once they are older than the retention."""
        with self.ops.begin() as connection:
            result = connection.execute(
                delete(event_log).where(event_log.c.offset <= up_to, event_log.c.received_at < older_than)
            )
        return int(result.rowcount or 0)

    def forget_dedupe_keys(self, *, older_than: datetime) -> int:
        """Drop keys older than the dedupe window."""
        with self.ops.begin() as connection:
            result = connection.execute(delete(event_dedupe).where(event_dedupe.c.seen_at < older_than))
        return int(result.rowcount or 0)


def _stored_keys(connection: Connection, hashed: dict[str, str]) -> set[str]:
    """The SDK keys (of `hashed`: SDK key → stored form) the log already holds, hashed or from before."""
    by_stored = {stored: key for key, stored in hashed.items()}
    for key in hashed:
        if _could_be_legacy(key) and key not in by_stored:
            by_stored[key] = key
    seen: set[str] = set()
    for chunk in _chunks(sorted(by_stored), 500):
        found = connection.execute(select(event_dedupe.c.key).where(event_dedupe.c.key.in_(chunk)))
        seen.update(by_stored[stored] for stored in found.scalars())
    return seen


def _could_be_legacy(key: str) -> bool:
    """True for a key that may have been stored raw before keys were hashed: it fitted the column, and
    PostgreSQL took it (no NUL, valid UTF-8)."""
    if len(key) > _LEGACY_KEY_LENGTH or "\x00" in key:
        return False
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
