"""The default event log: a table in the operational store (SQLite WAL or PostgreSQL).

Dedupe keys are stored as the SHA-256 of the SDK's key, so that a key of any length fits the 320-character
column (a 400-character Segment `messageId` was refused by PostgreSQL, and its batch retried forever). Keys
stored before this change are the raw text: a lookup asks for both forms, so a resend across the upgrade is
still recognised; the raw ones age out with the dedupe window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from touchpoint.core.events import AppendResult, Bookkeeping, LogEntry, LogGroup, LogRecord
from touchpoint.store.operational.bulk import bind_processor, fetch_tuples, insert_bound, result_processor
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
        return self.append_groups([LogGroup(entries, received_at)])[0]

    def append_groups(
        self, groups: Sequence[LogGroup], *, bookkeeping: Bookkeeping | None = None
    ) -> list[AppendResult]:
        """Append every group in one transaction, with `bookkeeping`: one commit (one fsync) for all."""
        for attempt in range(_RETRIES):
            try:
                with self.ops.begin() as connection:
                    results = append_in(connection, groups)
                    if bookkeeping is not None:
                        bookkeeping(connection, results)
                return results
            except IntegrityError:
                # Another collector committed one of these keys meanwhile: retry, it is now a duplicate.
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def read_after(self, after: int, limit: int) -> list[LogRecord]:
        """Records after `after`, in offset order."""
        query = select(event_log).where(event_log.c.offset > after).order_by(event_log.c.offset).limit(limit)
        with self.ops.engine.connect() as connection:
            rows = fetch_tuples(connection, query)
            stamp = remembered(result_processor(connection, event_log.c.received_at))
            parse = result_processor(connection, event_log.c.payload)
        # Plain tuples, each arrival time converted once: SQLAlchemy's rows cost more than a consumer's work.
        return [
            LogRecord(
                offset=int(offset), event_id=event_id, received_at=stamp(received), payload=parse(payload)
            )
            for offset, event_id, received, payload in rows
        ]

    def head(self) -> int:
        """The newest offset."""
        with self.ops.engine.connect() as connection:
            return int(connection.execute(select(func.max(event_log.c.offset))).scalar_one() or 0)

    def trim(self, *, up_to: int, older_than: datetime) -> int:
        """Delete records every consumer has processed, once they are older than the retention; the newest
        record always stays, so that numbering goes on after it (SQLite gives a new row the largest rowid
        plus one: a log trimmed whole would number its next record 1, below every consumer's offset)."""
        with self.ops.begin() as connection:
            newest = connection.execute(select(func.max(event_log.c.offset))).scalar_one()
            if newest is None:
                return 0
            result = connection.execute(
                delete(event_log).where(
                    event_log.c.offset <= min(up_to, int(newest) - 1), event_log.c.received_at < older_than
                )
            )
        return int(result.rowcount or 0)

    def forget_dedupe_keys(self, *, older_than: datetime) -> int:
        """Drop keys older than the dedupe window."""
        with self.ops.begin() as connection:
            result = connection.execute(delete(event_dedupe).where(event_dedupe.c.seen_at < older_than))
        return int(result.rowcount or 0)


def append_in(connection: Connection, groups: Sequence[LogGroup]) -> list[AppendResult]:
    """Append the groups' new entries inside the caller's transaction, a result per group."""
    hashed = {
        e.dedupe_key: stored_dedupe_key(e.dedupe_key)
        for group in groups
        for e in group.entries
        if e.dedupe_key is not None
    }
    seen = _stored_keys(connection, hashed)
    fresh_by_group = [_fresh(group.entries, seen) for group in groups]
    pairs = list(zip(groups, fresh_by_group, strict=True))
    _insert_keys(connection, pairs, hashed)
    offsets = _insert_records(connection, pairs)
    results = []
    for group, fresh in pairs:
        mine, offsets = offsets[: len(fresh)], offsets[len(fresh) :]
        results.append(AppendResult(offsets=mine, duplicates=len(group.entries) - len(fresh)))
    return results


def _insert_keys(
    connection: Connection, pairs: list[tuple[LogGroup, list[LogEntry]]], hashed: dict[str, str]
) -> None:
    """Remember the dedupe keys of the entries appended, each stamped with its group's arrival."""
    stamp = bind_processor(connection, event_dedupe.c.seen_at)
    rows: list[dict[str, Any]] = []
    for group, fresh in pairs:
        seen_at = stamp(group.received_at)
        rows.extend(
            {"key": hashed[e.dedupe_key], "seen_at": seen_at} for e in fresh if e.dedupe_key is not None
        )
    insert_bound(connection, event_dedupe, rows)


def _insert_records(connection: Connection, pairs: list[tuple[LogGroup, list[LogEntry]]]) -> list[int]:
    """Insert the entries, returning their offsets in order.

    SQLite cannot order a batched INSERT … RETURNING by its parameters, so SQLAlchemy would send one statement
    per row (the collector's largest cost). There, one executemany suffices: a new rowid is one more than the
    largest, and this transaction holds the database's only write lock, so the offsets are the last
    `count` numbers up to the new largest (`trim` keeps the newest record, so the largest never goes back).
    PostgreSQL's sequence is shared with other writers: its batched RETURNING, sorted by parameter, says
    which are ours."""
    count = sum(len(fresh) for _, fresh in pairs)
    if count == 0:
        return []
    if connection.dialect.name == "sqlite":
        stamp = bind_processor(connection, event_log.c.received_at)
        text = bind_processor(connection, event_log.c.payload)
        rows: list[dict[str, Any]] = []
        for group, fresh in pairs:
            received_at = stamp(group.received_at)
            rows.extend(
                {"event_id": e.event_id, "received_at": received_at, "payload": text(e.payload)}
                for e in fresh
            )
        insert_bound(connection, event_log, rows)
        last = int(connection.execute(select(func.max(event_log.c.offset))).scalar_one())
        return list(range(last - count + 1, last + 1))
    records = [
        {"event_id": e.event_id, "received_at": group.received_at, "payload": e.payload}
        for group, fresh in pairs
        for e in fresh
    ]
    result = connection.execute(
        insert(event_log).returning(event_log.c.offset, sort_by_parameter_order=True), records
    )
    return [int(o) for o in result.scalars()]


def remembered(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert` remembering its answers: the records of one write share their arrival time."""
    seen: dict[Any, Any] = {}

    def converted(value: Any) -> Any:
        if value not in seen:
            seen[value] = convert(value)
        return seen[value]

    return converted


def _fresh(entries: Sequence[LogEntry], seen: set[str]) -> list[LogEntry]:
    """The entries whose key is not in `seen` (which learns each new key: a repeat is a duplicate)."""
    fresh: list[LogEntry] = []
    for entry in entries:
        if entry.dedupe_key is not None:
            if entry.dedupe_key in seen:
                continue
            seen.add(entry.dedupe_key)
        fresh.append(entry)
    return fresh


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
