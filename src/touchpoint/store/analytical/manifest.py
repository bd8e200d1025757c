"""A table's manifest: the current file of every partition, and the earlier versions still kept.

Every commit is a table version (1, 2, …). Each partition version records the commit that wrote it, who
wrote it (`origin`, e.g. an import run id) and when. When a commit replaces a partition of a table that keeps
history, the replaced version stays in that partition's history — if a named writer produced it — until the
retention has passed, so that the partition can be read as of any kept commit. Unnamed writers (the event
compactor rewrites today's events every few seconds) leave no history, or history would grow without bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from touchpoint.store.analytical.merge import KeyBound

MANIFEST = "_manifest.json"


@dataclass(frozen=True)
class PartitionInfo:
    """One version of one partition as the manifest records it."""

    dt: date
    rows: int
    file: str
    bytes: int
    version: int = 0
    """The table version (commit) that wrote this file; 0 for files written before versions were recorded."""
    first_version: int = 0
    """The table version that first created this partition (it did not exist before)."""
    origin: str | None = None
    """Who wrote this version, as the writer named itself (an import run id); None when unnamed."""
    committed_at: datetime | None = None
    superseded_by: int | None = None
    """The table version that replaced this one; None while it is current."""
    superseded_at: datetime | None = None
    key_min: KeyBound | None = None
    key_max: KeyBound | None = None
    """The range of the first key column, so that a writer can skip partitions that cannot hold a key."""

    def valid_at(self, version: int) -> bool:
        """True when this was the partition's content at table version `version`."""
        return self.version <= version and (self.superseded_by is None or version < self.superseded_by)


@dataclass(frozen=True)
class Manifest:
    """The committed state of one table: current partitions and, per partition, the kept earlier versions."""

    version: int
    partitions: dict[date, PartitionInfo]
    history: dict[date, tuple[PartitionInfo, ...]] = field(default_factory=dict)

    def versions_of(self, dt: date) -> list[PartitionInfo]:
        """Every kept version of a partition, oldest first, the current one last."""
        current = self.partitions.get(dt)
        return [*self.history.get(dt, ()), *([current] if current else [])]

    def as_of(self, dt: date, version: int) -> PartitionInfo | None:
        """The version of partition `dt` at table version `version`; None when the partition did not exist.

        LookupError when that version was not kept (its retention passed, or an unnamed writer produced it).
        """
        current = self.partitions.get(dt)
        if current is None or version < current.first_version:
            return None
        found = next((p for p in self.versions_of(dt) if p.valid_at(version)), None)
        if found is None:
            raise LookupError(f"partition {dt} as of table version {version} is no longer kept")
        return found

    def named_files(self) -> set[str]:
        """Every file the manifest names, current or kept in history (the garbage collector spares them)."""
        files = {p.file for p in self.partitions.values()}
        files.update(p.file for versions in self.history.values() for p in versions)
        return files

    def advance(
        self,
        written: Iterable[PartitionInfo],
        *,
        now: datetime,
        keep_history: bool,
        retention: timedelta,
    ) -> Manifest:
        """The manifest after a commit that wrote `written` (all of one new table version)."""
        written = list(written)
        version = max((p.version for p in written), default=self.version + 1)
        partitions = dict(self.partitions)
        history = {dt: list(versions) for dt, versions in self.history.items()}
        for new in written:
            old = partitions.get(new.dt)
            partitions[new.dt] = replace(new, first_version=old.first_version if old else new.version)
            if old is not None and keep_history and old.origin is not None:
                history.setdefault(new.dt, []).append(
                    replace(old, superseded_by=new.version, superseded_at=now)
                )
        cutoff = now - retention
        kept = {
            dt: tuple(p for p in versions if p.superseded_at is None or p.superseded_at >= cutoff)
            for dt, versions in history.items()
        }
        return Manifest(version=version, partitions=partitions, history={d: v for d, v in kept.items() if v})

    def dump(self) -> bytes:
        """The manifest as JSON."""
        body = {
            "version": self.version,
            "partitions": {
                dt.isoformat(): _entry(p) | _history_entry(self.history.get(dt, ()))
                for dt, p in sorted(self.partitions.items())
            },
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2)


def load_manifest(raw: bytes) -> Manifest:
    """Read a manifest written by `Manifest.dump` (or by a version that recorded no history)."""
    body = orjson.loads(raw)
    partitions: dict[date, PartitionInfo] = {}
    history: dict[date, tuple[PartitionInfo, ...]] = {}
    for text, entry in body["partitions"].items():
        dt = date.fromisoformat(text)
        partitions[dt] = _info(dt, entry)
        if entry.get("history"):
            history[dt] = tuple(_info(dt, old) for old in entry["history"])
    return Manifest(version=body["version"], partitions=partitions, history=history)


def _entry(info: PartitionInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {"rows": info.rows, "file": info.file, "bytes": info.bytes}
    entry |= {"version": info.version, "first_version": info.first_version, "origin": info.origin}
    entry["committed_at"] = info.committed_at.isoformat() if info.committed_at else None
    if info.superseded_by is not None:
        entry["superseded_by"] = info.superseded_by
        entry["superseded_at"] = info.superseded_at.isoformat() if info.superseded_at else None
    if info.key_min is not None:
        entry |= {"key_min": info.key_min, "key_max": info.key_max}
    return entry


def _history_entry(versions: Iterable[PartitionInfo]) -> dict[str, Any]:
    entries = [_entry(p) for p in versions]
    return {"history": entries} if entries else {}


def _info(dt: date, entry: Mapping[str, Any]) -> PartitionInfo:
    return PartitionInfo(
        dt=dt,
        rows=entry["rows"],
        file=entry["file"],
        bytes=entry["bytes"],
        version=entry.get("version", 0),
        first_version=entry.get("first_version", 0),
        origin=entry.get("origin"),
        committed_at=_time(entry.get("committed_at")),
        superseded_by=entry.get("superseded_by"),
        superseded_at=_time(entry.get("superseded_at")),
        key_min=entry.get("key_min"),
        key_max=entry.get("key_max"),
    )


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
