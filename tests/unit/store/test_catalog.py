from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint.store import AnalyticalStore, TableLayout
from touchpoint.store.analytical import catalog as catalog_module
from touchpoint.store.analytical.files import write_parquet_atomic
from touchpoint.store.backends.duckdb import DuckDBBackend

LAYOUT = TableLayout(name="facts", schema=pa.schema([("k", pa.string()), ("v", pa.int64())]), key=("k",))
D1, D2 = date(2026, 1, 5), date(2026, 1, 6)


def _store(root: Path) -> AnalyticalStore:
    return AnalyticalStore(root, [LAYOUT], DuckDBBackend())


def _rows(keys: list[str], values: list[int], dt: date) -> pa.Table:
    return pa.table(
        {"k": keys, "v": pa.array(values, pa.int64()), "dt": pa.array([dt] * len(keys), pa.date32())}
    )


def test_empty_table_reads_as_empty_with_schema(tmp_path: Path) -> None:
    store = _store(tmp_path)
    frame = store.table("facts").to_pandas()
    assert list(frame.columns) == ["k", "v", "dt"]
    assert frame.empty


def test_upsert_replaces_by_key_within_partition(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.upsert("facts", _rows(["a", "b"], [1, 2], D1))
    store.upsert("facts", _rows(["b", "c"], [20, 3], D1))
    store.upsert("facts", _rows(["a"], [100], D2))
    frame = store.table("facts").to_pandas().sort_values(["dt", "k"])
    assert frame[["k", "v"]].values.tolist() == [["a", 1], ["b", 20], ["c", 3], ["a", 100]]
    assert [p.rows for p in store.partitions("facts")] == [3, 1]
    assert store.manifest("facts").version == 3


def test_replace_partitions_leaves_other_dates(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.upsert("facts", _rows(["a", "b"], [1, 2], D1))
    store.upsert("facts", _rows(["x"], [9], D2))
    store.replace_partitions("facts", {D1: _rows(["z"], [0], D1).drop_columns(["dt"])})
    frame = store.table("facts").to_pandas().sort_values("k")
    assert frame["k"].tolist() == ["x", "z"]


def test_crash_before_manifest_swap_keeps_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path)
    store.upsert("facts", _rows(["a", "b"], [1, 2], D1))

    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(catalog_module, "write_bytes_atomic", crash)
    with pytest.raises(OSError, match="disk full"):
        store.upsert("facts", _rows(["a", "c"], [10, 3], D1))
    monkeypatch.undo()
    frame = _store(tmp_path).table("facts").to_pandas().sort_values("k")
    assert frame[["k", "v"]].values.tolist() == [["a", 1], ["b", 2]]


def test_reader_keeps_its_files_while_a_writer_commits(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.upsert("facts", _rows(["a"], [1], D1))
    before = store.table("facts")
    _store(tmp_path).upsert("facts", _rows(["a"], [2], D1))
    assert before.to_pandas()["v"].tolist() == [1]  # superseded files survive the grace period
    assert store.table("facts").to_pandas()["v"].tolist() == [2]


def test_unknown_table_is_named(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="nope"):
        _store(tmp_path).table("nope")


batches = st.lists(
    st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 1000), st.sampled_from([D1, D2])),
        min_size=0,
        max_size=12,
        unique_by=lambda row: (row[0], row[2]),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=40, deadline=None)
@given(batches=batches)
def test_upserts_equal_last_write_wins_in_pandas(
    tmp_path_factory: pytest.TempPathFactory, batches: list
) -> None:
    store = _store(tmp_path_factory.mktemp("cat"))
    expected: dict[tuple[str, date], int] = {}
    for batch in batches:
        if batch:
            keys, values, dts = zip(*batch, strict=True)
            table = pa.table(
                {"k": list(keys), "v": pa.array(values, pa.int64()), "dt": pa.array(dts, pa.date32())}
            )
            store.upsert("facts", table)
        for k, v, dt in batch:
            expected[(k, dt)] = v
    rows = store.table("facts").to_pyarrow().to_pylist()
    assert {(r["k"], r["dt"]): r["v"] for r in rows} == expected
    assert len(rows) == len(expected)


WIDE = TableLayout(
    name="wide", schema=pa.schema([("k", pa.string()), ("v", pa.int64())]), key=("k",), open_schema=True
)


def test_read_partition_reads_only_the_columns_asked_in_their_order(tmp_path: Path) -> None:
    store = AnalyticalStore(tmp_path, [LAYOUT, WIDE], DuckDBBackend())
    store.replace_partitions("wide", {D1: pa.table({"k": ["a", "b"], "v": [1, 2], "x": [0.5, None]})})
    read = store.read_partition("wide", D1, columns=["x", "k"])
    assert read is not None
    assert read.column_names == ["x", "k"]
    assert read.to_pydict() == {"x": [0.5, None], "k": ["a", "b"]}


def test_an_open_tables_partitions_name_their_own_columns(tmp_path: Path) -> None:
    store = AnalyticalStore(tmp_path, [LAYOUT, WIDE], DuckDBBackend())
    store.replace_partitions("wide", {D1: pa.table({"k": ["a"], "v": [1], "x": [0.5]})})
    store.replace_partitions("wide", {D2: pa.table({"k": ["a"], "v": [1], "y": ["z"]})})
    assert store.partition_columns("wide", D1) == ["k", "v", "x"]
    assert store.partition_columns("wide", D2) == ["k", "v", "y"]
    assert store.partition_columns("wide", date(2030, 1, 1)) is None


def test_a_projected_read_conforms_like_a_whole_read(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.replace_partitions("facts", {D1: pa.table({"k": ["a"], "v": pa.array([1], pa.int32())})})
    read = store.read_partition("facts", D1, columns=["v"])
    assert read is not None
    assert read.schema.field("v").type == pa.int64()  # cast to the layout's type, as align_schema does
    assert read["v"].to_pylist() == [1]


def test_a_projected_read_of_a_layout_column_the_file_lacks_is_nulls(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.replace_partitions("facts", {D1: pa.table({"k": ["a", "b"]})})
    read = store.read_partition("facts", D1, columns=["k", "v"])
    assert read is not None
    assert read.to_pydict() == {"k": ["a", "b"], "v": [None, None]}
    assert read.to_pydict() == store.read_partition("facts", D1).to_pydict()  # type: ignore[union-attr]


def test_a_projected_read_of_an_unknown_column_names_it(tmp_path: Path) -> None:
    store = AnalyticalStore(tmp_path, [LAYOUT, WIDE], DuckDBBackend())
    store.replace_partitions("wide", {D1: pa.table({"k": ["a"], "v": [1]})})
    with pytest.raises(KeyError, match="nope"):
        store.read_partition("wide", D1, columns=["k", "nope"])
    assert store.read_partition("wide", D2, columns=["k"]) is None


def test_where_in_reads_only_the_rows_holding_the_values(tmp_path: Path) -> None:
    store = AnalyticalStore(tmp_path, [LAYOUT, WIDE], DuckDBBackend())
    store.replace_partitions("wide", {D1: pa.table({"k": ["a", "b", "c"], "v": [1, 2, 3], "x": [7, 8, 9]})})
    read = store.read_partition("wide", D1, columns=["x"], where_in=("v", [3, 1, 42]))
    assert read is not None
    assert read.to_pydict() == {"x": [7, 9]}
    with pytest.raises(KeyError, match="nope"):
        store.read_partition("wide", D1, columns=["x"], where_in=("nope", [1]))
    with pytest.raises(ValueError, match="named columns"):
        store.read_partition("wide", D1, where_in=("v", [1]))


def test_a_derived_value_is_kept_while_its_partitions_files_are_and_rebuilt_after_a_write(
    tmp_path: Path,
) -> None:
    """The same object again while every source partition has the file it had (another date's write does not
    count), a new one after a write to it; `build` is handed the versions it is keyed on, and a missing
    partition is a source like any other."""
    other = TableLayout(name="other", schema=LAYOUT.schema, key=("k",))
    store = AnalyticalStore(tmp_path, [LAYOUT, other], DuckDBBackend())
    store.upsert("facts", _rows(["a"], [1], D1))
    handed: list[dict[str, Any]] = []

    def build(versions: dict[str, Any]) -> list[int]:
        handed.append(versions)
        return [len(handed)]

    sources = [("facts", D1), ("other", None)]
    first = store.derived("k", sources, build)
    assert handed[0]["other"] is None
    assert store.read_version("facts", handed[0]["facts"])["v"].to_pylist() == [1]
    assert store.derived("k", sources, build) is first
    store.upsert("facts", _rows(["x"], [9], D2))  # another partition: D1's file is unchanged
    assert store.derived("k", sources, build) is first
    store.upsert("facts", _rows(["a"], [2], D1))
    second = store.derived("k", sources, build)
    assert second is not first
    assert len(handed) == 2
    assert store.read_version("facts", handed[0]["facts"])["v"].to_pylist() == [1]  # the pinned version
    assert store.read_version("facts", handed[1]["facts"])["v"].to_pylist() == [2]
    with pytest.raises(ValueError, match="one partition per table"):
        store.derived("k", [("facts", D1), ("facts", D2)], build)


def test_derived_values_of_two_kinds_in_turn_are_both_kept_and_a_third_evicts_the_oldest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "DERIVED_ENTRIES", 2)
    store = _store(tmp_path)
    store.upsert("facts", _rows(["a"], [1], D1))
    store.upsert("facts", _rows(["b"], [2], D2))
    built: list[str] = []

    def value_of(kind: str, day: date) -> object:
        return store.derived(kind, [("facts", day)], lambda _versions: built.append(kind) or object())

    one, two = value_of("d1", D1), value_of("d2", D2)
    assert value_of("d1", D1) is one  # used last: d2 is now the oldest
    assert value_of("d2", D2) is two
    value_of("d3", D1)
    assert value_of("d2", D2) is two
    assert value_of("d1", D1) is not one  # evicted by d3
    assert built == ["d1", "d2", "d3", "d1"]


def test_integer_date_and_time_columns_are_written_as_deltas_and_read_back_whole(tmp_path: Path) -> None:
    """Delta encoding decodes sorted uids and event times several times faster than plain; text keeps its
    dictionary, floats stay plain, and every value (nulls too) reads back as written."""
    table = pa.table(
        {
            "uid": pa.array([1, 2, None], pa.uint32()),
            "n": pa.array([5, -3, 7], pa.int64()),
            "day": pa.array([D1, None, D2]),
            "at": pa.array([1_000, 2_000, 3_000], pa.timestamp("ms", tz="UTC")),
            "x": [0.5, 1.5, None],
            "s": ["a", "b", "a"],
        }
    )
    path = tmp_path / "t.parquet"
    write_parquet_atomic(path, table)
    assert pq.read_table(path).equals(table)
    chunks = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {
        chunks.column(i).path_in_schema: chunks.column(i).encodings for i in range(chunks.num_columns)
    }
    assert all("DELTA_BINARY_PACKED" in encodings[c] for c in ("uid", "n", "day", "at"))
    assert "DELTA_BINARY_PACKED" not in encodings["x"]
    assert "RLE_DICTIONARY" in encodings["s"]
