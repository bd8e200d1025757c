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

import ibis.expr.datatypes as ibis_dt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from touchpoint.store.analytical.files import (
    PARTIAL_SUFFIX,
    ROW_GROUP_ROWS,
    fsync_dir,
    parquet_options,
)

WIDE_INTEGER = ibis_dt.Decimal(38, 0)
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
        self._buffered: list[pa.Table] = []
        self._buffered_rows = 0
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
        # Pieces are gathered into row groups of the store's size: a row group per small piece would make the
        # footer, which every later read parses, grow with the number of pieces.
        self._buffered.append(piece.select(self.schema.names).cast(self.schema))
        self._buffered_rows += piece.num_rows
        self._last = keys[-1]
        self.rows += piece.num_rows
        if self._buffered_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._buffered and self._writer is not None:
            self._writer.write_table(pa.concat_tables(self._buffered), ROW_GROUP_ROWS)
        self._buffered, self._buffered_rows = [], 0

    def finish(self, path: Path) -> int:
        """Close the file and make it durable as `path` (in the same directory); returns its size."""
        if self._writer is None:
            raise ValueError("the partition writer is closed")
        self._flush()
        self._writer.close()
        self._writer = None
        with self._partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self._partial, path)
        fsync_dir(path.parent)
        return path.stat().st_size

    def discard(self) -> None:
        """Drop what was written (the writer is not committed)."""
        self._buffered, self._buffered_rows = [], 0
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._partial.unlink(missing_ok=True)


@dataclass(frozen=True)
class StagedResult:
    """An engine's result written to scratch Parquet files, in the order the engine produced its rows."""

    name: str
    files: tuple[Path, ...]
    types: Any
    """The expression's schema (Ibis): the types the result is read back as."""
    schema: pa.Schema
    """The same as Arrow."""
    stored: pa.Schema
    """The files' schema: integers are stored as DECIMAL(38, 0) (see `Staging.write`)."""
    num_rows: int
    backend: Any

    def columns(self, names: Sequence[str]) -> pa.Schema:
        """The result's schema for the columns `names`, in that order."""
        return pa.schema([self.schema.field(name) for name in names])

    def table(self) -> Any:
        """The result as a table on the engine, for a query that reads it further."""
        table = self.backend.read_staged(self.name, list(self.files), self.stored)
        return table.select(*(table[c].cast(kind).name(c) for c, kind in self.types.items()))

    def pieces(self, rows: int, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """The result's rows in order, at most `rows` at a time, typed as the engine's result was."""
        if rows < 1:
            raise ValueError("pieces of at least one row")
        wanted = list(columns) if columns is not None else self.schema.names
        schema = self.columns(wanted)
        for path in self.files:
            # Spark writes timestamps as INT96 by default; read as nanoseconds they would wrap past 2262.
            parquet = pq.ParquetFile(path, coerce_int96_timestamp_unit="us")
            for batch in parquet.iter_batches(batch_size=rows, columns=wanted):
                # An engine may store a type its own way (Spark's timestamps): typed as its result was.
                yield pa.Table.from_batches([batch]).select(wanted).cast(schema)

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole result (a caller that knows it is small: a sample, a test)."""
        wanted = list(columns) if columns is not None else self.schema.names
        pieces = list(self.pieces(ROW_GROUP_ROWS, wanted))
        return pa.concat_tables(pieces) if pieces else self.columns(wanted).empty_table()

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
        return pa.concat_tables(taken) if taken else self.columns(columns).empty_table()


class Staging:
    """A scratch directory for one computation's intermediate results, removed when it ends."""

    def __init__(self, root: Path, backend: Any) -> None:
        self.backend = backend
        base = root / STAGING
        _remove_stale(base)
        self.directory = base / secrets.token_hex(8)
        self.directory.mkdir(parents=True)

    def write(self, name: str, expr: Any, *, order_by: str | None = None) -> StagedResult:
        """Have the engine run `expr` and write its rows under `name` (sorted by the column `order_by`), each
        column of the type the expression says."""
        types = expr.schema()
        # DuckDB sums integers as 128-bit integers and its Parquet writer stores those as doubles, which
        # would round past 2**53; Ibis sees an int64 and leaves out a cast to int64. Integers are therefore
        # stored as DECIMAL(38, 0), exact in every engine, and cast back when read (an overflow is an error).
        typed = expr.select(
            *(
                expr[name].cast(WIDE_INTEGER).name(name) if kind.is_integer() else expr[name]
                for name, kind in types.items()
            )
        )
        if order_by is not None:
            typed = typed.order_by(order_by)  # last: the order of a query's inner parts is not kept
        files = tuple(self.backend.write_staged(typed, self.directory / name))
        return StagedResult(
            name=name,
            files=files,
            types=types,
            schema=types.to_pyarrow(),
            stored=typed.schema().to_pyarrow(),
            num_rows=sum(pq.ParquetFile(f).metadata.num_rows for f in files),
            backend=self.backend,
        )

    def remove(self) -> None:
        """Delete every staged file."""
        shutil.rmtree(self.directory, ignore_errors=True)


def _remove_stale(base: Path) -> None:
    if not base.exists():
        return
    # Judged by the files' times: the machine's, not the product's clock (as the catalog's garbage is).
    cutoff = time.time() - STALE_STAGING_SECONDS
    for directory in base.iterdir():
        try:
            stale = directory.stat().st_mtime < cutoff
        except FileNotFoundError:  # another computation has just removed its own
            continue
        if stale:
            shutil.rmtree(directory, ignore_errors=True)
