"""The distributed analytical engine: Ibis on PySpark over the same Hive-partitioned Parquet files.

One SparkSession per process (Spark allows no more), shared by every thread; each read registers a
temporary view over exactly the committed files of one table version, as the DuckDB backend does.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
import pyarrow.parquet as pq

from touchpoint.store.backends import ViewJanitor

# Settings every session gets: UTC so that timestamps mean what the Parquet files say; Arrow both ways so
# results come back as columns, not as rows through Py4J; no web UI or progress bars in an embedded session.
SESSION_CONFIG = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "true",
    # As DuckDB: a division by zero or a failed cast is no value, not an error stopping the whole query.
    "spark.sql.ansi.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
}
# Footers remembered per file (a long-running process sees every new version's files).
FOOTER_CACHE_LIMIT = 100_000


class SparkBackend:
    """Turns committed Parquet files into Ibis tables on a PySpark session."""

    name = "spark"

    def __init__(self, master: str = "local[*]", config: Mapping[str, str] | None = None) -> None:
        self._master = master
        # The session is the process's, and so are its directories (spark.local.dir for spills): a
        # deployment sets them in `spark_config`, never per data directory.
        self._config = dict(config or {})
        self._lock = threading.Lock()
        self._con: Any = None
        self._views: list[str] = []
        self._janitor = ViewJanitor()
        self._footers: dict[str, pa.Schema] = {}

    @property
    def connection(self) -> Any:
        """The Ibis PySpark backend over this process's SparkSession (created on first use)."""
        with self._lock:
            if self._con is None:
                self._con = _memtables_in_one_chunk(
                    ibis.pyspark.connect(spark_session(self._master, self._config))
                )
            return self._con

    def close(self) -> None:
        """Drop the views this backend registered; the session lives as long as the process (Spark allows
        one), and other backends in the process (tests build many) keep theirs."""
        with self._lock:
            con, views, self._views = self._con, self._views, []
        if con is not None:
            for view in views:
                con._session.catalog.dropTempView(view)

    def read_parquet_files(self, name: str, version: int, files: Sequence[Path], schema: pa.Schema) -> Any:
        """An Ibis table over exactly `files` (`dt` from the Hive path); no files gives an empty table."""
        session = self.connection._session
        for gone in self._janitor.released():
            session.catalog.dropTempView(gone)
            with self._lock:
                if gone in self._views:  # close() may have dropped it already
                    self._views.remove(gone)
        view = f"{name}__v{version}_{secrets.token_hex(3)}"
        if not files:
            frame = session.createDataFrame(schema.empty_table().to_pandas(), schema=_spark_schema(schema))
        else:
            base = str(Path(files[0]).parents[1])
            merged = _spark_schema(self._merged_schema(files).append(pa.field("dt", pa.date32())))
            frame = session.read.schema(merged).options(basePath=base).parquet(*[str(f) for f in files])
        return self._registered(frame, view)

    def write_staged(self, expr: Any, directory: Path) -> list[Path]:
        """Run `expr` and have Spark write its rows as Parquet part files in `directory`; returned in part
        order, which is the expression's order (a sorted result is range-partitioned, part 0 first)."""
        self.connection.to_parquet(expr, directory)
        return sorted(directory.glob("part-*.parquet"))

    def read_staged(self, name: str, files: Sequence[Path], schema: pa.Schema) -> Any:
        """An Ibis table over files `write_staged` wrote."""
        view = f"staged_{name}_{secrets.token_hex(3)}"
        session = self.connection._session
        if files:
            frame = session.read.schema(_spark_schema(schema)).parquet(*[str(f) for f in files])
        else:
            frame = session.createDataFrame(schema.empty_table().to_pandas(), schema=_spark_schema(schema))
        return self._registered(frame, view)

    def _registered(self, frame: Any, view: str) -> Any:
        """`frame` as an Ibis table through a temporary view, dropped once nothing references the table."""
        frame.createOrReplaceTempView(view)
        with self._lock:
            self._views.append(view)
        table = self.connection.table(view)
        self._janitor.watch(table, view)
        return _as_instants(table)

    def _merged_schema(self, files: Sequence[Path]) -> pa.Schema:
        """The columns of all the files, a column typed differently in two files widened (an open table's
        indicator may be an int in one partition and a float in another: Spark's own schema merging refuses
        that, DuckDB's union by name widens it). Files never change once written, so footers are cached."""
        if len(self._footers) > FOOTER_CACHE_LIMIT:  # old versions' files are collected; forget them too
            self._footers.clear()
        schemas = []
        for path in files:
            key = str(path)
            if key not in self._footers:
                self._footers[key] = pq.read_schema(path).remove_metadata()
            schemas.append(self._footers[key])
        merged = pa.unify_schemas(schemas, promote_options="permissive")
        # A column no file has a value in (an indicator nobody has yet) is Arrow's null type, which Spark
        # cannot read: it is read as a float, as missing numbers are.
        return pa.schema([f.with_type(pa.float64()) if pa.types.is_null(f.type) else f for f in merged])


def _memtables_in_one_chunk(con: Any) -> Any:
    """`con`, registering in-memory tables (One ID's id map, a scope's uids) with each column in one chunk.

    Ibis hands Spark an in-memory table as a pandas frame, and Spark sends it to the JVM in slices of
    `spark.sql.execution.arrow.maxRecordsPerBatch` rows. Under pandas 3 a text column is backed by Arrow's
    chunks; a slice across two chunks becomes a chunked array Spark cannot put in a batch, and the query
    failed ("Cannot convert pyarrow.lib.ChunkedArray to pyarrow.lib.Array") once an id map read from
    several Parquet row groups outgrew one slice — a funnel over 260,000 linked ids did."""
    from ibis.formats.pyarrow import PyArrowTableProxy

    register = con._register_in_memory_table

    def in_one_chunk(op: Any) -> None:
        table = op.data.to_pyarrow(op.schema)
        if any(column.num_chunks > 1 for column in table.columns):
            op = op.copy(data=PyArrowTableProxy(table.combine_chunks()))
        register(op)

    con._register_in_memory_table = in_one_chunk
    return con


def spark_session(master: str, config: Mapping[str, str]) -> Any:
    """This process's SparkSession, created with `master` and the session settings (and `config` over them)
    on first use; later calls get the same session (Spark allows one per process)."""
    from pyspark.sql import SparkSession

    # Python code Spark runs in its workers (Arrow conversions) needs this interpreter's packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("touchpoint")
    for key, value in {**SESSION_CONFIG, **config}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _as_instants(table: Any) -> Any:
    """Spark's TIMESTAMP is an instant shown in the session's zone (UTC here) but reaches Ibis without a zone;
    typed as UTC, times come back as the same instants DuckDB returns (tz-aware, never naive)."""
    naive = [name for name, kind in table.schema().items() if kind.is_timestamp() and kind.timezone is None]
    if not naive:
        return table
    return table.mutate(**{name: table[name].cast(dt.Timestamp(timezone="UTC")) for name in naive})


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)
