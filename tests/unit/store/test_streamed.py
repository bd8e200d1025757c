"""Results too big to hold: a partition written in pieces (keys ascending, visible only once committed) and an
engine's result staged and read back in order, piece by piece."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint.store import AnalyticalStore, TableLayout
from touchpoint.store.analytical import files
from touchpoint.store.analytical.streamed import STAGING
from touchpoint.store.backends.duckdb import DuckDBBackend

SNAPSHOT = TableLayout(
    name="snap", schema=pa.schema([("uid", pa.int64()), ("v", pa.string())]), key=("uid",), open_schema=True
)
FACTS = TableLayout(name="facts", schema=pa.schema([("k", pa.string())]), key=("k",), key_scope="table")
D1, D2 = date(2026, 1, 5), date(2026, 1, 6)
SCHEMA = pa.schema([("uid", pa.int64()), ("v", pa.string()), ("x", pa.float64())])


def _store(root: Path) -> AnalyticalStore:
    return AnalyticalStore(root, [SNAPSHOT, FACTS], DuckDBBackend())


def _piece(uids: list[int]) -> pa.Table:
    return pa.table(
        {"uid": pa.array(uids, pa.int64()), "v": [f"v{u}" for u in uids], "x": [u / 2 for u in uids]},
        schema=SCHEMA,
    )


def test_pieces_committed_replace_the_partition_in_one_version(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.replace_partitions("snap", {D1: _piece([1, 2]).select(["uid", "v"])})
    with store.partition_writer("snap", D1, SCHEMA) as writer:
        writer.write(_piece([3, 5]))
        writer.write(_piece([]))
        writer.write(_piece([8]))
        assert store.read_partition("snap", D1).num_rows == 2  # nothing visible before the commit
        committed = store.commit_written("snap", {D1: writer}, origin="run-1")
    assert [(p.rows, p.version, p.origin) for p in committed] == [(3, 2, "run-1")]
    assert store.read_partition("snap", D1).to_pydict() == _piece([3, 5, 8]).to_pydict()
    assert store.partition_columns("snap", D1) == ["uid", "v", "x"]
    assert not [p for p in (tmp_path / "snap").rglob("*") if p.name.endswith(".partial")]


def test_a_writer_not_committed_leaves_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)

    def fail_midway() -> None:
        with store.partition_writer("snap", D2, SCHEMA) as writer:
            writer.write(_piece([1, 2]))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_midway()
    assert store.partitions("snap") == []
    assert list((tmp_path / "snap").rglob("*.parquet*")) == []


@pytest.mark.parametrize("pieces", [[[2, 1]], [[1, 1]], [[1, 4], [4, 5]], [[3], [2]]])
def test_keys_out_of_order_or_repeated_are_refused(tmp_path: Path, pieces: list[list[int]]) -> None:
    store = _store(tmp_path)
    with store.partition_writer("snap", D1, SCHEMA) as writer:
        for uids in pieces[:-1]:
            writer.write(_piece(uids))
        with pytest.raises(ValueError, match="ascend"):
            writer.write(_piece(pieces[-1]))


def test_only_snapshot_tables_keyed_by_one_column_are_written_in_pieces(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(ValueError, match="in pieces"), store.partition_writer("facts", D1, FACTS.schema):
        pass
    with (
        pytest.raises(ValueError, match="missing columns"),
        store.partition_writer("snap", D1, pa.schema([("v", pa.string())])),
    ):
        pass


def test_where_range_reads_the_rows_between_both_bounds(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.replace_partitions("snap", {D1: _piece([1, 3, 5, 7, 9])})
    read = store.read_partition("snap", D1, columns=["v"], where_range=("uid", 3, 7))
    assert read is not None
    assert read["v"].to_pylist() == ["v3", "v5", "v7"]
    with pytest.raises(ValueError, match="named columns"):
        store.read_partition("snap", D1, where_range=("uid", 1, 2))
    # Text bounds on a number column are the filter's to refuse, never turned into numbers and searched.
    with pytest.raises(pa.ArrowException):
        store.read_partition("snap", D1, columns=["v"], where_range=("uid", "3", "12"))


@settings(max_examples=60, deadline=None)
@given(
    uids=st.lists(st.integers(-50, 50), unique=True, max_size=40),
    ordered=st.booleans(),
    bounds=st.tuples(st.integers(-60, 60), st.integers(-60, 60)),
    group=st.integers(1, 6),
)
def test_where_range_over_many_row_groups_is_the_brute_force_filter(
    tmp_path_factory: pytest.TempPathFactory,
    uids: list[int],
    ordered: bool,
    bounds: tuple[int, int],
    group: int,
) -> None:
    """Sorted or not, in row groups of any size: the rows in the range, in file order, none else."""
    written = sorted(uids) if ordered else uids
    store = _store(tmp_path_factory.mktemp("range"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files, "ROW_GROUP_ROWS", group)
        store.replace_partitions("snap", {D1: _piece(written)})
    low, high = bounds
    read = store.read_partition("snap", D1, columns=["v", "uid"], where_range=("uid", low, high))
    assert read is not None
    kept = [
        u for u in store.read_partition("snap", D1, columns=["uid"])["uid"].to_pylist() if low <= u <= high
    ]
    assert read["uid"].to_pylist() == kept
    assert read["v"].to_pylist() == [f"v{u}" for u in kept]


def test_where_range_decodes_only_the_row_groups_it_overlaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path)
    monkeypatch.setattr(files, "ROW_GROUP_ROWS", 3)
    store.replace_partitions("snap", {D1: _piece(list(range(30)))})  # ten row groups of three uids
    decoded: list[list[int]] = []
    read_row_groups = pq.ParquetFile.read_row_groups

    def spying(self: pq.ParquetFile, groups: list[int], *args: object, **kwargs: object) -> pa.Table:
        decoded.append(list(groups))
        return read_row_groups(self, groups, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spying)
    read = store.read_partition("snap", D1, columns=["x"], where_range=("uid", 7, 10))
    assert read is not None
    assert read["x"].to_pylist() == [3.5, 4.0, 4.5, 5.0]
    assert decoded == [[2, 3]]


@settings(max_examples=40, deadline=None)
@given(
    uids=st.lists(st.integers(-1000, 1000), unique=True, max_size=60),
    rows=st.integers(1, 25),
    taken=st.lists(st.integers(0, 59), unique=True),
)
def test_a_staged_result_reads_back_in_order_piece_by_piece(
    tmp_path_factory: pytest.TempPathFactory, uids: list[int], rows: int, taken: list[int]
) -> None:
    store = _store(tmp_path_factory.mktemp("staged"))
    with store.staging() as staging:
        staged = staging.write("t", ibis.memtable(_piece(uids)), order_by="uid")
        pieces = list(staged.pieces(rows, ["uid", "x"]))
        assert all(0 < p.num_rows <= rows for p in pieces)
        expected = _piece(sorted(uids))
        assert staged.num_rows == len(uids)
        assert pa.concat_tables([*pieces, expected.select(["uid", "x"]).slice(0, 0)]).equals(
            expected.select(["uid", "x"])
        )
        assert staged.read().equals(expected)
        positions = np.array(sorted(p for p in taken if p < len(uids)), dtype=np.int64)
        assert staged.take(positions, ["v"]).equals(expected.select(["v"]).take(positions))
        assert staged.table().count().to_pyarrow().as_py() == len(uids)
        directory = staging.directory
    assert not directory.exists()
    assert (store.root / STAGING).exists()


def test_small_pieces_are_gathered_into_row_groups_of_the_store_s_size(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.partition_writer("snap", D1, SCHEMA) as writer:
        for start in range(0, 150, 3):
            writer.write(_piece([start, start + 1, start + 2]))
        (info,) = store.commit_written("snap", {D1: writer})
    parquet = pq.ParquetFile(tmp_path / "snap" / info.file)
    assert parquet.metadata.num_row_groups == 1
    assert store.read_partition("snap", D1).equals(_piece(list(range(150))))


def test_staged_integer_sums_stay_exact_past_a_double_s_precision(tmp_path: Path) -> None:
    # DuckDB sums integers as 128-bit integers, which its Parquet writer would store as doubles.
    big = 2**53 + 1
    table = ibis.memtable(pa.table({"k": ["a", "a", "b"], "v": pa.array([big, 2, big], pa.int64())}))
    store = _store(tmp_path)
    with store.staging() as staging:
        staged = staging.write("sums", table.group_by("k").agg(total=table.v.sum()), order_by="k")
        read = staged.read()
    assert read.schema.field("total").type == pa.int64()
    assert read.to_pydict() == {"k": ["a", "b"], "total": [big + 2, big]}
