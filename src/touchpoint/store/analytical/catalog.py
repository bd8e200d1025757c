"""The Catalog of logical tables over Hive-partitioned Parquet.

Each table is a folder of `dt=YYYY-MM-DD/part-*.parquet` files and a `_manifest.json` naming the current file
of every partition. A write puts new files beside the old ones and then swaps the manifest in one atomic
rename, so a crash at any point leaves the previous version whole and readable, and a reader that has
listed its files keeps them for a grace period even if a writer commits meanwhile.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from touchpoint.store.analytical.files import (
    PARTIAL_SUFFIX,
    exclusive_lock,
    write_bytes_atomic,
    write_parquet_atomic,
)
from touchpoint.store.analytical.merge import align_schema, split_by_partition, upsert_by_key

PARTITION_COLUMN = "dt"
MANIFEST = "_manifest.json"
GARBAGE_GRACE_SECONDS = 15 * 60


@dataclass(frozen=True)
class TableLayout:
    """How one logical table is stored: its columns, its key, and that it is partitioned by `dt`."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    open_schema: bool = False
    """True for tables whose columns follow the definitions (one per indicator or tag): `schema` then names
    only the columns every version has, and each partition keeps the columns it was written with."""

    def align(self, table: pa.Table) -> pa.Table:
        """Conform a table to the layout (open layouts only check that the fixed columns are there)."""
        if not self.open_schema:
            return align_schema(table, self.schema)
        missing = [f.name for f in self.schema if f.name not in table.column_names]
        if missing:
            raise ValueError(f"{self.name}: missing columns {missing}")
        return table

    @property
    def full_schema(self) -> pa.Schema:
        """The table's columns plus the partition column, as readers see it."""
        return self.schema.append(pa.field(PARTITION_COLUMN, pa.date32()))


@dataclass(frozen=True)
class PartitionInfo:
    """One partition as the manifest records it."""

    dt: date
    rows: int
    file: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """The committed state of one table."""

    version: int
    partitions: dict[date, PartitionInfo]


class AnalyticalStore:
    """Reads and writes the logical tables; queries go through the engine backend (Ibis)."""

    def __init__(self, root: Path, layouts: Iterable[TableLayout], backend: Any) -> None:
        self.root = root
        self.layouts: Mapping[str, TableLayout] = {layout.name: layout for layout in layouts}
        self.backend = backend
        self._local = threading.local()

    # ---- reading ---------------------------------------------------------------------------------

    def layout(self, name: str) -> TableLayout:
        """The layout of a known table; KeyError names the unknown one."""
        try:
            return self.layouts[name]
        except KeyError:
            raise KeyError(f"unknown analytical table {name!r}") from None

    def manifest(self, name: str) -> Manifest:
        """The current committed state of a table (empty when never written)."""
        self.layout(name)
        path = self.root / name / MANIFEST
        if not path.exists():
            return Manifest(version=0, partitions={})
        raw = orjson.loads(path.read_bytes())
        partitions = {
            date.fromisoformat(dt): PartitionInfo(
                dt=date.fromisoformat(dt), rows=p["rows"], file=p["file"], bytes=p["bytes"]
            )
            for dt, p in raw["partitions"].items()
        }
        return Manifest(version=raw["version"], partitions=partitions)

    def partitions(self, name: str) -> list[PartitionInfo]:
        """The table's partitions in date order."""
        return [p for _, p in sorted(self.manifest(name).partitions.items())]

    def read_partition(self, name: str, dt: date) -> pa.Table | None:
        """One partition as Arrow (without the `dt` column), or None when absent."""
        info = self.manifest(name).partitions.get(dt)
        if info is None:
            return None
        return self.layout(name).align(pq.read_table(self.root / name / info.file))

    def latest_partition_on_or_before(self, name: str, dt: date) -> date | None:
        """The newest partition date not after `dt` (for snapshot tables)."""
        dates = [d for d in self.manifest(name).partitions if d <= dt]
        return max(dates) if dates else None

    def files(self, name: str) -> list[Path]:
        """Absolute paths of the committed files, in partition order."""
        return [self.root / name / p.file for p in self.partitions(name)]

    def table(self, name: str) -> Any:
        """The whole table as an Ibis expression on the engine (the partition column is `dt`)."""
        manifest = self.manifest(name)
        files = [self.root / name / p.file for _, p in sorted(manifest.partitions.items())]
        cache = self._view_cache()
        cached = cache.get(name)
        if cached is not None and cached[0] == files:
            return cached[1]
        expr = self.backend.read_parquet_files(name, manifest.version, files, self.layout(name).full_schema)
        cache[name] = (files, expr)
        return expr

    def _view_cache(self) -> dict[str, tuple[list[Path], Any]]:
        cache = getattr(self._local, "views", None)
        if cache is None:
            cache = self._local.views = {}
        return cache

    # ---- writing ---------------------------------------------------------------------------------

    def upsert(self, name: str, data: pa.Table) -> list[PartitionInfo]:
        """Merge rows into their `dt` partitions by key (new rows win) and commit atomically."""
        layout = self.layout(name)
        with exclusive_lock(self.root / name / ".lock"):
            manifest = self.manifest(name)
            merged = {}
            for dt, part in split_by_partition(data, PARTITION_COLUMN).items():
                incoming = layout.align(part)
                existing = (
                    self.read_partition(name, _as_date(dt)) if _as_date(dt) in manifest.partitions else None
                )
                merged[_as_date(dt)] = upsert_by_key(existing, incoming, layout.key)
            return self._commit(layout, manifest, merged)

    def replace_partitions(self, name: str, partitions: Mapping[date, pa.Table]) -> list[PartitionInfo]:
        """Replace whole partitions with the given tables and commit atomically."""
        layout = self.layout(name)
        with exclusive_lock(self.root / name / ".lock"):
            manifest = self.manifest(name)
            aligned = {dt: layout.align(t) for dt, t in partitions.items()}
            return self._commit(layout, manifest, aligned)

    def _commit(
        self, layout: TableLayout, manifest: Manifest, new_parts: Mapping[date, pa.Table]
    ) -> list[PartitionInfo]:
        table_dir = self.root / layout.name
        version = manifest.version + 1
        written: list[PartitionInfo] = []
        for dt, part in sorted(new_parts.items()):
            relative = (
                f"{PARTITION_COLUMN}={dt.isoformat()}/part-{version:06d}-{secrets.token_hex(4)}.parquet"
            )
            size = write_parquet_atomic(table_dir / relative, part)
            written.append(PartitionInfo(dt=dt, rows=part.num_rows, file=relative, bytes=size))
        partitions = dict(manifest.partitions)
        partitions.update({p.dt: p for p in written})
        self._write_manifest(table_dir, version, partitions)
        self._collect_garbage(table_dir, partitions)
        return written

    @staticmethod
    def _write_manifest(table_dir: Path, version: int, partitions: Mapping[date, PartitionInfo]) -> None:
        body = {
            "version": version,
            "partitions": {
                dt.isoformat(): {"rows": p.rows, "file": p.file, "bytes": p.bytes}
                for dt, p in sorted(partitions.items())
            },
        }
        write_bytes_atomic(table_dir / MANIFEST, orjson.dumps(body, option=orjson.OPT_INDENT_2))

    @staticmethod
    def _collect_garbage(table_dir: Path, partitions: Mapping[date, PartitionInfo]) -> None:
        # Superseded files stay for a grace period: a reader may have listed them just before the commit.
        live = {p.file for p in partitions.values()}
        cutoff = time.time() - GARBAGE_GRACE_SECONDS
        for path in table_dir.glob(f"{PARTITION_COLUMN}=*/*"):
            relative = path.relative_to(table_dir).as_posix()
            stale = path.name.endswith(PARTIAL_SUFFIX) or (relative not in live)
            if stale and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)


def _as_date(value: object) -> date:
    if isinstance(value, date):
        return value
    raise TypeError(f"partition values must be dates, got {value!r}")
