"""The Spark backend reads committed files as DuckDB does: widened columns, UTC instants, only its views."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from support import spark_or_skip
from touchpoint.store.backends.duckdb import DuckDBBackend

pytestmark = pytest.mark.spark

AT = datetime(2026, 3, 30, 17, 30, tzinfo=UTC)  # 01:30 on 03-31 in Beijing


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    spark_or_skip()
    from touchpoint.store.backends.spark import SparkBackend

    backend = SparkBackend("local[1]")
    yield backend
    backend.close()


def _write(root: Path, day: date, table: pa.Table) -> Path:
    path = root / "values" / f"dt={day.isoformat()}" / "part-1.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def test_partitions_of_different_columns_and_types_read_as_on_duckdb(spark: Any, tmp_path: Path) -> None:
    """An open table: a column an int in one partition, a float in the next, never filled in a third."""
    files = [
        _write(tmp_path, date(2026, 3, 30), pa.table({"c": ["A"], "score": pa.array([1], pa.int32())})),
        _write(tmp_path, date(2026, 3, 31), pa.table({"c": ["B"], "score": [2.5], "extra": ["x"]})),
        _write(tmp_path, date(2026, 4, 1), pa.table({"c": ["C"], "score": pa.nulls(1)})),
    ]
    schema = pa.schema([("c", pa.string()), ("dt", pa.date32())])
    got = spark.read_parquet_files("values", 3, files, schema).order_by("c").to_pyarrow()
    expected = DuckDBBackend().read_parquet_files("values", 3, files, schema).order_by("c").to_pyarrow()
    assert got.column("score").to_pylist() == expected.column("score").to_pylist() == [1.0, 2.5, None]
    assert got.column("extra").to_pylist() == [None, "x", None]
    assert got.column("dt").to_pylist() == [date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1)]


def test_times_are_utc_instants(spark: Any, tmp_path: Path) -> None:
    times = pa.array([AT], pa.timestamp("us", tz="UTC"))
    files = [_write(tmp_path, date(2026, 3, 31), pa.table({"c": ["A"], "time": times}))]
    table = spark.read_parquet_files("values", 1, files, pa.schema([]))
    assert table.schema()["time"].timezone == "UTC"
    got = table.mutate(beijing=table.time.cast("timestamp('Asia/Shanghai')").date()).to_pyarrow()
    assert got.column("time").to_pylist() == [AT]
    assert got.column("time").type.tz == "UTC"
    assert table.filter(table.time >= datetime(2026, 3, 30, 17, tzinfo=UTC)).count().to_pyarrow().as_py() == 1


def test_an_empty_table_has_the_layouts_columns(spark: Any) -> None:
    schema = pa.schema([("c", pa.string()), ("n", pa.float64()), ("dt", pa.date32())])
    table = spark.read_parquet_files("values", 0, [], schema)
    assert table.count().to_pyarrow().as_py() == 0
    assert list(table.schema().names) == ["c", "n", "dt"]


def test_close_drops_only_its_own_views(spark: Any, tmp_path: Path) -> None:
    from touchpoint.store.backends.spark import SparkBackend

    files = [_write(tmp_path, date(2026, 3, 31), pa.table({"c": ["A"]}))]
    other = SparkBackend("local[1]")  # the process's one session, shared
    mine = other.read_parquet_files("values", 1, files, pa.schema([]))
    kept = spark.read_parquet_files("values", 1, files, pa.schema([]))
    other.close()
    assert kept.count().to_pyarrow().as_py() == 1
    with pytest.raises(Exception, match=r"(?i)not found|cannot be found|TABLE_OR_VIEW"):
        mine.count().to_pyarrow()


def test_views_of_versions_nobody_holds_are_dropped(spark: Any, tmp_path: Path) -> None:
    """A long-running process reads a new version at every compaction: the views of versions no expression
    holds any more go, and one still held keeps working however many versions come after it."""
    import gc

    files = [_write(tmp_path, date(2026, 3, 31), pa.table({"c": ["A", "B"]}))]
    held = spark.read_parquet_files("values", 1, files, pa.schema([]))
    counted = held.filter(held.c == "B")
    for version in range(2, 22):
        spark.read_parquet_files("values", version, files, pa.schema([])).count().to_pyarrow()
        gc.collect()
    latest = spark.read_parquet_files("values", 22, files, pa.schema([]))
    session = spark.connection._session
    names = [t.name for t in session.catalog.listTables() if t.name.startswith("values__v")]
    assert len(names) <= 3, names  # the held one, the latest, at most one not yet dropped
    assert counted.count().to_pyarrow().as_py() == 1
    assert latest.count().to_pyarrow().as_py() == 2


def test_an_in_memory_table_in_several_chunks_reaches_spark_whole(spark: Any) -> None:
    """Spark takes an in-memory table in slices of 10,000 rows: a slice across two chunks of a text column
    (pandas 3 keeps text in Arrow's chunks) failed the query."""
    import ibis

    half = pa.table({"id_value": [f"id{i}" for i in range(6_000)], "person_uid": list(range(6_000))})
    ids = pa.concat_tables([half, half])
    assert ids["id_value"].num_chunks == 2
    found = spark.connection.to_pyarrow(
        ibis.memtable(ids).aggregate(rows=ibis._.count(), people=ibis._.person_uid.nunique())
    )
    assert found.to_pylist() == [{"rows": 12_000, "people": 6_000}]


def test_a_result_staged_by_spark_reads_back_in_order_with_exact_integers_and_times(
    spark: Any, tmp_path: Path
) -> None:
    from touchpoint.store import AnalyticalStore

    big = 2**53 + 1
    when = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    source = pa.table(
        {
            "uid": pa.array([3, 1, 2, 1], pa.int64()),
            "v": pa.array([big, big, 5, 2], pa.int64()),
            "at": pa.array([when] * 4, pa.timestamp("us", tz="UTC")),
        }
    )
    store = AnalyticalStore(tmp_path, [], spark)
    table = ibis.memtable(source)
    expr = table.group_by("uid").agg(total=table.v.sum(), last=table.at.max())
    with store.staging() as staging:
        staged = staging.write("sums", expr, order_by="uid")
        read = pa.concat_tables(staged.pieces(2))
        again = staged.table().order_by("uid").to_pyarrow()
    assert read.column_names == ["uid", "total", "last"]
    assert read["uid"].to_pylist() == [1, 2, 3]
    assert read["total"].to_pylist() == [big + 2, 5, big]
    assert read["total"].type == pa.int64()
    assert read["last"].to_pylist() == [when] * 3
    assert again["total"].to_pylist() == [big + 2, 5, big]
