"""The bitmap path's own machinery: intersection order, the two ways of testing a column condition inside
`all`, and the results a context remembers between previews."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyroaring import BitMap

from segments_support import make_context
from touchpoint.segments import bitmap as bitmap_module
from touchpoint.segments.bitmap import evaluate, intersect
from touchpoint.segments.context import Context
from touchpoint.segments.service import read_rule

UIDS = list(range(1, 201))
TAGS = {"tier": {"gold": list(range(1, 201, 3)), "silver": list(range(2, 201, 3))}}
RULE = {
    "all": [
        {"tag": "tier", "in": ["gold", "silver"]},
        {"indicator": "assets", "op": ">=", "value": 50},
        {"indicator": "trades", "op": "between", "value": [1, 3]},
    ]
}


def _context(root: Path) -> Context:
    rng = np.random.default_rng(7)
    assets = rng.integers(0, 100, len(UIDS)).astype(float)
    assets[::17] = np.nan  # customers without a value pass no comparison
    indicators: dict[str, list[Any]] = {
        "assets": assets.tolist(),
        "trades": rng.integers(0, 5, len(UIDS)).tolist(),
    }
    return make_context(root, UIDS, indicators=indicators, tags=TAGS)


def _expected(context: Context) -> BitMap:
    assets, trades = context.indicator("assets"), context.indicator("trades")
    tiered = set(TAGS["tier"]["gold"]) | set(TAGS["tier"]["silver"])
    passing = (assets >= 50) & (trades >= 1) & (trades <= 3)
    return BitMap(u for u, ok in zip(UIDS, passing, strict=True) if ok and u in tiered)


@pytest.mark.parametrize("few", [0, 10**9], ids=["candidates", "whole-columns"])
def test_both_ways_of_testing_columns_inside_all_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    monkeypatch.setattr(bitmap_module, "FEW", few)  # 0: never few candidates; 10**9: always few
    context = _context(tmp_path)
    assert evaluate(read_rule(RULE), context) == _expected(context)


def test_a_repeated_preview_reuses_every_condition_and_an_edit_builds_one(tmp_path: Path) -> None:
    context = _context(tmp_path)
    first = evaluate(read_rule(RULE), context)
    remembered = dict(context.data._memo)
    assert len(remembered) == 3  # the tag and both columns (whole columns: 2/3 of the base are candidates)
    assert evaluate(read_rule(RULE), context) == first
    assert context.data._memo == remembered
    edited = {"all": [*RULE["all"][:1], {"indicator": "assets", "op": ">=", "value": 60}, RULE["all"][2]]}
    evaluate(read_rule(edited), context)
    assert len(context.data._memo) == 4
    assert all(context.data._memo[k] is v for k, v in remembered.items())


def test_a_result_can_be_changed_without_changing_what_is_remembered(tmp_path: Path) -> None:
    context = _context(tmp_path)
    leaf = read_rule({"tag": "tier", "in": ["gold"]})
    members = evaluate(leaf, context)
    members.clear()
    assert evaluate(leaf, context) == BitMap(TAGS["tier"]["gold"])


def test_intersect_leaves_the_common_members_and_its_inputs_alone() -> None:
    small, large = BitMap([2, 4]), BitMap(range(10))
    assert intersect([large, small, BitMap([4, 5])]) == BitMap([4])
    assert intersect([large]) == large
    assert intersect([large]) is not large
    assert small == BitMap([2, 4])
    assert intersect([BitMap(), large]) == BitMap()
