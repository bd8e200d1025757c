"""What a Context reads from the snapshots: uids in order, indicator columns aligned by uid, tag bitmaps when
named, and condition results remembered once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from pyroaring import BitMap, FrozenBitMap

from segments_support import DAY, make_context
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.segments import context as context_module
from touchpoint.segments.context import as_floats, rows_of, snapshot_data


def test_uids_and_base_are_in_uid_order_whatever_order_they_were_written(tmp_path: Path) -> None:
    context = make_context(tmp_path, [30, 10, 20])
    assert context.uids.tolist() == [10, 20, 30]
    assert context.base.to_pydict() == {"uid": [10, 20, 30], "customer_no": ["C10", "C20", "C30"]}
    assert context.customer_numbers(BitMap([20, 30])) == ["C20", "C30"]


def test_indicator_values_follow_the_base_by_uid(tmp_path: Path) -> None:
    context = make_context(
        tmp_path, [1, 2, 3, 4], indicators={"x": [30.0, 10.0, 40.0]}, indicator_uids=[3, 1, 4]
    )
    values = context.indicator("x")
    assert values[[0, 2, 3]].tolist() == [10.0, 30.0, 40.0]
    assert np.isnan(values[1])  # uid 2 has no indicator row: no value, as the SQL path's left join says


def test_indicator_written_in_base_order_is_read_as_is(tmp_path: Path) -> None:
    context = make_context(tmp_path, [1, 2, 3], indicators={"x": [5, None, 7]})
    values = context.indicator("x")
    assert values[[0, 2]].tolist() == [5.0, 7.0]
    assert np.isnan(values[1])


def test_where_and_universe_on_dense_and_sparse_bases(tmp_path: Path) -> None:
    for folder, uids in (("dense", [5, 6, 7, 8]), ("sparse", [5, 9, 70_000, 70_001])):
        context = make_context(tmp_path / folder, uids)
        assert context.data.dense == (folder == "dense")
        assert context.where(np.array([True, False, True, True])) == BitMap(
            np.array(uids)[[0, 2, 3]].tolist()
        )
        assert context.universe == BitMap(uids)


def test_a_tags_bitmaps_are_deserialized_when_first_named(tmp_path: Path) -> None:
    tags = {"tier": {"a": [1], "b": [2, 3]}, "stage": {"new": [3]}}
    context = make_context(tmp_path, [1, 2, 3], tags=tags)
    assert context.tag_values("tier") == {"a": BitMap([1]), "b": BitMap([2, 3])}
    assert set(context.data._tags) == {"tier"}
    assert context.tag_values("unknown") == {}
    assert context.tag_bitmaps == {
        ("tier", "a"): BitMap([1]),
        ("tier", "b"): BitMap([2, 3]),
        ("stage", "new"): BitMap([3]),
    }


def test_remember_builds_once_and_hands_out_a_frozen_result(tmp_path: Path) -> None:
    context = make_context(tmp_path, [1, 2, 3])
    builds: list[int] = []

    def build() -> BitMap:
        builds.append(1)
        return BitMap([2])

    first = context.remember("k", build)
    assert context.remember("k", build) is first
    assert context.recall("k") is first
    assert context.recall("other") is None
    assert builds == [1]
    assert isinstance(first, FrozenBitMap)
    with pytest.raises(AttributeError):
        first.add(3)  # type: ignore[attr-defined]


def test_remember_keeps_a_bounded_number_of_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context_module, "MEMO_ENTRIES", 2)
    context = make_context(tmp_path, [1, 2, 3])
    for key in ("a", "b", "c"):
        context.remember(key, BitMap)
    assert context.recall("a") is None
    assert context.recall("b") is not None
    assert context.recall("c") is not None


def test_a_result_larger_than_a_quarter_of_the_budget_is_not_kept(tmp_path: Path) -> None:
    context = make_context(tmp_path, [1, 2, 3], cache_bytes=4096)  # results: 1,024 bytes together
    small = context.remember("small", lambda: BitMap([1]))
    large = context.remember("large", lambda: BitMap(range(0, 1 << 16, 2)))  # an 8 KiB bitset container
    assert large == BitMap(range(0, 1 << 16, 2))
    assert context.recall("large") is None
    assert context.recall("small") is small  # not evicted for a result that is not kept


def test_rows_of_finds_each_uid_or_minus_one() -> None:
    uids = np.array([1, 2, 3, 4], dtype=np.uint32)
    assert rows_of(uids, np.array([1, 2, 3, 4])) is None
    assert rows_of(uids, np.array([4, 9, 1, 3])).tolist() == [2, -1, 3, 0]  # type: ignore[union-attr]
    assert rows_of(uids, np.array([], dtype=np.int64)).tolist() == [-1, -1, -1, -1]  # type: ignore[union-attr]


def test_as_floats_reads_numbers_and_leaves_the_rest_missing() -> None:
    ints = as_floats(pa.chunked_array([pa.array([1, None]), pa.array([3])]))
    assert ints[[0, 2]].tolist() == [1.0, 3.0]
    assert np.isnan(ints[1])
    text = as_floats(pa.chunked_array([pa.array(["2.5", "x", None])]))
    assert text[0] == 2.5
    assert np.isnan(text[1:]).all()


def test_a_few_customer_numbers_are_looked_up_without_loading_the_base(tmp_path: Path) -> None:
    context = make_context(tmp_path, [4, 2, 9, 7])
    assert context.customer_numbers(BitMap([9, 2])) == ["C2", "C9"]
    assert "base" not in context.data.__dict__  # looked up by uid in the snapshot
    assert context.customer_numbers(BitMap()) == []


def test_many_customer_numbers_come_from_the_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context_module, "FEW_NUMBERS", 1)
    context = make_context(tmp_path, [4, 2, 9, 7])
    assert context.customer_numbers(BitMap([9, 2, 7])) == ["C2", "C7", "C9"]
    assert "base" in context.data.__dict__


def test_snapshot_data_is_shared_until_one_of_the_snapshots_files_changes(tmp_path: Path) -> None:
    """Contexts of one snapshot share what it loaded and the results built on it; after the indicators are
    recomputed the next context reads the new values and remembers nothing from before."""
    context = make_context(tmp_path, [1, 2, 3], indicators={"x": [1.0, 2.0, 3.0]})
    store = context.analytics
    first = snapshot_data(store, DAY)
    assert snapshot_data(store, DAY) is first
    assert first.customers_day is None
    assert first.indicator("x").tolist() == [1.0, 2.0, 3.0]
    first.remember("k", lambda: BitMap([1]))
    recomputed = pa.table({"uid": [1, 2, 3], "customer_no": ["C1", "C2", "C3"], "x": [9.0, 8.0, 7.0]})
    store.replace_partitions(INDICATOR_VALUES.name, {DAY: recomputed})
    second = snapshot_data(store, DAY)
    assert second is not first
    assert second.indicator("x").tolist() == [9.0, 8.0, 7.0]
    assert second.recall("k") is None
    assert first.indicator("x").tolist() == [1.0, 2.0, 3.0]  # a caller still holding the old data keeps it
    customers = pa.table({"customer_no": ["C2"], "risk_level": ["C3"]})
    store.replace_partitions("customers", {DAY - timedelta(days=1): customers})
    third = snapshot_data(store, DAY)
    assert third is not second
    assert third.customers_day == DAY - timedelta(days=1)
    assert third.attributes["risk_level"].tolist()[1] == "C3"


def test_shared_values_cannot_be_changed_through_a_context(tmp_path: Path) -> None:
    context = make_context(tmp_path, [1, 2], indicators={"x": [1.0, 2.0]}, tags={"t": {"a": [1]}})
    with pytest.raises(ValueError, match="read-only"):
        context.data.indicator_piece("x", 0)[0] = 5.0
    whole = context.indicator("x")  # a copy of the pieces: changing it changes nothing shared
    whole[0] = 5.0
    assert context.indicator("x").tolist() == [1.0, 2.0]
    with pytest.raises(AttributeError):
        context.tag_values("t")["a"].add(2)  # type: ignore[attr-defined]
    universe = context.universe
    universe.add(99)
    assert 99 not in context.universe


def test_the_order_check_compares_each_uid_with_the_one_before() -> None:
    """Out of order although its first uid is the smallest: the order check compares neighbours."""
    assert not context_module._ascending(np.array([10, 30, 20]))
    assert not context_module._ascending(np.array([10, 10, 20]))
    assert context_module._ascending(np.array([10, 20, 30]))


def test_uids_written_out_of_order_after_the_smallest_are_sorted(tmp_path: Path) -> None:
    context = make_context(tmp_path, [10, 30, 20], indicators={"x": [1.0, 3.0, 2.0]})
    assert context.uids.tolist() == [10, 20, 30]
    assert context.indicator("x").tolist() == [1.0, 2.0, 3.0]


def test_rows_of_uids_beyond_every_key_are_missing() -> None:
    found = rows_of(np.array([1, 5, 9], dtype=np.uint32), np.array([2, 1]))
    assert found.tolist() == [1, -1, -1]  # type: ignore[union-attr]


def test_as_floats_of_whole_numbers_in_text_are_floats() -> None:
    values = as_floats(pa.chunked_array([pa.array(["1", "2"])]))
    assert values.dtype == np.float64
    assert values.tolist() == [1.0, 2.0]


def test_a_rule_reads_only_the_columns_and_rows_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An indicator is one column of the snapshot; a sample's customer numbers are the sample's rows; once the
    base is loaded, numbers come from it without another read; exactly FEW_NUMBERS members are still few."""
    context = make_context(tmp_path, [1, 2, 3, 4], indicators={"x": [1, 2, 3, 4], "y": [5, 6, 7, 8]})
    reads: list[tuple[list[str], int]] = []
    read_version = context.analytics.read_version

    def recording(*args: Any, **kwargs: Any) -> pa.Table:
        table = read_version(*args, **kwargs)
        reads.append((table.column_names, table.num_rows))
        return table

    monkeypatch.setattr(context.analytics, "read_version", recording)
    monkeypatch.setattr(context_module, "FEW_NUMBERS", 2)
    context.indicator("x")
    assert ["uid", "x"] in [columns for columns, _ in reads]
    assert all("y" not in columns for columns, _ in reads)
    reads.clear()
    assert context.customer_numbers(BitMap([2, 4])) == ["C2", "C4"]
    assert reads == [(["uid", "customer_no"], 2)]
    assert "base" not in context.data.__dict__
    reads.clear()
    assert context.customer_numbers(BitMap([1, 2])) == ["C1", "C2"]  # the next sample: only C1 is read
    assert reads == [(["uid", "customer_no"], 1)]
    context.base  # noqa: B018 - loaded by a larger request
    reads.clear()
    assert context.customer_numbers(BitMap([3])) == ["C3"]
    assert reads == []


def test_customer_numbers_looked_up_are_kept_within_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context_module, "KNOWN_NUMBERS", 3)
    context = make_context(tmp_path, [1, 2, 3, 4, 5])
    assert context.customer_numbers(BitMap([1, 2])) == ["C1", "C2"]
    assert context.customer_numbers(BitMap([3])) == ["C3"]
    assert set(context.data._numbers) == {1, 2, 3}
    assert context.customer_numbers(BitMap([4, 5])) == ["C4", "C5"]
    assert set(context.data._numbers) == {4, 5}


def test_a_snapshots_data_reads_the_versions_it_was_keyed_on_even_after_a_recompute(tmp_path: Path) -> None:
    """A context that has not loaded an indicator yet when a recomputation commits still reads the version
    its uids came from: the two never mix (the next context reads the new one)."""
    context = make_context(tmp_path, [1, 2, 3], indicators={"x": [1.0, 2.0, 3.0]})
    assert context.uids.tolist() == [1, 2, 3]
    store = context.analytics
    recomputed = pa.table({"uid": [3, 1], "customer_no": ["C3", "C1"], "x": [30.0, 10.0]})
    store.replace_partitions(INDICATOR_VALUES.name, {DAY: recomputed})
    assert context.indicator("x").tolist() == [1.0, 2.0, 3.0]
    assert context.indicator_names == ["x"]
    fresh = snapshot_data(store, DAY)
    assert fresh.indicator("x")[[0, 2]].tolist() == [10.0, 30.0]
    assert np.isnan(fresh.indicator("x")[1])


def test_a_snapshots_data_keeps_the_indicator_pieces_used_last_within_its_budget(tmp_path: Path) -> None:
    """Two customers' floats are 16 bytes a column: a 40-byte budget keeps two columns, the last used."""
    context = make_context(
        tmp_path, [1, 2], indicators={"a": [1, 2], "b": [3, 4], "c": [5, 6]}, cache_bytes=40
    )
    data = context.data
    first = data.indicator_piece("a", 0)
    data.indicator_piece("b", 0)
    assert data.indicator_piece("a", 0) is first  # used again: now b is the oldest
    data.indicator_piece("c", 0)
    assert data.pieces.keys() == [("a", 0), ("c", 0)]
    assert data.pieces.nbytes == 32
    assert context.indicator("b").tolist() == [3.0, 4.0]  # read again when named again
