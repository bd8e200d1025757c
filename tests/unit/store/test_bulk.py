"""Bulk reads bind every value through the driver: quotes, backslashes, NUL and SQL text in a value are data,
never SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, exc, insert, inspect, select

from touchpoint.store.operational.bulk import fetch_arrow, fetch_tuples
from touchpoint.store.operational.db import OperationalStore
from touchpoint.store.operational.types import UTCDateTime

HOSTILE = [
    "O'Brien",
    "''",
    'say "hi"',
    "back\\slash\\",
    "\\'",
    "'; drop table x; --",
    "x'); DELETE FROM things; --",
    "%(name)s %s ? :name $1",
    "张三\u200b🌸",
]
WHEN = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
victim = Table("x", metadata, Column("id", Integer, primary_key=True))


@pytest.fixture
def ops(database_url: str) -> Iterator[OperationalStore]:
    store = OperationalStore(database_url)
    metadata.create_all(store.engine)
    with store.begin() as connection:
        rows = [{"id": i, "name": name, "at": WHEN + timedelta(hours=i)} for i, name in enumerate(HOSTILE)]
        connection.execute(insert(things), rows)
        connection.execute(insert(victim), [{"id": 1}])
    yield store
    store.dispose()


def test_hostile_values_are_bound_not_inlined(ops: OperationalStore) -> None:
    with ops.begin() as connection:
        for i, name in enumerate(HOSTILE):
            assert fetch_tuples(connection, select(things.c.id).where(things.c.name == name)) == [(i,)]
        every = select(things.c.id, things.c.name).where(things.c.name.in_(HOSTILE))
        found = fetch_tuples(connection, every.order_by(things.c.id))
        assert found == list(enumerate(HOSTILE))
        assert fetch_tuples(connection, select(victim.c.id)) == [(1,)]
    assert {"things", "x"} <= set(inspect(ops.engine).get_table_names())


def test_typed_parameters_go_through_their_column_type(ops: OperationalStore) -> None:
    with ops.begin() as connection:
        later = fetch_tuples(connection, select(things.c.id).where(things.c.at >= WHEN + timedelta(hours=7)))
    assert sorted(later) == [(7,), (8,)]


def test_a_nul_byte_is_data_on_sqlite_and_refused_cleanly_on_postgresql(ops: OperationalStore) -> None:
    query = select(things.c.id).where(things.c.name.in_(["a\x00b", "O'Brien"]))
    if ops.dialect == "sqlite":
        with ops.begin() as connection:
            connection.execute(insert(things).values(id=100, name="a\x00b", at=WHEN))
            assert sorted(fetch_tuples(connection, query)) == [(0,), (100,)]
        return
    # PostgreSQL text cannot hold NUL: the driver refuses the value itself, before any SQL runs.
    with pytest.raises(exc.DataError), ops.begin() as connection:
        fetch_tuples(connection, query)
    with ops.begin() as connection:
        assert fetch_tuples(connection, select(victim.c.id)) == [(1,)]


def test_an_empty_in_list_reads_nothing(ops: OperationalStore) -> None:
    with ops.begin() as connection:
        assert fetch_tuples(connection, select(things.c.id).where(things.c.name.in_([]))) == []


@pytest.mark.parametrize("chunk", [1, 4, 100])
def test_fetch_arrow_reads_every_row_in_order_whatever_the_chunk(ops: OperationalStore, chunk: int) -> None:
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
    query = select(things.c.id, things.c.name).where(things.c.name.in_(HOSTILE)).order_by(things.c.id)
    with ops.begin() as connection:
        table = fetch_arrow(connection, query, schema, chunk=chunk)
        nothing = fetch_arrow(connection, query.where(things.c.id < 0), schema, chunk=chunk)
    assert table.schema == schema
    assert table.to_pylist() == [{"id": i, "name": name} for i, name in enumerate(HOSTILE)]
    assert nothing.num_rows == 0
    assert nothing.schema == schema
