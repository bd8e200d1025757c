"""Durable file writes: a reader sees the old file or the new one, never a half-written one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PARTIAL_SUFFIX = ".partial"
ROW_GROUP_ROWS = 256_000


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry so a rename inside it survives a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary name, fsync, then rename over the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_parquet_atomic(path: Path, table: pa.Table) -> int:
    """Write a Parquet file under a temporary name, fsync it, rename it into place; return its size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{PARTIAL_SUFFIX}")
    with tmp.open("wb") as handle:
        pq.write_table(table, handle, row_group_size=ROW_GROUP_ROWS, **parquet_options(table.schema))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return path.stat().st_size


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """How the store encodes a file of `schema` (compression, dictionaries, deltas), for one-shot and
    streamed writes alike."""
    return {
        "compression": "zstd",
        "use_dictionary": _repetitive(schema),
        "column_encoding": _delta_encoded(schema),
    }


def _repetitive(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary-encoding: text and binary, where values repeat (a tag's few values, an
    event's name). Measures and timestamps rarely do; trying cost half the write time of a million customers'
    indicators and made the file larger."""
    kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_dictionary)
    return [f.name for f in schema if any(kind(f.type) for kind in kinds)]


def _delta_encoded(schema: pa.Schema) -> dict[str, str]:
    """Integer, date and timestamp columns, written as deltas: uids in order, event times and dates change
    by small steps, and Arrow decodes a 10M-row uid column about five times faster this way than plain (and
    random integers twice as fast), in a smaller file. DuckDB and Spark read the encoding natively."""
    kinds = (pa.types.is_integer, pa.types.is_timestamp, pa.types.is_date)
    return {f.name: "DELTA_BINARY_PACKED" for f in schema if any(kind(f.type) for kind in kinds)}


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an advisory lock on `path` (one writer per table across processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
