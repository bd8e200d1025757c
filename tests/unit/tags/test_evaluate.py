"""Tag evaluation against row-by-row Python: first match wins, buckets, bitmaps equal members."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint.core.errors import ValidationError
from touchpoint.tags.evaluate import Labels, bitmaps, bucket_values, rule_values
from touchpoint.tags.model import TagDef

values = st.one_of(st.none(), st.integers(-5, 5).map(float))
frames = st.lists(st.tuples(values, values), min_size=1, max_size=30)
ops = st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "exists", "not_exists", "between", "in", "not_in"])


@st.composite
def comparisons(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(ops)
    target = draw(st.sampled_from(["x", "y"]))
    if op == "exists":
        return {"indicator": target, "op": "exists", "value": True}
    if op == "not_exists":
        return {"indicator": target, "op": "exists", "value": False}
    if op == "between":
        low = draw(st.integers(-5, 5))
        return {"indicator": target, "op": "between", "value": [low, low + draw(st.integers(0, 4))]}
    if op in ("in", "not_in"):
        return {"indicator": target, "op": op, "value": draw(st.lists(st.integers(-5, 5), max_size=3))}
    return {"indicator": target, "op": op, "value": {"param": "p"} if draw(st.booleans()) else 1}


conditions = st.recursive(
    comparisons(),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c})
        | st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c})
        | inner.map(lambda c: {"not": c})
    ),
    max_leaves=5,
)


def _holds(condition: dict[str, Any], row: dict[str, float | None], p: float) -> bool:
    """The documented semantics, one row at a time: a missing value satisfies no comparison."""
    if "all" in condition:
        return all(_holds(c, row, p) for c in condition["all"])
    if "any" in condition:
        return any(_holds(c, row, p) for c in condition["any"])
    if "not" in condition:
        return not _holds(condition["not"], row, p)
    value = row[condition["indicator"]]
    wanted = p if condition["value"] == {"param": "p"} else condition["value"]
    if condition["op"] == "exists":
        return (value is not None) == wanted
    if value is None:
        return False
    checks = {
        "=": lambda: value == wanted,
        "!=": lambda: value != wanted,
        ">": lambda: value > wanted,
        ">=": lambda: value >= wanted,
        "<": lambda: value < wanted,
        "<=": lambda: value <= wanted,
        "between": lambda: wanted[0] <= value <= wanted[1],
        "in": lambda: value in wanted,
        "not_in": lambda: value not in wanted,
    }
    return bool(checks[condition["op"]]())


@settings(max_examples=200, deadline=None)
@given(rows=frames, cases=st.lists(conditions, min_size=1, max_size=4), p=st.integers(-3, 3))
def test_rule_tags_take_the_first_matching_case(
    rows: list[tuple[float | None, float | None]], cases: list[dict[str, Any]], p: int
) -> None:
    tag = TagDef(
        name="t",
        title="t",
        category="c",
        kind="rule",
        params={"p": p},
        rules=[{"when": c, "value": f"v{i}"} for i, c in enumerate(cases)],
        default="none",
    )
    frame = pd.DataFrame(rows, columns=["x", "y"], dtype=float)
    got = rule_values(tag, frame).values()
    for i, (x, y) in enumerate(rows):
        row = {"x": x, "y": y}
        want = next((f"v{n}" for n, c in enumerate(cases) if _holds(c, row, p)), "none")
        assert got[i] == want, (row, cases)


@settings(max_examples=100, deadline=None)
@given(
    numbers=st.lists(st.one_of(st.none(), st.floats(-100, 100)), min_size=1, max_size=40),
    edges=st.lists(st.integers(-50, 50), min_size=1, max_size=5, unique=True).map(sorted),
)
def test_buckets_match_pandas_cut(numbers: list[float | None], edges: list[int]) -> None:
    labels = [f"b{i}" for i in range(len(edges) + 1)]
    tag = TagDef(
        name="b",
        title="b",
        category="c",
        kind="bucket",
        bucket={"indicator": "x", "edges": edges, "labels": labels},
    )
    frame = pd.DataFrame({"x": pd.Series(numbers, dtype=float)})
    cut = pd.cut(frame["x"], [-math.inf, *edges, math.inf], right=False, labels=labels)
    got = bucket_values(tag, frame).values()
    for mine, theirs in zip(got, cut, strict=True):
        assert (mine is None and pd.isna(theirs)) or mine == theirs


def test_bucket_edges_from_params_must_ascend() -> None:
    tag = TagDef(
        name="b",
        title="b",
        category="c",
        kind="bucket",
        params={"low": 10, "high": 5},
        bucket={"indicator": "x", "edges": [{"param": "low"}, {"param": "high"}], "labels": ["a", "b", "c"]},
    )
    with pytest.raises(ValidationError, match="edges must ascend"):
        bucket_values(tag, pd.DataFrame({"x": [1.0]}))


@settings(max_examples=100, deadline=None)
@given(
    assigned=st.lists(st.one_of(st.none(), st.sampled_from(["高", "中", "低"])), max_size=60),
    offset=st.integers(0, 2**31 - 100),
)
def test_bitmaps_hold_exactly_the_members_of_each_value(assigned: list[str | None], offset: int) -> None:
    uids = np.arange(offset, offset + len(assigned), dtype=np.int64)
    maps = bitmaps(uids, np.array(assigned, dtype=object))
    for value in {v for v in assigned if v is not None}:
        assert set(maps[value]) == {int(u) for u, v in zip(uids, assigned, strict=True) if v == value}
    assert set(maps) == {v for v in assigned if v is not None}  # a missing value has no bitmap


@settings(max_examples=100, deadline=None)
@given(
    choices=st.lists(st.one_of(st.none(), st.sampled_from(["高", "中", "低"])), min_size=1, max_size=5),
    data=st.data(),
)
def test_labels_chosen_by_position_read_back_as_the_choices(
    choices: list[str | None], data: st.DataObject
) -> None:
    """Repeated and missing choices included: values, Arrow, counts and bitmaps all agree with the picks."""
    picks = data.draw(st.lists(st.integers(-1, len(choices) - 1), max_size=40))
    labels = Labels.chosen(np.array(picks, dtype=np.int64), choices)
    expected = [None if p < 0 else choices[p] for p in picks]
    assert list(labels.values()) == expected
    assert labels.arrow().to_pylist() == expected
    held = [v for v in expected if v is not None]
    assert labels.counts() == {v: held.count(v) for v in set(held)}
    uids = np.arange(100, 100 + len(picks))
    members = labels.members(uids)
    assert {v: sorted(m) for v, m in members.items()} == {
        v: [int(u) for u, e in zip(uids, expected, strict=True) if e == v] for v in set(held)
    }


def test_errors_name_the_tag_and_the_unknown_name() -> None:
    rule_tag = TagDef(
        name="t",
        title="t",
        category="c",
        kind="rule",
        rules=[{"when": {"indicator": "x", "op": ">", "value": {"param": "q"}}, "value": "hit"}],
        default="none",
    )
    with pytest.raises(ValidationError, match=r"^tag t: unknown parameter 'q'$"):
        rule_values(rule_tag, pd.DataFrame({"x": [1.0]}))
    # The name reaches a comparison nested inside all / any / not as well.
    nested = {"all": [{"any": [{"not": {"indicator": "x", "op": "=", "value": {"param": "q"}}}]}]}
    nested_tag = TagDef(
        name="t",
        title="t",
        category="c",
        kind="rule",
        rules=[{"when": nested, "value": "hit"}],
        default="none",
    )
    with pytest.raises(ValidationError, match=r"^tag t: unknown parameter 'q'$"):
        rule_values(nested_tag, pd.DataFrame({"x": [1.0]}))
    unknown_indicator = TagDef(
        name="b",
        title="b",
        category="c",
        kind="bucket",
        bucket={"indicator": "z", "edges": [1], "labels": ["lo", "hi"]},
    )
    with pytest.raises(ValidationError, match=r"^tag b: unknown indicator 'z'$"):
        bucket_values(unknown_indicator, pd.DataFrame({"x": [1.0]}))
    unknown_edge = TagDef(
        name="b",
        title="b",
        category="c",
        kind="bucket",
        bucket={"indicator": "x", "edges": [{"param": "cut"}], "labels": ["lo", "hi"]},
    )
    with pytest.raises(ValidationError, match=r"^tag b: unknown parameter 'cut'$"):
        bucket_values(unknown_edge, pd.DataFrame({"x": [1.0]}))


def test_a_rule_value_longer_than_the_default_is_kept_whole() -> None:
    # A one-character default must not size the result's strings: 高净值 stays 高净值, not 高.
    tag = TagDef(
        name="t",
        title="t",
        category="c",
        kind="rule",
        rules=[{"when": {"indicator": "x", "op": ">=", "value": 5}, "value": "高净值"}],
        default="低",
    )
    got = rule_values(tag, pd.DataFrame({"x": [6.0, 1.0, None]})).values()
    assert list(got) == ["高净值", "低", "低"]


def test_a_value_that_is_not_a_number_gets_no_bucket() -> None:
    tag = TagDef(
        name="b",
        title="b",
        category="c",
        kind="bucket",
        bucket={"indicator": "x", "edges": [10], "labels": ["lo", "hi"]},
    )
    frame = pd.DataFrame({"x": pd.Series(["n/a", 5, "12.5", None], dtype=object)})
    assert list(bucket_values(tag, frame).values()) == [None, "lo", "hi", None]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"indicator": "z", "op": ">", "value": 1}, "tag t: unknown indicator 'z'"),
        ({"attribute": "branch", "op": "=", "value": "SH01"}, "tag t: unknown attribute 'branch'"),
    ],
)
def test_an_unknown_column_in_a_rule_is_named_with_its_kind(condition: dict[str, Any], message: str) -> None:
    tag = TagDef(
        name="t",
        title="t",
        category="c",
        kind="rule",
        rules=[{"when": condition, "value": "hit"}],
        default="none",
    )
    with pytest.raises(ValidationError, match=f"^{message}$"):
        rule_values(tag, pd.DataFrame({"x": [1.0]}))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"indicator": "x", "op": ">", "value": 1}, ["yes", "no", "no"]),
        ({"indicator": "x", "op": "=", "value": 0}, ["no", "yes", "no"]),
        ({"indicator": "x", "op": "between", "value": [0, 5]}, ["yes", "yes", "no"]),
        ({"indicator": "x", "op": "in", "value": [{"param": "p"}, 0]}, ["yes", "yes", "no"]),
    ],
)
def test_a_nullable_column_with_na_and_params_inside_lists(
    condition: dict[str, Any], expected: list[str]
) -> None:
    """Pandas' nullable Float64 compares <NA> to <NA>: a missing value still matches nothing, and a
    parameter inside a list value is resolved like a bare one."""
    tag = TagDef(
        name="t",
        title="t",
        category="c",
        kind="rule",
        params={"p": 2.5},
        rules=[{"when": condition, "value": "yes"}],
        default="no",
    )
    frame = pd.DataFrame({"x": pd.array([2.5, 0.0, None], dtype="Float64")})
    assert list(rule_values(tag, frame).values()) == expected


@pytest.mark.parametrize("value", [{"param": "q"}, [1, {"param": "q"}]], ids=["bare", "inside-a-list"])
def test_an_unknown_parameter_is_named_with_its_tag(value: Any) -> None:
    """The error names the tag whose rule refers to the parameter, wherever in the value the reference is."""
    tag = TagDef(
        name="t",
        title="t",
        category="c",
        kind="rule",
        rules=[
            {
                "when": {"indicator": "x", "op": "in" if isinstance(value, list) else "=", "value": value},
                "value": "hit",
            }
        ],
        default="none",
    )
    with pytest.raises(ValidationError, match=r"^tag t: unknown parameter 'q'$"):
        rule_values(tag, pd.DataFrame({"x": [1.0]}))


def test_labels_of_no_value_for_any_row() -> None:
    """A model tag that could not be trained has no value for anyone: every row reads as missing, nothing is
    counted or gets a bitmap, and the stored column is still text (an empty value list must not make it
    Arrow's null type)."""
    labels = Labels.none(3)
    assert labels.codes.tolist() == [-1, -1, -1]
    assert labels.codes.dtype == np.int32
    assert labels.names == ()
    assert labels.values().tolist() == [None, None, None]
    assert labels.counts() == {}
    assert labels.members(np.array([7, 8, 9])) == {}
    column = labels.arrow()
    assert column.type == pa.string()
    assert column.to_pylist() == [None, None, None]
    assert Labels.none(0).values().tolist() == []


def test_labels_of_values_read_back_as_those_values() -> None:
    """Imported or learnt values become codes into their names and read back unchanged, by row, by count,
    as a text column and as one bitmap of uids per value (NaN and None: no value)."""
    labels = Labels.of(np.array(["高", None, "低", "高", float("nan")], dtype=object))
    assert labels.codes.dtype == np.int32
    assert labels.values().tolist() == ["高", None, "低", "高", None]
    assert labels.counts() == {"高": 2, "低": 1}
    assert labels.arrow().to_pylist() == ["高", None, "低", "高", None]
    assert {k: sorted(v) for k, v in labels.members(np.array([10, 11, 12, 13, 14])).items()} == {
        "高": [10, 13],
        "低": [12],
    }
