"""Indicator columns held by uid range: each shard read from its own rows, kept within the budget, and every
answer the same as the whole column's (brute force over the aligned column, for any shard size)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroaring import BitMap

from segments_support import make_context
from support import examples
from touchpoint.segments import shards
from touchpoint.segments.shards import PieceCache, in_parallel, spans


def test_spans_cut_the_base_into_runs_of_the_shard_size() -> None:
    assert spans(0, 4) == []
    assert spans(3, 4) == [(0, 3)]
    assert spans(9, 4) == [(0, 4), (4, 8), (8, 9)]
    assert spans(8, 4) == [(0, 4), (4, 8)]


def test_the_piece_cache_drops_the_least_recently_used_past_its_budget() -> None:
    cache = PieceCache(budget=48)
    a, b, c = (np.zeros(2) for _ in range(3))  # 16 bytes each
    cache.put("a", a)
    cache.put("b", b)
    cache.put("c", c)
    assert cache.get("a") is a  # a is now the most recently used
    cache.put("d", np.zeros(2))
    assert cache.keys() == ["c", "a", "d"]
    assert cache.nbytes == 48
    cache.put("a", np.zeros(4))  # replaced by a larger one (32 bytes): the oldest, c, makes room
    assert cache.keys() == ["d", "a"]
    assert cache.nbytes == 48
    large = np.zeros(10)
    assert cache.put("large", large) is large  # handed back, not kept: it alone exceeds the budget
    assert cache.get("large") is None
    assert cache.nbytes <= 48


def test_in_parallel_keeps_the_order_of_its_items() -> None:
    assert in_parallel(lambda n: n * n, range(50)) == [n * n for n in range(50)]
    assert in_parallel(lambda n: n, []) == []


def test_in_parallel_called_from_its_own_threads_runs_inline() -> None:
    """More outer tasks than threads, each waiting on inner ones: inline, or every thread would wait."""
    outer = shards.THREADS * 3
    found = in_parallel(lambda i: sum(in_parallel(lambda j: i * j, range(4))), range(outer))
    assert found == [6 * i for i in range(outer)]


def test_an_indicator_condition_on_an_empty_base_selects_nobody(tmp_path: Path) -> None:
    context = make_context(tmp_path, [], indicators={"x": pa.array([], pa.float64())})
    assert context.indicator_where("x", lambda v: v > 0) == BitMap()
    assert context.indicator("x").tolist() == []


def test_a_piece_owns_its_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a view of the row groups read (those would stay in memory, uncounted by the budget)."""
    monkeypatch.setattr(shards, "SHARD_ROWS", 2)
    context = make_context(tmp_path, [1, 2, 3, 4], indicators={"x": [1.0, 2.0, 3.0, 4.0]})
    piece = context.data.indicator_piece("x", 1)
    assert piece.tolist() == [3.0, 4.0]
    assert piece.base is None


def _brute_force(base: list[int], held: list[int], values: list[float | None]) -> np.ndarray:
    """The indicator aligned to the base: each base uid's value, NaN where it has none."""
    by_uid = {uid: (np.nan if value is None else value) for uid, value in zip(held, values, strict=True)}
    return np.array([by_uid.get(uid, np.nan) for uid in base], dtype=float)


@st.composite
def _snapshots(draw: st.DrawFn) -> dict[str, Any]:
    """A base (dense or with gaps), an indicator snapshot holding some of its customers and maybe others,
    in uid order or not, some values missing; a shard size and a budget of a few pieces."""
    size = draw(st.integers(1, 30))
    start = draw(st.integers(1, 70_000))
    if draw(st.booleans()):
        base = list(range(start, start + size))
    else:
        base = sorted(draw(st.sets(st.integers(1, 200_000), min_size=size, max_size=size)))
    held = [uid for uid in base if draw(st.booleans())] + draw(
        st.lists(st.integers(200_001, 200_050), max_size=3, unique=True)
    )
    if draw(st.booleans()):
        held = draw(st.permutations(held))
    values = [draw(st.none() | st.floats(-1e6, 1e6, allow_nan=False)) for _ in held]
    return {
        "base": base,
        "held": held,
        "values": values,
        "rows": draw(st.integers(1, 7)),
        "budget": draw(st.integers(8, 200)),
        "threshold": draw(st.floats(-1e6, 1e6, allow_nan=False)),
    }


@settings(max_examples=examples(60), deadline=None)
@given(_snapshots())
def test_sharded_reads_answer_as_the_whole_column(case: dict[str, Any]) -> None:
    base, held, values = case["base"], case["held"], case["values"]
    expected = _brute_force(base, held, values)
    with tempfile.TemporaryDirectory() as root, pytest.MonkeyPatch.context() as patch:
        patch.setattr(shards, "SHARD_ROWS", case["rows"])
        column = pa.array(values, pa.float64()) if held else pa.array([], pa.float64())
        context = make_context(
            Path(root), base, indicators={"x": column}, indicator_uids=held, cache_bytes=case["budget"]
        )
        data = context.data
        threshold = case["threshold"]
        passing = data.indicator_where("x", lambda v: v >= threshold)
        with np.errstate(invalid="ignore"):
            wanted = np.array(base)[expected >= threshold]
        assert passing == BitMap(wanted.tolist())
        assert data.pieces.nbytes <= case["budget"]
        positions = np.flatnonzero(np.arange(len(base)) % 3 == 0)
        np.testing.assert_array_equal(data.indicator_at("x", positions), expected[positions])
        np.testing.assert_array_equal(context.indicator("x"), expected)
        assert data.pieces.nbytes <= case["budget"]
        assert len(data.shards) == -(-len(base) // case["rows"])


def test_values_at_a_few_positions_read_only_their_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shards, "SHARD_ROWS", 4)
    uids = list(range(1, 13))
    context = make_context(tmp_path, uids, indicators={"x": [float(u) for u in uids]})
    assert len(context.uids) == 12  # the base's uids, read first
    reads: list[int] = []
    read_version = context.analytics.read_version

    def recording(*args: Any, **kwargs: Any) -> pa.Table:
        table = read_version(*args, **kwargs)
        reads.append(table.num_rows)
        return table

    monkeypatch.setattr(context.analytics, "read_version", recording)
    assert context.indicator_at("x", np.array([5, 6])).tolist() == [6.0, 7.0]
    assert reads == [4]  # the second shard's four rows, not the column
    assert context.data.pieces.keys() == [("x", 1)]


def test_a_condition_on_an_indicator_is_the_union_of_its_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shards that straddle a Roaring container's edge (65,536 uids) give the same members as one shard."""
    monkeypatch.setattr(shards, "SHARD_ROWS", 1_000)
    uids = list(range(60_000, 72_000))
    values = [float(u % 7) for u in uids]
    context = make_context(tmp_path, uids, indicators={"x": values})
    members = context.indicator_where("x", lambda v: v == 3.0)
    assert len(context.data.shards) == 12
    assert members == BitMap(u for u in uids if u % 7 == 3)
