"""Tables of an existing data warehouse, read through Spark's catalog (a Hive metastore).

A brokerage's warehouse already holds its customers, assets and trades; `ingest/warehouse.py` maps them to
the canonical tables and brings them in through the import checks. This module only reads: the columns of a
table, the values of its date partition column, and one partition's rows as Arrow, selecting and renaming
the mapped columns in Spark so that only they leave the cluster.

Names come from the deployment's mapping file and are checked to be plain identifiers before they are quoted
into SQL; a partition value is always a bound parameter, never part of the SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
"""A column, table or database name the mapping may use (Hive's own names, no quoting tricks)."""


def quote_identifier(name: str) -> str:
    """`name` in backquotes, after checking it is a plain identifier (ValueError otherwise)."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain column or table name (letters, digits, _)")
    return f"`{name}`"


def quote_table(name: str) -> str:
    """`db.table` (or `table`) quoted part by part."""
    parts = name.split(".")
    if len(parts) > 2:
        raise ValueError(f"{name!r}: a table is named `database.table` or `table`")
    return ".".join(quote_identifier(part) for part in parts)


class SparkWarehouse:
    """Reads mapped warehouse tables through a SparkSession whose catalog is the brokerage's metastore."""

    def __init__(self, session: Callable[[], Any]) -> None:
        self._make_session = session
        self._made: Any = None

    def _session(self) -> Any:
        if self._made is None:
            self._made = self._make_session()
        return self._made

    def columns(self, table: str) -> dict[str, bool]:
        """Each column of `table` and whether it is a partition column; LookupError when there is no such
        table in the catalog."""
        session = self._session()
        if not session.catalog.tableExists(table):
            catalog = session.conf.get("spark.sql.catalogImplementation", "in-memory")
            hint = "" if catalog == "hive" else f" (Spark's catalog is {catalog!r}, not a Hive metastore)"
            raise LookupError(f"the warehouse has no table {table}{hint}")
        return {c.name: bool(c.isPartition) for c in session.catalog.listColumns(table)}

    def partitions(self, table: str, column: str) -> list[str]:
        """The distinct values of `column` in `table`, as text: read from the metastore's partition list
        when it is a partition column, else from the rows."""
        quoted = quote_table(table)
        session = self._session()
        if self.columns(table).get(column, False):
            values = set()
            for row in session.sql(f"SHOW PARTITIONS {quoted}").collect():
                for part in str(row[0]).split("/"):
                    key, _, value = part.partition("=")
                    if unquote(key) == column:
                        values.add(unquote(value))
            return sorted(values)
        rows = session.sql(f"SELECT DISTINCT CAST({quote_identifier(column)} AS STRING) FROM {quoted}")
        return sorted(str(r[0]) for r in rows.collect() if r[0] is not None)

    def read(self, table: str, select: Sequence[tuple[str, str]], column: str, value: str) -> pa.Table:
        """The rows of `table` whose `column` is `value`, with each (source, name) of `select` read as
        `name`, as one Arrow table."""
        items = ", ".join(f"{quote_identifier(src)} AS {quote_identifier(name)}" for src, name in select)
        query = (
            f"SELECT {items} FROM {quote_table(table)} "
            f"WHERE CAST({quote_identifier(column)} AS STRING) = :partition"
        )
        session = self._session()
        rows = session.sql(query, args={"partition": value}).toArrow()
        return _wall_times(rows, session.conf.get("spark.sql.session.timeZone"))


def _wall_times(rows: pa.Table, session_zone: str) -> pa.Table:
    """A Hive TIMESTAMP is a wall-clock time with no zone. Spark reads it as that time in the session's zone
    and hands it over as an instant; that instant's wall time in the session's zone is the stored time again,
    which an import reads as the brokerage's local time, as it reads a naive time in any file."""
    for index, field in enumerate(rows.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            zoned = rows.column(index).cast(pa.timestamp(field.type.unit, tz=session_zone))
            naive = pc.local_timestamp(zoned)
            rows = rows.set_column(index, pa.field(field.name, naive.type), naive)
    return rows
