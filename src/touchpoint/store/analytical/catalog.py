"""The Catalog of logical tables over Hive-partitioned Parquet.

Each table is a folder of `dt=YYYY-MM-DD/part-*.parquet` files and a `_manifest.json` naming the current file
of every partition (and, for tables that keep history, the earlier versions — see `manifest.py`). A write puts
new files beside the old ones and then swaps the manifest in one atomic rename, so a crash at any point leaves
the previous version whole and readable, and a reader that has listed its files keeps them for a grace period
even if a writer commits meanwhile.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from touchpoint.core.clock import Clock, SystemClock
from touchpoint.store.analytical.files import (
    PARTIAL_SUFFIX,
    exclusive_lock,
    write_bytes_atomic,
    write_parquet_atomic,
)
from touchpoint.store.analytical.keys import may_hold, partitions_holding, sorted_first_keys
from touchpoint.store.analytical.manifest import MANIFEST, Manifest, PartitionInfo, load_manifest
from touchpoint.store.analytical.merge import (
    align_schema,
    drop_keys,
    key_range,
    last_by_key,
    split_by_partition,
    upsert_by_key,
)
from touchpoint.store.analytical.streamed import PartitionWriter, Staging

PARTITION_COLUMN = "dt"
GARBAGE_GRACE_SECONDS = 15 * 60
DERIVED_ENTRIES = 2
"""Values built from partitions (`derived`) kept at once: today's snapshot and one other date."""
DERIVED_BUDGET_BYTES = 2 << 30
"""What each derived value may keep in caches of its own, unless the settings say (`preview_cache_mb`)."""
HISTORY_RETENTION = timedelta(days=366)
"""How long a superseded partition version stays readable (a full year, leap day included)."""

__all__ = [
    "HISTORY_RETENTION",
    "MANIFEST",
    "PARTITION_COLUMN",
    "AnalyticalStore",
    "Manifest",
    "PartitionInfo",
    "TableLayout",
]

KeyScope = Literal["partition", "table"]
T = TypeVar("T")


@dataclass(frozen=True)
class TableLayout:
    """How one logical table is stored: its columns, its key, and that it is partitioned by `dt`."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    open_schema: bool = False
    """True for tables whose columns follow the definitions (one per indicator or tag): `schema` then names
    only the columns every version has, and each partition keeps the columns it was written with."""
    key_scope: KeyScope = "partition"
    """`partition`: a key is unique within its date (snapshots: each date holds every key once).
    `table`: a key occurs once in the whole table, so a re-sent key replaces its row wherever it lives —
    for facts whose date comes from a time that a correction may move to another day."""
    keep_history: bool = False
    """Keep the partition versions that named writers (import runs) replaced, readable for the retention."""

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


class AnalyticalStore:
    """Reads and writes the logical tables; queries go through the engine backend (Ibis)."""

    def __init__(
        self,
        root: Path,
        layouts: Iterable[TableLayout],
        backend: Any,
        *,
        history_retention: timedelta = HISTORY_RETENTION,
        clock: Clock | None = None,
        derived_budget_bytes: int = DERIVED_BUDGET_BYTES,
    ) -> None:
        self.root = root
        self.derived_budget_bytes = derived_budget_bytes
        """What each value `derived` builds may keep in caches of its own (a segment preview's indicator
        columns), in bytes."""
        self.clock: Clock = clock or SystemClock()
        self.layouts: Mapping[str, TableLayout] = {layout.name: layout for layout in layouts}
        self.backend = backend
        self.history_retention = history_retention
        self._local = threading.local()
        self._derived: OrderedDict[str, tuple[tuple[Any, ...], Any]] = OrderedDict()
        self._derived_lock = threading.Lock()

    def close(self) -> None:
        """Release the engine's connections (and the views cached on them)."""
        self._local = threading.local()
        with self._derived_lock:
            self._derived.clear()
        closer = getattr(self.backend, "close", None)
        if closer is not None:
            closer()

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
        return load_manifest(path.read_bytes())

    def partitions(self, name: str) -> list[PartitionInfo]:
        """The table's partitions in date order."""
        return [p for _, p in sorted(self.manifest(name).partitions.items())]

    def partition_columns(self, name: str, dt: date) -> list[str] | None:
        """The columns one partition's file holds (an open table's vary by date), or None when absent."""
        info = self._current_version(name, dt)
        return self.version_columns(name, info) if info is not None else None

    def read_partition(
        self,
        name: str,
        dt: date,
        *,
        as_of_version: int | None = None,
        columns: Sequence[str] | None = None,
        where_in: tuple[str, Sequence[Any]] | None = None,
        where_range: tuple[str, Any, Any] | None = None,
    ) -> pa.Table | None:
        """One partition as Arrow (without the `dt` column), or None when absent.

        With `as_of_version`, the partition as table version `as_of_version` left it (None if it did not exist
        yet; LookupError when that version is no longer kept). With `columns`, only those columns, in that
        order: Parquet is columnar, so a reader that needs two columns of a wide snapshot decodes only those.
        A requested column the layout names but the file lacks reads as nulls, as in a whole read; one that
        neither has is a KeyError. With `where_in` (column, values) — `columns` too — only the rows whose
        column holds one of the values: row groups whose statistics rule them out are not decoded at all, so a
        few customers of a snapshot sorted by uid cost one row group, not the file. With `where_range`
        (column, low, high), only the rows whose column lies between low and high, both included.
        """
        manifest = self.manifest(name)
        info = manifest.partitions.get(dt) if as_of_version is None else manifest.as_of(dt, as_of_version)
        if info is None:
            return None
        return self.read_version(name, info, columns=columns, where_in=where_in, where_range=where_range)

    def read_version(
        self,
        name: str,
        info: PartitionInfo,
        *,
        columns: Sequence[str] | None = None,
        where_in: tuple[str, Sequence[Any]] | None = None,
        where_range: tuple[str, Any, Any] | None = None,
    ) -> pa.Table:
        """One version of a partition, as the manifest named it when `info` was taken (`read_partition`'s
        columns and rows): a reader that loads a partition piece by piece reads every piece from the same
        file even if a writer commits meanwhile. Superseded files are kept for GARBAGE_GRACE_SECONDS after
        the commit that replaced them (longer where the table keeps history); FileNotFoundError after that."""
        if (where_in is not None or where_range is not None) and columns is None:
            raise ValueError("where_in and where_range read named columns only")
        layout = self.layout(name)
        if columns is None:
            return self._read_file(layout, info)
        rows: pc.Expression | None = None
        if where_in is not None:
            rows = pc.field(where_in[0]).isin(list(where_in[1]))
        if where_range is not None:
            column, low, high = where_range
            between = (pc.field(column) >= low) & (pc.field(column) <= high)
            rows = between if rows is None else rows & between
        filtered = [c for c in (where_in, where_range) if c is not None]
        only_range = where_range if where_in is None else None
        return self._read_columns(layout, info, columns, [c[0] for c in filtered], rows, only_range)

    def version_columns(self, name: str, info: PartitionInfo) -> list[str]:
        """The columns one version of a partition holds."""
        return list(pq.read_schema(self.root / name / info.file).names)

    def partition_versions(self, name: str, dt: date) -> list[PartitionInfo]:
        """Every kept version of one partition, oldest first, the current one last."""
        return self.manifest(name).versions_of(dt)

    def version_written_by(self, name: str, origin: str) -> int | None:
        """The table version of the commit a named writer (an import run) made, if it is still on record."""
        manifest = self.manifest(name)
        versions = [
            p.version for dt in manifest.partitions for p in manifest.versions_of(dt) if p.origin == origin
        ]
        return max(versions) if versions else None

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

    def _read_file(self, layout: TableLayout, info: PartitionInfo) -> pa.Table:
        return layout.align(pq.read_table(self.root / layout.name / info.file))

    def _read_columns(
        self,
        layout: TableLayout,
        info: PartitionInfo,
        columns: Sequence[str],
        filtered: Sequence[str],
        rows: pc.Expression | None,
        where_range: tuple[str, Any, Any] | None = None,
    ) -> pa.Table:
        path = self.root / layout.name / info.file
        present = set(pq.read_schema(path).names)
        unknown = [c for c in columns if c not in present and c not in layout.schema.names]
        unknown += [c for c in filtered if c not in present]
        if unknown:
            raise KeyError(f"{layout.name}: no columns {unknown}")
        read = [c for c in columns if c in present]
        if where_range is not None and rows is not None:
            table = _read_range(path, read, where_range, rows)
        else:
            table = pq.read_table(path, columns=read, filters=rows)
        fixed = {f.name: f.type for f in layout.schema}
        # The same conforming as a whole read (align_schema), restricted to the requested columns.
        arrays = [
            pa.nulls(table.num_rows, fixed[c])
            if c not in present
            else (pc.cast(table[c], fixed[c]) if c in fixed else table[c])
            for c in columns
        ]
        return pa.Table.from_arrays(arrays, names=list(columns))

    def derived(
        self,
        kind: str,
        sources: Sequence[tuple[str, date | None]],
        build: Callable[[dict[str, PartitionInfo | None]], T],
    ) -> T:
        """A value built from partitions (table, date; None: no partition), kept while each still has the
        file it had when the value was built: the same value again, or a new one after a write.

        `build` is given the partition versions it is keyed on (table → version, None where absent), to read
        exactly those however long it loads lazily. The DERIVED_ENTRIES kinds used last are kept (a caller
        names one kind per snapshot date, so two dates in turn do not evict each other), which bounds memory;
        a caller still holding an older value keeps using it. The key is checked against the manifests on
        every call: a small file read per source.
        """
        if len({name for name, _ in sources}) != len(sources):
            raise ValueError("derived: one partition per table")
        pinned = {name: self._current_version(name, dt) for name, dt in sources}
        key = tuple((name, dt, _file_of(pinned[name])) for name, dt in sources)
        with self._derived_lock:
            held = self._derived.get(kind)
            if held is not None and held[0] == key:
                self._derived.move_to_end(kind)
                return cast(T, held[1])
        value = build(pinned)
        with self._derived_lock:
            self._derived[kind] = (key, value)
            self._derived.move_to_end(kind)
            while len(self._derived) > DERIVED_ENTRIES:
                self._derived.popitem(last=False)
        return value

    def _current_version(self, name: str, dt: date | None) -> PartitionInfo | None:
        return self.manifest(name).partitions.get(dt) if dt is not None else None

    def _view_cache(self) -> dict[str, tuple[list[Path], Any]]:
        cache = getattr(self._local, "views", None)
        if cache is None:
            cache = self._local.views = {}
        return cache

    # ---- writing ---------------------------------------------------------------------------------

    def upsert(
        self, name: str, data: pa.Table, *, origin: str | None = None, within_partitions: bool = False
    ) -> list[PartitionInfo]:
        """Merge rows into their `dt` partitions by key (new rows win) and commit atomically.

        In a table whose key scope is `table`, a key's old row is removed from whatever partition held it,
        in the same commit — unless the writer knows its keys cannot have moved (`within_partitions`: the
        event compactor, whose ids come with their time) and spares every other partition a scan.
        `origin` names the writer (an import run id) in the manifest's version history. Returns every
        partition version written, including partitions that only lost moved rows.
        """
        layout = self.layout(name)
        table_wide = layout.key_scope == "table" and not within_partitions
        data = last_by_key(data, layout.key if table_wide else (*layout.key, PARTITION_COLUMN))
        with exclusive_lock(self.root / name / ".lock"):
            manifest = self.manifest(name)
            incoming = {
                _as_date(dt): layout.align(part)
                for dt, part in split_by_partition(data, PARTITION_COLUMN).items()
            }
            if table_wide:
                merged = self._table_wide(layout, manifest, incoming, keep_old_rows=True)
            else:
                merged = {
                    dt: upsert_by_key(self._current(layout, manifest, dt), part, layout.key)
                    for dt, part in incoming.items()
                }
            return self._commit(layout, manifest, merged, origin)

    def replace_partitions(
        self, name: str, partitions: Mapping[date, pa.Table], *, origin: str | None = None
    ) -> list[PartitionInfo]:
        """Replace whole partitions with the given tables and commit atomically.

        In a table whose key scope is `table`, the given rows' keys are also removed from other partitions
        (the caller must not give one key to two dates).
        """
        layout = self.layout(name)
        with exclusive_lock(self.root / name / ".lock"):
            manifest = self.manifest(name)
            aligned = {dt: last_by_key(layout.align(t), layout.key) for dt, t in partitions.items()}
            if layout.key_scope == "table":
                aligned = self._table_wide(layout, manifest, aligned, keep_old_rows=False)
            return self._commit(layout, manifest, aligned, origin)

    @contextlib.contextmanager
    def partition_writer(self, name: str, dt: date, schema: pa.Schema) -> Iterator[PartitionWriter]:
        """A new version of one partition of a snapshot table, written in pieces (rows in ascending key
        order) and made current by `commit_written`; left uncommitted, it leaves nothing behind."""
        layout = self.layout(name)
        if layout.key_scope != "partition" or len(layout.key) != 1:
            raise ValueError(
                f"{name}: only a table keyed by one column within its dates is written in pieces"
            )
        layout.align(schema.empty_table())
        writer = PartitionWriter(
            self.root / name / f"{PARTITION_COLUMN}={dt.isoformat()}", schema, layout.key[0]
        )
        try:
            yield writer
        finally:
            writer.discard()

    def commit_written(
        self, name: str, written: Mapping[date, PartitionWriter], *, origin: str | None = None
    ) -> list[PartitionInfo]:
        """Make the partitions `written` piece by piece current, replacing those dates, in one commit."""
        layout = self.layout(name)
        table_dir = self.root / name
        with exclusive_lock(table_dir / ".lock"):
            manifest = self.manifest(name)
            version = manifest.version + 1
            now = self.clock.now()
            infos = []
            for dt, writer in sorted(written.items()):
                relative = _version_file(dt, version)
                size = writer.finish(table_dir / relative)
                infos.append(
                    PartitionInfo(
                        dt=dt,
                        rows=writer.rows,
                        file=relative,
                        bytes=size,
                        version=version,
                        origin=origin,
                        committed_at=now,
                    )
                )
            return self._advance(layout, manifest, infos, now)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Staging]:
        """A scratch directory where the engine writes intermediate results, removed afterwards."""
        staging = Staging(self.root, self.backend)
        try:
            yield staging
        finally:
            staging.remove()

    def _current(self, layout: TableLayout, manifest: Manifest, dt: date) -> pa.Table | None:
        info = manifest.partitions.get(dt)
        return None if info is None else self._read_file(layout, info)

    def _table_wide(
        self,
        layout: TableLayout,
        manifest: Manifest,
        incoming: Mapping[date, pa.Table],
        *,
        keep_old_rows: bool,
    ) -> dict[date, pa.Table]:
        """The new content of every partition a write touches, in a table whose keys are unique table-wide:
        the incoming partitions (after their old rows, unless they are replaced) and the partitions that only
        lose rows whose key the write moves elsewhere."""
        if not incoming:
            return {}
        keys = pa.concat_tables([t.select(list(layout.key)) for t in incoming.values()])
        first_keys = sorted_first_keys(keys)
        outside = [
            p for dt, p in manifest.partitions.items() if dt not in incoming and may_hold(p, first_keys)
        ]
        holders = partitions_holding(self.root / layout.name, outside, keys, PARTITION_COLUMN)
        merged_into = {dt for dt in incoming if dt in manifest.partitions} if keep_old_rows else set()
        old = self._rows_without(layout, manifest, sorted(holders | merged_into), keys)
        result = {dt: old[dt] for dt in holders}
        for dt, part in incoming.items():
            result[dt] = pa.concat_tables([old[dt], part]) if dt in old else part
        return result

    def _rows_without(
        self, layout: TableLayout, manifest: Manifest, dates: list[date], keys: pa.Table
    ) -> dict[date, pa.Table]:
        """The current rows of the given partitions less those whose key is among `keys`.

        One anti-join over all of them: a re-sent file of a million rows would otherwise hash its keys once
        per partition."""
        if not dates:
            return {}
        dated = []
        for dt in dates:
            rows = self._read_file(layout, manifest.partitions[dt])
            dated.append(
                rows.append_column(PARTITION_COLUMN, pa.repeat(pa.scalar(dt, pa.date32()), len(rows)))
            )
        kept = split_by_partition(drop_keys(pa.concat_tables(dated), keys, layout.key), PARTITION_COLUMN)
        return {dt: kept[dt] if dt in kept else layout.schema.empty_table() for dt in dates}

    def _commit(
        self,
        layout: TableLayout,
        manifest: Manifest,
        new_parts: Mapping[date, pa.Table],
        origin: str | None,
    ) -> list[PartitionInfo]:
        if not new_parts:
            return []
        table_dir = self.root / layout.name
        version = manifest.version + 1
        now = self.clock.now()
        written = [
            self._write_version(table_dir, layout, dt, part, version, origin, now)
            for dt, part in sorted(new_parts.items())
        ]
        return self._advance(layout, manifest, written, now)

    def _advance(
        self, layout: TableLayout, manifest: Manifest, written: list[PartitionInfo], now: datetime
    ) -> list[PartitionInfo]:
        table_dir = self.root / layout.name
        committed = manifest.advance(
            written, now=now, keep_history=layout.keep_history, retention=self.history_retention
        )
        # The rename of the manifest is the commit: before it every reader sees the previous version whole.
        write_bytes_atomic(table_dir / MANIFEST, committed.dump())
        self._collect_garbage(table_dir, committed.named_files())
        return [committed.partitions[p.dt] for p in written]

    @staticmethod
    def _write_version(
        table_dir: Path,
        layout: TableLayout,
        dt: date,
        part: pa.Table,
        version: int,
        origin: str | None,
        now: datetime,
    ) -> PartitionInfo:
        relative = _version_file(dt, version)
        size = write_parquet_atomic(table_dir / relative, part)
        bounds = key_range(part, layout.key[0]) if layout.key_scope == "table" else None
        return PartitionInfo(
            dt=dt,
            rows=part.num_rows,
            file=relative,
            bytes=size,
            version=version,
            origin=origin,
            committed_at=now,
            key_min=bounds[0] if bounds else None,
            key_max=bounds[1] if bounds else None,
        )

    @staticmethod
    def _collect_garbage(table_dir: Path, named: set[str]) -> None:
        # Superseded files stay for a grace period: a reader may have listed them just before the commit.
        # Files the manifest's history still names stay until their retention has passed. File times are
        # the machine's, not the product's clock (a rehearsal's virtual clock runs days ahead), so the grace
        # is measured on the machine's.
        cutoff = time.time() - GARBAGE_GRACE_SECONDS
        for path in table_dir.glob(f"{PARTITION_COLUMN}=*/*"):
            relative = path.relative_to(table_dir).as_posix()
            stale = path.name.endswith(PARTIAL_SUFFIX) or (relative not in named)
            if stale and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)


def _version_file(dt: date, version: int) -> str:
    """Where a partition's version is written, relative to its table's folder."""
    return f"{PARTITION_COLUMN}={dt.isoformat()}/part-{version:06d}-{secrets.token_hex(4)}.parquet"


def _file_of(info: PartitionInfo | None) -> str | None:
    return info.file if info is not None else None


def _as_date(value: object) -> date:
    if isinstance(value, date):
        return value
    raise TypeError(f"partition values must be dates, got {value!r}")


def _read_range(
    path: Path, columns: list[str], where_range: tuple[str, Any, Any], rows: pc.Expression
) -> pa.Table:
    """The rows of a file whose `where_range` column lies in the range: only the row groups whose statistics
    overlap it are decoded (a uid range of a snapshot written in uid order is a few row groups), then cut
    to the range: a slice where the column is sorted, a filter otherwise. Half the time of a filtered
    dataset read for a shard of a 10M-row snapshot."""
    column, low, high = where_range
    file = pq.ParquetFile(path)
    groups = [
        i for i in range(file.num_row_groups) if _may_overlap(file.metadata.row_group(i), column, low, high)
    ]
    wanted = list(dict.fromkeys([*columns, column]))
    table = file.read_row_groups(groups, columns=wanted) if groups else file.schema_arrow.empty_table()
    keys = table[column]
    if keys.null_count == 0 and pa.types.is_integer(keys.type) and _whole_numbers(low, high):
        values = keys.to_numpy()
        if np.all(values[1:] >= values[:-1]):  # sorted (a snapshot by uid): a slice, no filter to evaluate
            first, stop = np.searchsorted(values, low, "left"), np.searchsorted(values, high, "right")
            return table.slice(int(first), int(stop - first)).select(columns)
    return table.filter(rows).select(columns)


def _whole_numbers(*bounds: Any) -> bool:
    """Whether bounds compare with an integer column as NumPy would search it (other types are the filter's
    to judge: a text bound must not be turned into a number, nor a bool into 0 or 1)."""
    return all(isinstance(b, int | np.integer) and not isinstance(b, bool | np.bool_) for b in bounds)


def _may_overlap(group: pq.RowGroupMetaData, column: str, low: Any, high: Any) -> bool:
    """Whether a row group may hold values of `column` between low and high (true without statistics)."""
    for index in range(group.num_columns):
        chunk = group.column(index)
        if chunk.path_in_schema == column:
            stats = chunk.statistics
            if stats is None or not stats.has_min_max:
                return True
            try:
                return bool(stats.max >= low and stats.min <= high)
            except TypeError:  # statistics of a type the bounds do not compare with: read it
                return True
    return True
