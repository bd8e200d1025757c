"""A partial assets feed never reads as zero assets, and a result that moves many tags because inputs went
missing is refused (the previous one stays) unless an operator forces it. On both operational stores."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pytest

from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.indicators import IndicatorDef, save_indicator
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.tags.guard import MAX_SHARE, MissingInputsError
from touchpoint.tags.model import TagDef
from touchpoint.tags.service import compute, recent_compute_runs, save_tag

CUSTOMERS = [f"C{i:02d}" for i in range(1, 11)]
MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)
# Eight trading days after MONDAY: a row of MONDAY is then older than the default 5 trading days.
LATER = date(2026, 3, 12)


def _load(container: Container, table: str, data: pa.Table, day: date | None = None) -> None:
    import_arrow(
        env=container,
        principal=SYSTEM,
        table=table,
        data=data,
        options=ImportOptions(business_date=day, force=True),
        source_name=f"{table}-{day}",
    )


def _assets(container: Container, day: date, values: dict[str, float]) -> None:
    _load(
        container,
        "assets",
        pa.table(
            {"customer_no": list(values), "date": [day] * len(values), "total_assets": list(values.values())}
        ),
    )


def _library(container: Container) -> None:
    _load(container, "customers", pa.table({"customer_no": CUSTOMERS}), MONDAY)
    save_indicator(
        env=container,
        principal=SYSTEM,
        definition=IndicatorDef(
            name="total_assets",
            title="总资产",
            source="assets",
            aggregation="sum",
            column="total_assets",
            window={"kind": "snapshot"},
        ),
    )
    tier = TagDef(
        name="tier",
        title="资产等级",
        category="资产",
        kind="rule",
        params={"mass": 10_000},
        rules=[
            {"when": {"indicator": "total_assets", "op": ">=", "value": {"param": "mass"}}, "value": "大众"},
            {"when": {"indicator": "total_assets", "op": "exists"}, "value": "长尾"},
        ],
    )
    churn = TagDef(
        name="churn",
        title="流失预警",
        category="生命周期",
        kind="rule",
        params={"nearly_empty": 100},
        rules=[
            {
                "when": {"indicator": "total_assets", "op": "<", "value": {"param": "nearly_empty"}},
                "value": "流失预警",
            }
        ],
        default="正常",
    )
    save_tag(env=container, principal=SYSTEM, tag=tier)
    save_tag(env=container, principal=SYSTEM, tag=churn)
    _assets(container, MONDAY, dict.fromkeys(CUSTOMERS, 50_000.0))
    compute(env=container, principal=SYSTEM, day=MONDAY)


def _tags(container: Container, day: date) -> dict[str, tuple[str | None, str | None]]:
    table = container.analytics.read_partition("tag_values", day)
    assert table is not None
    rows = table.to_pylist()
    return {r["customer_no"]: (r["tier"], r["churn"]) for r in rows}


def test_a_partial_feed_within_the_staleness_limit_moves_nobody(container: Container) -> None:
    _library(container)
    _assets(container, TUESDAY, {"C01": 60_000.0, "C02": 50.0})  # a partial file: 2 of 10 customers
    compute(env=container, principal=SYSTEM, day=TUESDAY)
    values = _tags(container, TUESDAY)
    assert values["C02"] == ("长尾", "流失预警")  # C02 really emptied the account
    # The other eight keep Monday's 50,000: not 0, not 长尾, not 流失预警.
    assert {values[c] for c in CUSTOMERS[2:]} == {("大众", "正常")}


def test_a_result_that_loses_inputs_for_many_customers_is_refused_until_forced(
    container: Container, clock: VirtualClock
) -> None:
    _library(container)
    clock.advance(timedelta(hours=1))
    _assets(container, LATER, {"C01": 60_000.0, "C02": 70_000.0})
    with pytest.raises(MissingInputsError) as refused:
        compute(env=container, principal=SYSTEM, day=LATER)
    message = str(refused.value)
    assert "tier 8 of 10 (80%)" in message
    assert "churn" not in message  # missing assets leave churn at its default 正常: nobody moved
    assert "total_assets (assets) for 8" in message
    assert "--force" in message
    assert [p.dt for p in container.analytics.partitions("tag_values")] == [MONDAY]
    runs = recent_compute_runs(env=container)
    assert (runs[0]["business_date"], runs[0]["status"]) == (LATER.isoformat(), "failed")
    assert runs[0]["error"] == message

    result = compute(env=container, principal=SYSTEM, day=LATER, force=True)
    assert result["forced"] == message
    values = _tags(container, LATER)
    assert values["C01"] == ("大众", "正常")
    assert {values[c] for c in CUSTOMERS[2:]} == {(None, "正常")}  # no value, not the lowest tier


@pytest.mark.parametrize("left_out", [0, 1, 2, 3, 10])
def test_the_limit_is_a_share_of_customers_moved_by_missing_inputs(
    container: Container, left_out: int
) -> None:
    _library(container)
    _assets(container, LATER, dict.fromkeys(CUSTOMERS[left_out:], 50_000.0))
    refused = left_out / len(CUSTOMERS) > MAX_SHARE  # 2 of 10 is exactly 20 %: still accepted
    if refused:
        with pytest.raises(MissingInputsError, match=f"tier {left_out} of 10"):
            compute(env=container, principal=SYSTEM, day=LATER)
    else:
        compute(env=container, principal=SYSTEM, day=LATER)
    stored = [p.dt for p in container.analytics.partitions("tag_values")]
    assert stored == ([MONDAY] if refused else [MONDAY, LATER])


def test_a_complete_feed_may_move_everyone(container: Container) -> None:
    _library(container)
    _assets(container, TUESDAY, dict.fromkeys(CUSTOMERS, 0.0))  # a market crash, not a missing file
    compute(env=container, principal=SYSTEM, day=TUESDAY)
    assert set(_tags(container, TUESDAY).values()) == {("长尾", "流失预警")}


def test_customers_who_joined_since_the_last_result_are_compared_by_number_not_position(
    container: Container,
) -> None:
    _library(container)
    # New customers sort before the old ones and have no earlier result: only the ten old customers
    # are compared, each with their own earlier values, whatever their position in either result.
    joined = ["A01", "A02", "A03"]
    _load(container, "customers", pa.table({"customer_no": joined + CUSTOMERS[::-1]}), LATER)
    _assets(container, LATER, dict.fromkeys(joined + CUSTOMERS[:7], 50_000.0))
    with pytest.raises(MissingInputsError, match=r"tier 3 of 10 \(30%\)"):
        compute(env=container, principal=SYSTEM, day=LATER)
    _assets(container, LATER, dict.fromkeys(joined + CUSTOMERS[:8], 50_000.0))
    compute(env=container, principal=SYSTEM, day=LATER)
    mass = {c for c, v in _tags(container, LATER).items() if v == ("大众", "正常")}
    assert mass == {*joined, *CUSTOMERS[:8]}
