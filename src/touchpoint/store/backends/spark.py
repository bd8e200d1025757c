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
import pyarrow as pa

# Settings every session gets: UTC so that timestamps mean what the Parquet files say; Arrow both ways so
# results come back as columns, not as rows through Py4J; no UI or event log in an embedded session.
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


class SparkBackend:
    """Turns committed Parquet files into Ibis tables on a PySpark session."""

    name = "spark"

    def __init__(self, master: str = "local[*]", config: Mapping[str, str] | None = None) -> None:
        self._master = master
        # The session is the process's, and so are its directories (spark.local.dir for spills): a
        # deployment sets them in `spark_config`, never per data directory.
        self._config = {**SESSION_CONFIG, **(config or {})}
        self._lock = threading.Lock()
        self._con: Any = None
        self._views: list[str] = []

    @property
    def connection(self) -> Any:
        """The Ibis PySpark backend over this process's SparkSession (created on first use)."""
        with self._lock:
            if self._con is None:
                from pyspark.sql import SparkSession

                # Python code Spark runs in its workers (Arrow conversions) needs this interpreter's packages.
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

                builder = SparkSession.builder.master(self._master).appName("touchpoint")
                for key, value in self._config.items():
                    builder = builder.config(key, value)
                self._con = ibis.pyspark.connect(builder.getOrCreate())
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
        con = self.connection
        view = f"{name}__v{version}_{secrets.token_hex(3)}"
        session = con._session
        if not files:
            frame = session.createDataFrame(schema.empty_table().to_pandas(), schema=_spark_schema(schema))
        else:
            base = str(Path(files[0]).parents[1])
            frame = session.read.options(basePath=base, mergeSchema="true").parquet(*[str(f) for f in files])
        frame.createOrReplaceTempView(view)
        with self._lock:
            self._views.append(view)
        return con.table(view)


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)
