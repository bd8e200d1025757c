"""Reading many rows fast: a whole result as plain tuples straight from the database driver.

SQLAlchemy's Row objects cost more than the query itself at a million rows; lookups that load a whole table
(One ID's customer numbers and aliases) read through the driver's cursor instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite


def fetch_tuples(connection: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of `query` as a tuple; the query's parameters are inlined, so use it for constants only."""
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def copy_table(source: Connection, target: Connection, table: Table, batch: int = 20_000) -> int:
    """Copy every row of `table` from one database to another (same schema); returns how many."""
    result = source.execute(select(table)).mappings()
    copied = 0
    while rows := result.fetchmany(batch):
        target.execute(insert(table), [dict(r) for r in rows])
        copied += len(rows)
    return copied


def insert_ignoring_duplicates(connection: Connection, table: Table, row: dict[str, Any]) -> bool:
    """Insert a row unless one with its primary key exists (INSERT … ON CONFLICT DO NOTHING), so concurrent
    writers of the same row never abort each other's transaction; True when this call inserted it."""
    dialect: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**row).on_conflict_do_nothing()
    return bool(connection.execute(statement).rowcount)
