"""Bulk reads and writes bind every value through the driver: quotes, backslashes, NUL and SQL text in a
value are data, never SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, exc, insert, inspect, select

from touchpoint.store.operational.bulk import fetch_arrow, fetch_tuples, insert_rows, update_rows
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
owned = Table(  # a key of two columns, as journey_runs' (id, customer_no)
    "owned",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner", Text, primary_key=True),
    Column("name", Text, nullable=False),
)


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


def _all_things(ops: OperationalStore) -> list[tuple[int, str, datetime]]:
    with ops.begin() as connection:
        return [tuple(r) for r in connection.execute(select(things).order_by(things.c.id))]  # type: ignore[misc]


def test_update_rows_sets_each_row_by_its_key_and_nothing_else(ops: OperationalStore) -> None:
    shared = WHEN + timedelta(days=1)  # one object in several rows: bound once, stored in each
    before = _all_things(ops)
    changes = [
        {"id": 1, "name": HOSTILE[5], "at": shared},
        {"id": 3, "name": "三", "at": shared},
        {"id": 4, "name": HOSTILE[6], "at": WHEN - timedelta(minutes=1)},
        {"id": 99, "name": "nobody has this key", "at": shared},
    ]
    with ops.begin() as connection:
        update_rows(connection, things, "id", changes)
    after = _all_things(ops)
    expected = {i: (i, name, at) for i, name, at in before}
    expected |= {c["id"]: (c["id"], c["name"], c["at"]) for c in changes if c["id"] in expected}
    assert after == [expected[i] for i in sorted(expected)]
    assert all(at.tzinfo is UTC for _, _, at in after)
    with ops.begin() as connection:
        assert fetch_tuples(connection, select(victim.c.id)) == [(1,)]


def test_update_rows_with_the_key_first_or_last_and_no_rows(ops: OperationalStore) -> None:
    twice = [{"id": 2, "name": "a"}, {"id": 2, "name": "b"}]
    with pytest.raises(ValueError, match=r"things\.id appears twice"), ops.begin() as connection:
        update_rows(connection, things, "id", twice)
    with ops.begin() as connection:
        update_rows(connection, things, "id", [])
        update_rows(connection, things, "id", [{"name": "last key", "id": 2}])
        update_rows(connection, things, "name", [{"name": "last key", "at": WHEN}])
    assert _all_things(ops)[2] == (2, "last key", WHEN)


def test_update_rows_by_a_key_of_two_columns_sets_only_the_row_both_name(ops: OperationalStore) -> None:
    with ops.begin() as connection:
        connection.execute(
            insert(owned), [{"id": i, "owner": o, "name": "old"} for i in (1, 2) for o in ("a", "b")]
        )
    changes = [{"id": 1, "owner": "b", "name": HOSTILE[5]}, {"name": "二", "owner": "a", "id": 2}]
    with ops.begin() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:  # the caller's own planner settings, as they were, come back for what follows
            connection.exec_driver_sql("SET LOCAL enable_hashjoin = off")
        update_rows(connection, owned, ("id", "owner"), changes)
        if postgres:
            assert connection.exec_driver_sql("SHOW enable_hashjoin").scalar() == "off"
            assert connection.exec_driver_sql("SHOW enable_mergejoin").scalar() == "on"
        rows = connection.execute(select(owned).order_by(owned.c.id, owned.c.owner)).all()
    expected = [(1, "a", "old"), (1, "b", HOSTILE[5]), (2, "a", "二"), (2, "b", "old")]
    assert [tuple(r) for r in rows] == expected
    with pytest.raises(ValueError, match=r"owned\.id/owner appears twice"), ops.begin() as connection:
        update_rows(connection, owned, ("id", "owner"), [changes[0], changes[0]])


def test_insert_rows_binds_a_repeated_object_and_distinct_equal_values_alike(ops: OperationalStore) -> None:
    shared = WHEN + timedelta(days=2)
    rows = [
        {"id": 200, "name": "a", "at": shared},
        {"id": 201, "name": "b", "at": shared},
        {"id": 202, "name": "c", "at": WHEN + timedelta(days=3)},
        {"id": 203, "name": "d", "at": shared},
        {"id": 204, "name": "e", "at": (WHEN + timedelta(days=2)).astimezone(timezone(timedelta(hours=8)))},
    ]
    with ops.begin() as connection:
        insert_rows(connection, things, rows)
    stored = {i: at for i, _, at in _all_things(ops) if i >= 200}
    assert stored == {200: shared, 201: shared, 202: WHEN + timedelta(days=3), 203: shared, 204: shared}


def test_a_duplicate_key_in_insert_rows_is_sqlalchemys_integrity_error_and_keeps_nothing(
    ops: OperationalStore,
) -> None:
    # On PostgreSQL the rows go through the driver's own COPY, past SQLAlchemy's wrapping: a caller still sees
    # IntegrityError (a consumer tells a conflict from a lost connection, its transient errors, by the type).
    rows = [{"id": 400, "name": "new", "at": WHEN}, {"id": 0, "name": "taken", "at": WHEN}]
    with pytest.raises(exc.IntegrityError), ops.begin() as connection:
        insert_rows(connection, things, rows)
    assert [i for i, _, _ in _all_things(ops) if i == 400] == []


def test_insert_rows_keeps_every_value_as_data(ops: OperationalStore) -> None:
    # On PostgreSQL the rows travel in a COPY stream, whose text format has its own escapes: a tab, a line
    # break, a backslash and its NULL marker `\N` must arrive as written.
    names = [*HOSTILE, "tab\there", "line\nbreak", "\\N", "\\.", "end\\"]
    rows = [{"id": 300 + i, "name": name, "at": WHEN} for i, name in enumerate(names)]
    with ops.begin() as connection:
        insert_rows(connection, things, rows)
    assert [(i - 300, name) for i, name, _ in _all_things(ops) if i >= 300] == list(enumerate(names))
    with ops.begin() as connection:
        assert fetch_tuples(connection, select(victim.c.id)) == [(1,)]
