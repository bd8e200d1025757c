"""Reading and writing many rows fast: results as plain tuples straight from the database driver, and rows
written with their values bound once per column kind and handed to the driver in one call.

SQLAlchemy's Row objects cost more than the query itself at a million rows; lookups that load a whole table
(One ID's customer numbers and aliases) read through the driver's cursor instead. Its per-row parameter
handling likewise cost more than the database's own work when a journey batch writes its runs, steps and
outbox rows; those go through `insert_rows` and `update_rows`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import ColumnElement, Connection, Select, Table, bindparam, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

_UNSEEN = object()  # what a bind processor's memory holds before its first value


def fetch_tuples(connection: Connection, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of `query` as a plain tuple from the driver's cursor, values as the driver returns them.

    The statement runs through SQLAlchemy, so its parameters are bound by the driver (qmark on SQLite,
    pyformat on psycopg; IN lists expanded, column types' bind processing applied): no value is ever inlined
    into the SQL text. Only the rows skip SQLAlchemy's Row objects, which cost more than the query at a
    million rows.
    """
    result = connection.execute(query)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def fetch_arrow(
    connection: Connection, query: Select[Any], schema: pa.Schema, chunk: int = 100_000
) -> pa.Table:
    """Every row of `query` as an Arrow table of `schema` (its columns in the query's order).

    Bound like `fetch_tuples`; the driver's tuples are turned into Arrow `chunk` rows at a time, each chunk in
    one call (as struct values), so a few million rows never stand in memory as Python objects at once.
    """
    row = pa.struct(list(schema))
    batches: list[pa.RecordBatch] = []
    result = connection.execute(query)
    try:
        while rows := result.cursor.fetchmany(chunk):
            batches.append(pa.RecordBatch.from_struct_array(pa.array(rows, type=row)))
    finally:
        result.close()
    return pa.Table.from_batches(batches, schema=schema)


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
    # A row comes back only when inserted (rowcount is -1 on psycopg once the insert returns its new id).
    return connection.execute(statement.returning(*table.primary_key.columns)).first() is not None


def bind_processor(connection: Connection, column: ColumnElement[Any]) -> Callable[[Any], Any]:
    """The function turning a value into what the driver is given for `column` (its type's bind processing,
    as SQLAlchemy would apply it), for `insert_bound`."""
    process = column.type._cached_bind_processor(connection.dialect)
    return process if process is not None else _identity


def result_processor(connection: Connection, column: ColumnElement[Any]) -> Callable[[Any], Any]:
    """The function turning what the driver returns for `column` into its Python value (its type's result
    processing, as SQLAlchemy would apply it), for rows read with `fetch_tuples`."""
    process = column.type._cached_result_processor(connection.dialect, None)
    return process if process is not None else _identity


def insert_bound(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows whose values are already bound (see `bind_processor`) in one executemany.

    SQLAlchemy's executemany processes each value of each row in Python, which costs more than SQLite's
    insert: a writer of many rows binds what repeats (a group's timestamp) once, and the rest itself. The
    values are parameters of a compiled INSERT, never inlined into its text."""
    if not rows:
        return
    compiled = insert(table).compile(dialect=connection.dialect, column_keys=list(rows[0]))
    if compiled.positional:
        names = list(compiled.positiontup or ())
        parameters: list[Any] = [tuple(row[name] for name in names) for row in rows]
    else:
        parameters = list(rows)
    connection.exec_driver_sql(compiled.string, parameters)


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows of Python values (every row with the same keys) in one statement.

    Each value is bound by its column's own processing. On SQLite the rows go to the driver's executemany:
    SQLAlchemy's per-row parameter handling cost more than SQLite's insert (a journey tick writes three rows
    per step). On PostgreSQL they are streamed with COPY, three times faster than the driver's executemany
    (a statement per row, pipelined) and ten times faster than multi-row VALUES with RETURNING; the values
    travel as data in the copy stream, never in the statement's text. A table with Python-side defaults
    for columns the rows leave out goes through SQLAlchemy, which fills them."""
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        insert_bound(connection, table, bound_rows(connection, table, rows))
    elif connection.dialect.name == "postgresql" and not _defaults_left_out(table, rows[0]):
        _copy_rows(connection, table, bound_rows(connection, table, rows))
    else:
        connection.execute(insert(table), list(rows))


def _defaults_left_out(table: Table, row: dict[str, Any]) -> bool:
    return any(c.default is not None and c.name not in row for c in table.columns)


def _copy_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Stream bound rows into `table` with COPY, within the connection's transaction."""
    names = list(rows[0])
    quote = connection.dialect.identifier_preparer.quote
    target = f"{quote(table.name)} ({', '.join(quote(name) for name in names)})"
    if table.schema:
        target = f"{quote(table.schema)}.{target}"
    statement = f"COPY {target} FROM STDIN"
    dbapi_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[name] for name in names])
    except dbapi_error as exc:
        # The driver's own cursor bypasses SQLAlchemy, which would have wrapped the error: wrap it the same
        # way, so that callers see IntegrityError for a unique key and OperationalError for a lost
        # connection (consumers retry the latter instead of taking the batch for poison).
        raise sa_exc.DBAPIError.instance(statement, None, exc, dbapi_error) from exc
    finally:
        cursor.close()


def update_rows(
    connection: Connection, table: Table, key: str | tuple[str, ...], rows: Sequence[dict[str, Any]]
) -> None:
    """Set columns of many rows, each found by its value of the column `key` — or of the columns, a tuple
    — (every row a dict with the same keys, the key columns among them, each key once), in one statement.
    The key must be indexed. On a partitioned table, name the partition key among the key columns: each
    row is then looked for in its own partition only.

    The values are bound as `insert_rows` binds them and are parameters, never inlined into the statement's
    text. On SQLite they go to the driver's executemany; on PostgreSQL each column travels as one array and
    a single UPDATE joins the table with their `unnest` (a statement per row, even pipelined, cost three
    quarters of a journey batch's time there); elsewhere through SQLAlchemy's executemany."""
    if not rows:
        return
    keys = (key,) if isinstance(key, str) else key
    if len({tuple(row[k] for k in keys) for row in rows}) < len(rows):  # which would win differs by database
        raise ValueError(f"update_rows: a {table.name}.{'/'.join(keys)} appears twice in one call")
    names = [name for name in rows[0] if name not in keys]
    if connection.dialect.name == "postgresql":
        _update_by_unnest(connection, table, keys, names, bound_rows(connection, table, rows))
        return
    statement = (
        update(table)
        .where(*(table.c[k] == bindparam(f"where_{k}") for k in keys))
        .values({name: bindparam(f"set_{name}") for name in names})
    )
    if connection.dialect.name != "sqlite":
        parameters = [
            {f"set_{n}": row[n] for n in names} | {f"where_{k}": row[k] for k in keys} for row in rows
        ]
        connection.execute(statement, parameters)
        return
    bound = bound_rows(connection, table, rows)
    compiled = statement.compile(dialect=connection.dialect, column_keys=[])
    order = [name.removeprefix("set_").removeprefix("where_") for name in compiled.positiontup or ()]
    connection.exec_driver_sql(compiled.string, [tuple(row[name] for name in order) for row in bound])


def _update_by_unnest(
    connection: Connection,
    table: Table,
    keys: tuple[str, ...],
    names: list[str],
    rows: Sequence[dict[str, Any]],
) -> None:
    """PostgreSQL: UPDATE … FROM unnest(one array per column) joined on the keys; the arrays are parameters.

    Joined row by row through the key's index (a nested loop): the planner, counting the array's rows
    against the table's, chose a hash join over a scan of every row — 4.3 s for 10,000 runs among 5.1M in
    the 16 partitions of journey_runs, against 0.3 s by index with the partition key named (1.1 s without).
    """
    quote = connection.dialect.identifier_preparer.quote
    columns = [*keys, *names]
    arrays = ", ".join(
        f"%(c{i})s::{table.c[name].type.compile(dialect=connection.dialect)}[]"
        for i, name in enumerate(columns)
    )
    target = quote(table.name) if not table.schema else f"{quote(table.schema)}.{quote(table.name)}"
    sets = ", ".join(f"{quote(name)} = v.{quote(name)}" for name in names)
    joined = " AND ".join(f"{target}.{quote(k)} = v.{quote(k)}" for k in keys)
    statement = (
        f"UPDATE {target} SET {sets} FROM unnest({arrays}) AS v({', '.join(quote(c) for c in columns)}) "
        f"WHERE {joined}"
    )
    # For this statement only: the settings as they were are read while they are turned off, and put back
    # after it (a failure aborts the transaction, whose end undoes them anyway).
    before = connection.exec_driver_sql(
        f"SELECT name, setting, set_config(name, 'off', true) FROM pg_settings WHERE name IN {_JOINS}"
    ).all()
    connection.exec_driver_sql(
        statement, {f"c{i}": [row[name] for row in rows] for i, name in enumerate(columns)}
    )
    connection.exec_driver_sql(
        "SELECT set_config(n, v, true) FROM unnest(%(n)s::text[], %(v)s::text[]) AS s(n, v)",
        {"n": [name for name, _, _ in before], "v": [value for _, value, _ in before]},
    )


_JOINS = "('enable_hashjoin', 'enable_mergejoin')"  # the planner's join methods other than the nested loop


def bound_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` with each value turned into what the driver is given for its column (`bind_processor`).

    A value that is the same object as the one before it in its column is bound once: a batch's rows share
    their timestamp, and binding it again for every row and column was 13 % of a journey tick."""
    names = list(rows[0])
    processors = [(name, bind_processor(connection, table.c[name])) for name in names]
    plain = [name for name, process in processors if process is _identity]
    processed = [(name, _Memo(process)) for name, process in processors if process is not _identity]
    bound = []
    for row in rows:
        values = {name: row[name] for name in plain}
        for name, memo in processed:
            values[name] = memo(row[name])
        bound.append(values)
    return bound


class _Memo:
    """A bind processor that remembers its last input by identity."""

    __slots__ = ("_last", "_process", "_result")

    def __init__(self, process: Callable[[Any], Any]) -> None:
        self._process = process
        self._last: Any = _UNSEEN
        self._result: Any = None

    def __call__(self, value: Any) -> Any:
        if value is not self._last:
            self._last, self._result = value, self._process(value)
        return self._result


def _identity(value: Any) -> Any:
    return value
