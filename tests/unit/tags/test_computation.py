"""The daily computation labels customers a range at a time (ADR 0004): the snapshots it writes are those of
the whole population labelled at once, whatever the range size, and the partial-feed guard summed over
ranges gives the verdict it gives on the whole (and that a brute-force pandas count gives)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM
from touchpoint.indicators import IndicatorDef
from touchpoint.tags import learn
from touchpoint.tags.guard import MissingInputsGuard, missing_input_problem
from touchpoint.tags.inspect import tag_detail
from touchpoint.tags.model import TagDef
from touchpoint.tags.service import compute, list_tags

from .conftest import DEMO_END

SNAPSHOTS = ("indicator_values", "tag_values", "tag_bitmaps")


def _snapshots(container: Container) -> dict[str, pa.Table]:
    read = {name: container.analytics.read_partition(name, DEMO_END) for name in SNAPSHOTS}
    assert all(table is not None for table in read.values())
    return {name: table for name, table in read.items() if table is not None}


def test_every_range_size_writes_the_whole_computation_s_snapshots(demo: Container) -> None:
    compute(env=demo, principal=SYSTEM, day=DEMO_END, range_rows=1_000_000)
    whole = _snapshots(demo)
    customers = whole["indicator_values"].num_rows
    assert customers == 800
    # 97 leaves a short last range; 799 splits off the last customer alone.
    for rows in (97, customers - 1):
        compute(env=demo, principal=SYSTEM, day=DEMO_END, range_rows=rows)
        ranged = _snapshots(demo)
        # The engine sums floats in parallel, in an order that varies from run to run in the last bits.
        pd.testing.assert_frame_equal(
            ranged["indicator_values"].to_pandas(), whole["indicator_values"].to_pandas(), rtol=1e-12
        )
        for name in ("tag_values", "tag_bitmaps"):
            assert ranged[name].equals(whole[name]), (rows, name)
    uids = whole["tag_values"]["uid"].to_numpy()
    assert (uids[1:] > uids[:-1]).all()  # one row per customer, in uid order
    values = whole["tag_values"].to_pandas()
    models = [t.name for t in list_tags(env=demo).values() if t.kind == "model"]
    assert models
    assert all(values[m].notna().all() for m in models)


def test_model_tags_train_on_a_sample_of_a_large_population(
    demo: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(learn, "MODEL_SAMPLE_ROWS", 400)
    compute(env=demo, principal=SYSTEM, day=DEMO_END, range_rows=150)
    models = [t.name for t in list_tags(env=demo).values() if t.kind == "model"]
    values = _snapshots(demo)["tag_values"].to_pandas()
    assert models
    for name in models:
        metrics = tag_detail(env=demo, name=name)["model_metrics"]
        assert metrics["sampled_from"] == 800
        assert (metrics["train_rows"], metrics["holdout_rows"]) == (300, 100)
        assert values[name].notna().all(), name  # trained on 400, every customer banded


DAY = date(2026, 3, 2)
A = IndicatorDef(
    name="a",
    title="a",
    source="assets",
    aggregation="sum",
    column="total_assets",
    window={"kind": "snapshot"},
)
B = IndicatorDef(
    name="b",
    title="b",
    source="assets",
    aggregation="max",
    column="total_assets",
    window={"kind": "snapshot"},
)
TAGS = [
    TagDef(
        name="reads_a",
        title="reads a",
        category="t",
        kind="rule",
        rules=[{"when": {"indicator": "a", "op": ">", "value": 0}, "value": "pos"}],
        default="other",
    ),
    TagDef(
        name="reads_a_b",
        title="reads a and b",
        category="t",
        kind="rule",
        rules=[
            {"when": {"indicator": "a", "op": ">", "value": 0}, "value": "a"},
            {"when": {"indicator": "b", "op": ">", "value": 0}, "value": "b"},
        ],
    ),
]
VALUES = st.one_of(st.none(), st.sampled_from([-1.0, 0.0, 3.0]))
TAG_VALUES = st.one_of(st.none(), st.sampled_from(["x", "y"]))
ROW = st.tuples(VALUES, VALUES, TAG_VALUES, TAG_VALUES)


def _result(
    uids: list[int], rows: list[tuple[float | None, float | None, str | None, str | None]]
) -> tuple[pa.Table, pa.Table]:
    numbers = [f"C{u}" for u in uids]
    a, b, t1, t2 = (list(column) for column in zip(*rows, strict=True)) if rows else ([], [], [], [])
    indicators = pa.table(
        {
            "uid": pa.array(uids, pa.int64()),
            "customer_no": pa.array(numbers, pa.string()),
            "a": pa.array(a, pa.float64()),
            "b": pa.array(b, pa.float64()),
        }
    )
    values = pa.table(
        {
            "uid": pa.array(uids, pa.int64()),
            "customer_no": pa.array(numbers, pa.string()),
            "reads_a": pa.array(t1, pa.string()),
            "reads_a_b": pa.array(t2, pa.string()),
        }
    )
    return indicators, values


def _brute_force(
    old: pa.Table, old_tags: pa.Table, new: pa.Table, new_tags: pa.Table
) -> dict[str, tuple[int, int]]:
    """Per tag (moved, customers), straight from the definition with pandas."""
    before = old.to_pandas().merge(old_tags.to_pandas(), on=["uid", "customer_no"])
    after = new.to_pandas().merge(new_tags.to_pandas(), on=["uid", "customer_no"])
    both = before.merge(after, on="customer_no", suffixes=("_old", "_new"))
    lost = {i: both[f"{i}_old"].notna() & both[f"{i}_new"].isna() for i in ("a", "b")}
    found = {}
    for tag, reads in (("reads_a", ["a"]), ("reads_a_b", ["a", "b"])):
        old_value, new_value = both[f"{tag}_old"], both[f"{tag}_new"]
        changed = ~((old_value == new_value) | (old_value.isna() & new_value.isna()))
        went = pd.concat([lost[i] for i in reads], axis=1).any(axis=1)
        found[tag] = (int((went & changed).sum()), len(both))
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    old_rows=st.lists(ROW, max_size=14),
    new_rows=st.lists(ROW, max_size=14),
    offset=st.integers(0, 6),
    range_rows=st.integers(1, 5),
)
def test_the_guard_summed_over_ranges_gives_the_whole_verdict(
    sqlite_container: Container,
    old_rows: list[tuple[float | None, float | None, str | None, str | None]],
    new_rows: list[tuple[float | None, float | None, str | None, str | None]],
    offset: int,
    range_rows: int,
) -> None:
    analytics = sqlite_container.analytics
    old, old_tags = _result(list(range(1, len(old_rows) + 1)), old_rows)
    # The new population overlaps the old one from `offset` on, and may hold customers the old lacks.
    new, new_tags = _result(list(range(1 + offset, 1 + offset + len(new_rows))), new_rows)
    analytics.replace_partitions("indicator_values", {DAY: old})
    analytics.replace_partitions("tag_values", {DAY: old_tags})
    definitions = {"a": A, "b": B}
    expected = _brute_force(old, old_tags, new, new_tags)
    for share in (0.0, 0.2, 0.5):
        whole = missing_input_problem(
            analytics=analytics,
            day=DAY,
            definitions=definitions,
            tags=TAGS,
            indicators=new,
            values=new_tags,
            max_share=share,
        )
        guard = MissingInputsGuard(analytics=analytics, day=DAY, definitions=definitions, tags=TAGS)
        for start in range(0, new.num_rows, range_rows):
            guard.add(new.slice(start, range_rows), new_tags.slice(start, range_rows))
        assert guard.problem(share) == whole
        refused = {tag for tag, (moved, customers) in expected.items() if moved > share * customers}
        if not refused:
            assert whole is None
            continue
        assert whole is not None
        for tag in refused:
            moved, customers = expected[tag]
            assert f"{tag} {moved:,} of {customers:,}" in whole
