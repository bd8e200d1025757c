"""Results too big to hold at once: a partition written piece by piece, and an engine's result staged.

A daily computation over ten million customers cannot hold every indicator in one process. The engine writes
its result to scratch Parquet files (`Staging`), the computation reads them back a range of customers at a
time, and writes each range's rows to the new partition versions (`PartitionWriter`) as it goes; the
manifest commit stays the one step that makes a version visible.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from touchpoint.store.analytical.files import (
    PARTIAL_SUFFIX,
    ROW_GROUP_ROWS,
    fsync_dir,
    parquet_options,
)

STAGING = ".staging"
STALE_STAGING_SECONDS = 24 * 3600
"""A scratch directory older than this belongs to a process that died; the next staging removes it."""


class PartitionWriter:
    """A new version of one partition written in pieces, each piece's keys after the last one's.

    The rows must come in strictly ascending order of the table's (single-column) key, so the file is
    sorted and its keys unique across the whole partition without holding it; a piece out of order is a
    ValueError. Nothing is visible until the store commits the writer; a writer not committed leaves no file.
    """

    def __init__(self, directory: Path, schema: pa.Schema, key: str) -> None:
        self.schema = schema
        self.key = key
        self.rows = 0
        self._last: Any = None
        directory.mkdir(parents=True, exist_ok=True)
        self._partial = directory / f".streamed-{secrets.token_hex(6)}.parquet{PARTIAL_SUFFIX}"
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(
            self._partial, schema, **parquet_options(schema)
        )

    def write(self, piece: pa.Table) -> None:
        """Append rows (conformed to the writer's schema; their keys ascending, after every earlier key)."""
        if self._writer is None:
            raise ValueError("the partition writer is closed")
        if piece.num_rows == 0:
            return
        keys = piece[self.key].to_numpy()
        if (keys[1:] <= keys[:-1]).any() or (self._last is not None and keys[0] <= self._last):
            raise ValueError(f"{self.key} must ascend strictly across the pieces written")
        self._writer.write_table(piece.select(self.schema.names).cast(self.schema), ROW_GROUP_ROWS)
        self._last = keys[-1]
        self.rows += piece.num_rows

    def finish(self, path: Path) -> int:
        """Close the file and make it durable as `path` (in the same directory); returns its size."""
        if self._writer is None:
            raise ValueError("the partition writer is closed")
        self._writer.close()
        self._writer = None
        with self._partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self._partial, path)
        fsync_dir(path.parent)
        return path.stat().st_size

    def discard(self) -> None:
        """Drop what was written (the writer is not committed)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._partial.unlink(missing_ok=True)


@dataclass(frozen=True)
class StagedResult:
    """An engine's result written to scratch Parquet files, in the order the engine produced its rows."""

    name: str
    files: tuple[Path, ...]
    schema: pa.Schema
    backend: Any

    @property
    def num_rows(self) -> int:
        """How many rows the result has (from the files' footers)."""
        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)

    def table(self) -> Any:
        """The result as a table on the engine, for a query that reads it further."""
        return self.backend.read_staged(self.name, list(self.files), self.schema)

    def pieces(self, rows: int, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """The result's rows in order, at most `rows` at a time, typed as the engine's result was."""
        if rows < 1:
            raise ValueError("pieces of at least one row")
        wanted = list(columns) if columns is not None else self.schema.names
        schema = pa.schema([self.schema.field(name) for name in wanted])
        for path in self.files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=wanted):
                # An engine may store a type its own way (Spark's timestamps): typed as its result was.
                yield pa.Table.from_batches([batch]).select(wanted).cast(schema)

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole result (a caller that knows it is small: a sample, a test)."""
        wanted = list(columns) if columns is not None else self.schema.names
        schema = pa.schema([self.schema.field(name) for name in wanted])
        pieces = list(self.pieces(ROW_GROUP_ROWS, wanted))
        return pa.concat_tables(pieces) if pieces else schema.empty_table()

    def take(self, positions: np.ndarray, columns: Sequence[str]) -> pa.Table:
        """The rows at sorted `positions` (0-based over the whole result), read piece by piece."""
        taken: list[pa.Table] = []
        start = 0
        for piece in self.pieces(ROW_GROUP_ROWS, columns):
            end = start + piece.num_rows
            inside = positions[(positions >= start) & (positions < end)] - start
            if len(inside):
                taken.append(piece.take(pa.array(inside)))
            start = end
        wanted = pa.schema([self.schema.field(name) for name in columns])
        return pa.concat_tables(taken) if taken else wanted.empty_table()


class Staging:
    """A scratch directory for one computation's intermediate results, removed when it ends."""

    def __init__(self, root: Path, backend: Any) -> None:
        self.backend = backend
        base = root / STAGING
        _remove_stale(base)
        self.directory = base / f"{int(time.time())}-{secrets.token_hex(4)}"
        self.directory.mkdir(parents=True)

    def write(self, name: str, expr: Any) -> StagedResult:
        """Have the engine run `expr` and write its rows (in the expression's order) under `name`."""
        schema = expr.schema().to_pyarrow()
        files = self.backend.write_staged(expr, self.directory / name)
        return StagedResult(name=name, files=tuple(files), schema=schema, backend=self.backend)

    def remove(self) -> None:
        """Delete every staged file."""
        shutil.rmtree(self.directory, ignore_errors=True)


def _remove_stale(base: Path) -> None:
    if not base.exists():
        return
    cutoff = time.time() - STALE_STAGING_SECONDS
    for directory in base.iterdir():
        if directory.stat().st_mtime < cutoff:
            shutil.rmtree(directory, ignore_errors=True)
