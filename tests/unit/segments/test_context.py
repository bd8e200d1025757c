"""What a Context reads from the snapshots: uids in order, indicator columns aligned by uid, tag bitmaps when
named, and condition results remembered once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pyroaring import BitMap, FrozenBitMap

from segments_support import make_context
from touchpoint.segments import context as context_module
from touchpoint.segments.context import as_floats, rows_of


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
        assert context.dense == (folder == "dense")
        assert context.where(np.array([True, False, True, True])) == BitMap(
            np.array(uids)[[0, 2, 3]].tolist()
        )
        assert context.universe == BitMap(uids)


def test_a_tags_bitmaps_are_deserialized_when_first_named(tmp_path: Path) -> None:
    tags = {"tier": {"a": [1], "b": [2, 3]}, "stage": {"new": [3]}}
    context = make_context(tmp_path, [1, 2, 3], tags=tags)
    assert context.tag_values("tier") == {"a": BitMap([1]), "b": BitMap([2, 3])}
    assert set(context._tags) == {"tier"}
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
    assert "base" not in context.__dict__  # looked up by uid in the snapshot
    assert context.customer_numbers(BitMap()) == []


def test_many_customer_numbers_come_from_the_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context_module, "FEW_NUMBERS", 1)
    context = make_context(tmp_path, [4, 2, 9, 7])
    assert context.customer_numbers(BitMap([9, 2, 7])) == ["C2", "C7", "C9"]
    assert "base" in context.__dict__
