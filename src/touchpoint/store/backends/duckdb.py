"""The embedded analytical engine: Ibis on DuckDB, one in-memory connection per thread."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from touchpoint.store.backends import ViewJanitor


class DuckDBBackend:
    """Turns committed Parquet files into Ibis tables on a DuckDB connection."""

    name = "duckdb"

    def __init__(
        self,
        threads: int | None = None,
        *,
        memory_limit: str | None = None,
        spill_directory: Path | None = None,
    ) -> None:
        self._threads = threads
        # SET takes no parameters: the limit is checked against the settings' pattern before it gets here.
        self._memory_limit = memory_limit
        self._spill_directory = spill_directory
        self._local = threading.local()
        # Every thread's connection, so that close() can release them: a connection left to be finalised
        # in a worker thread at interpreter exit aborts the process ("terminate called after throwing").
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    @property
    def connection(self) -> Any:
        """This thread's Ibis DuckDB backend (DuckDB connections are not shared across threads)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = ibis.duckdb.connect()
            if self._threads:
                con.raw_sql(f"SET threads = {int(self._threads)}")
            if self._memory_limit:
                con.raw_sql(f"SET memory_limit = '{_size(self._memory_limit)}'")
            if self._spill_directory is not None:
                self._spill_directory.mkdir(parents=True, exist_ok=True)
                quoted = str(self._spill_directory).replace("'", "''")
                con.raw_sql(f"SET temp_directory = '{quoted}'")
            self._local.con = con
            with self._lock:
                self._opened.append(con)
        return con

    def close(self) -> None:
        """Disconnect every thread's connection; a thread that queries again gets a new one."""
        with self._lock:
            opened, self._opened = self._opened, []
        for con in opened:
            con.disconnect()
        self._local = threading.local()

    def read_parquet_files(self, name: str, version: int, files: Sequence[Path], schema: pa.Schema) -> Any:
        """An Ibis table over exactly `files` (`dt` from the Hive path); no files gives an empty table."""
        if not files:
            return ibis.memtable(schema.empty_table())
        con, janitor = self.connection, self._janitor()
        for gone in janitor.released():
            quoted = '"' + gone.replace('"', '""') + '"'
            con.con.execute(f"DROP VIEW IF EXISTS {quoted}")
        view = f"{name}__v{version}_{secrets.token_hex(3)}"
        table = con.read_parquet(
            [str(f) for f in files], table_name=view, hive_partitioning=True, union_by_name=True
        )
        janitor.watch(table, view)
        return table

    def write_staged(self, expr: Any, directory: Path) -> list[Path]:
        """Run `expr` and write its rows, in its order, as one Parquet file in `directory` (DuckDB streams
        the result to the file, spilling a sort to disk, without handing it to Python)."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "part-0.parquet"
        expr.to_parquet(path, compression="zstd")
        return [path]

    def read_staged(self, name: str, files: Sequence[Path], schema: pa.Schema) -> Any:
        """An Ibis table over files `write_staged` wrote."""
        con, janitor = self.connection, self._janitor()
        view = f"staged_{name}_{secrets.token_hex(3)}"
        table = con.read_parquet([str(f) for f in files], table_name=view)
        janitor.watch(table, view)
        return table

    def _janitor(self) -> ViewJanitor:
        """This thread's janitor: views live in this thread's connection, so only this thread drops them."""
        janitor = getattr(self._local, "janitor", None)
        if janitor is None:
            janitor = self._local.janitor = ViewJanitor()
        return janitor


SIZE = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)")


def _size(text: str) -> str:
    """A memory size DuckDB reads ("4GB"), refused unless it is one: it goes into a SET statement."""
    if not SIZE.fullmatch(text):
        raise ValueError(f"not a memory size: {text!r}")
    return text
