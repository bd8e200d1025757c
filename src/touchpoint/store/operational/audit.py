"""The audit log's rows: appended as a hash chain, read back in order for verification and search."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from touchpoint.store.operational.schema import audit_head, audit_log

GENESIS = "0" * 64
"""The previous hash of the first entry."""

HEAD_ID = 1
CHAINED_FIELDS = ("seq", "at", "actor", "source", "action", "target_type", "target_id", "before", "after")


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the entry's chained fields, in a canonical JSON form.

    The instant is hashed as stored (microseconds, UTC) so that a round trip through either database gives the
    same bytes."""
    fields = {name: entry.get(name) for name in CHAINED_FIELDS}
    at = fields["at"]
    if isinstance(at, datetime):
        fields["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
    payload = orjson.dumps([prev_hash, fields], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(payload).hexdigest()


def append(connection: Connection, entry: dict[str, Any]) -> int:
    """Add one entry at the end of the chain inside the caller's transaction; returns its position."""
    seq, prev_hash = _claim_next(connection)
    row = {**entry, "seq": seq, "prev_hash": prev_hash}
    row["hash"] = entry_hash(prev_hash, row)
    connection.execute(insert(audit_log).values(**row))
    connection.execute(update(audit_head).where(audit_head.c.id == HEAD_ID).values(hash=row["hash"]))
    return seq


def _claim_next(connection: Connection) -> tuple[int, str]:
    """Move the head one position on (locking its row until commit) and return the new position and the hash
    it follows."""
    moved = connection.execute(
        update(audit_head).where(audit_head.c.id == HEAD_ID).values(seq=audit_head.c.seq + 1)
    )
    if moved.rowcount == 0:
        connection.execute(insert(audit_head).values(id=HEAD_ID, seq=1, hash=GENESIS))
    head = connection.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)
    ).one()
    return int(head.seq), str(head.hash)


def head(connection: Connection) -> tuple[int, str]:
    """The newest entry's position and hash as the head row records them ((0, GENESIS) when empty)."""
    row = connection.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)
    ).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


def walk(connection: Connection, *, batch: int = 5_000) -> Iterator[dict[str, Any]]:
    """Every entry in the order it was written (by id), a batch at a time."""
    last_id = 0
    while True:
        query = select(audit_log).where(audit_log.c.id > last_id).order_by(audit_log.c.id).limit(batch)
        rows = [dict(row) for row in connection.execute(query).mappings()]
        if not rows:
            return
        yield from rows
        last_id = rows[-1]["id"]


def search(
    connection: Connection,
    *,
    actor: str | None = None,
    kind: str | None = None,
    target: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_seq: int | None = None,
) -> list[dict[str, Any]]:
    """Entries matching every filter given, newest first; `before_seq` pages back from a position."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    conditions = {
        audit_log.c.actor: actor,
        audit_log.c.target_type: kind,
        audit_log.c.target_id: target,
        audit_log.c.action: action,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    if before_seq is not None:
        query = query.where(audit_log.c.seq < before_seq)
    return [dict(row) for row in connection.execute(query).mappings()]


def chain_existing(connection: Connection) -> None:
    """Give every entry written before the chain existed its position and hashes, in id order (a
    migration)."""
    prev_hash, seq = GENESIS, 0
    for row in list(walk(connection)):
        seq += 1
        row = {**row, "seq": seq}
        digest = entry_hash(prev_hash, row)
        connection.execute(
            update(audit_log)
            .where(audit_log.c.id == row["id"])
            .values(seq=seq, prev_hash=prev_hash, hash=digest)
        )
        prev_hash = digest
    connection.execute(insert(audit_head).values(id=HEAD_ID, seq=seq, hash=prev_hash))
