"""The default brokerage library: its size and shape, and its values on the demo against pandas."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from pyroaring import BitMap

from touchpoint.bootstrap import Container
from touchpoint.core.calendar import TradingCalendar
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.tags.definitions_io import default_library, parse_yaml
from touchpoint.tags.inspect import CATEGORY_ORDER
from touchpoint.tags.layout import TAG_BITMAPS, TAG_VALUES
from touchpoint.tags.references import compares, conditions_of

from .conftest import DEMO_END

INDICATORS, TAGS = parse_yaml(default_library())
CATEGORIES = set(CATEGORY_ORDER)  # the catalogue's top level, in the order staff read it


def test_the_library_is_large_enough_and_spans_the_catalogue() -> None:
    assert len(INDICATORS) >= 40
    assert len(TAGS) >= 30
    assert {t.category.split("/")[0] for t in TAGS} >= CATEGORIES
    assert {t.kind for t in TAGS} == {"rule", "bucket", "model", "imported"}
    assert sum(t.kind == "model" for t in TAGS) >= 2
    asset_tier = next(t for t in TAGS if t.name == "asset_tier")
    assert asset_tier.params["high_net_worth"] == 6_000_000
    assert asset_tier.possible_values() == ["高净值", "富裕", "大众", "长尾"]


def test_thresholds_are_parameters_not_literals() -> None:
    for tag in TAGS:
        for condition in conditions_of(tag):
            for item in compares(condition):
                literal = isinstance(item.value, int | float) and not isinstance(item.value, bool)
                # 0 and 1 mean "none" and "at least one"; every other number is a tunable threshold.
                assert not literal or item.value in (0, 1), (tag.name, item)


def _snapshot(demo: Container, layout: str) -> pd.DataFrame:
    table = demo.analytics.read_partition(layout, DEMO_END)
    assert table is not None
    return table.to_pandas().set_index("customer_no")


def test_compute_fills_every_indicator_and_tag(demo: Container) -> None:
    indicators = _snapshot(demo, INDICATOR_VALUES.name)
    tags = _snapshot(demo, TAG_VALUES.name)
    assert len(indicators) == len(tags) == 800
    empty = [d.name for d in INDICATORS if indicators[d.name].notna().sum() == 0]
    assert empty == []
    # Every tag has members, except the imported list nobody has uploaded to yet.
    uncovered = [t.name for t in TAGS if tags[t.name].notna().sum() == 0]
    assert uncovered == ["key_account"]


def _table(demo: Container, name: str) -> pd.DataFrame:
    return demo.analytics.table(name).to_pandas()


def _local_date(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert("Asia/Shanghai").dt.date


def test_asset_and_holding_indicators_match_pandas(demo: Container) -> None:
    got = _snapshot(demo, INDICATOR_VALUES.name)
    assets = _table(demo, "assets")
    assets["date"] = pd.to_datetime(assets["date"]).dt.date
    on_day = assets[assets["date"] == DEMO_END].set_index("customer_no")
    assert np.allclose(got.loc[on_day.index, "total_assets"], on_day["total_assets"])
    calendar = TradingCalendar()
    first = calendar.add_trading_days(DEMO_END, -19)
    window = assets[(assets["date"] >= first) & (assets["date"] <= DEMO_END)]
    avg20 = window.groupby("customer_no")["total_assets"].mean()
    assert np.allclose(got.loc[avg20.index, "avg_assets_20td"], avg20)
    start30 = DEMO_END - timedelta(days=29)
    earliest = assets[assets["date"] >= start30].sort_values("date").groupby("customer_no").first()
    change = (on_day["total_assets"] - earliest["total_assets"]) / earliest["total_assets"]
    assert np.allclose(got.loc[change.index, "aum_change_30d"], change)

    holdings = _table(demo, "holdings")
    holdings = holdings[pd.to_datetime(holdings["date"]).dt.date == DEMO_END]
    by_customer = holdings.groupby("customer_no")["market_value"]
    concentration = by_customer.max() / by_customer.sum()
    assert np.allclose(got.loc[concentration.index, "holding_concentration"], concentration)
    assert got.loc[~got.index.isin(concentration.index), "holding_count"].eq(0).all()


def test_trading_indicators_match_pandas(demo: Container) -> None:
    got = _snapshot(demo, INDICATOR_VALUES.name)
    trades = _table(demo, "trades")
    trades["day"] = _local_date(trades["time"])
    last = trades.groupby("customer_no")["day"].max()
    expected = last.map(lambda d: (DEMO_END - d).days)
    assert (got.loc[expected.index, "days_since_last_trade"] == expected).all()
    never = got.index.difference(expected.index)
    assert got.loc[never, "days_since_last_trade"].isna().all()

    since = DEMO_END - timedelta(days=179)
    amount = trades[trades["day"] >= since].groupby("customer_no")["amount"].sum()
    assets = _table(demo, "assets")
    assets["date"] = pd.to_datetime(assets["date"]).dt.date
    avg90 = assets[assets["date"] >= DEMO_END - timedelta(days=89)].groupby("customer_no")["total_assets"]
    turnover = (amount / avg90.mean()).dropna()
    assert np.allclose(got.loc[turnover.index, "turnover_180d"], turnover)

    online = trades[(trades["day"] >= DEMO_END - timedelta(days=89)) & trades["channel"].isin(["app", "web"])]
    counts = online.groupby("customer_no").size()
    assert (got.loc[counts.index, "online_trade_count_90d"] == counts).all()


def test_login_days_match_pandas(demo: Container) -> None:
    got = _snapshot(demo, INDICATOR_VALUES.name)
    events = _table(demo, "events")
    # Resolve anonymous ids independently: the demo's devices are "dev-<customer_no>".
    events["who"] = events["customer_no"].fillna(events["distinct_id"].str.removeprefix("dev-"))
    events["day"] = _local_date(events["time"])
    logins = events[(events["event"] == "login") & (events["day"] >= DEMO_END - timedelta(days=29))]
    days = logins.groupby("who")["day"].nunique()
    assert len(days) > 100
    assert (got.loc[days.index, "login_days_30d"] == days).all()
    assert got.loc[got.index.difference(days.index), "login_days_30d"].eq(0).all()


def test_rule_tags_follow_their_params(demo: Container) -> None:
    indicators = _snapshot(demo, INDICATOR_VALUES.name)
    tags = _snapshot(demo, TAG_VALUES.name)
    tier = next(t for t in TAGS if t.name == "asset_tier")
    total = indicators["total_assets"]
    p = tier.params
    expected = np.select(
        [total >= p["high_net_worth"], total >= p["affluent"], total >= p["mass"]],
        ["高净值", "富裕", "大众"],
        default="长尾",
    )
    assert (tags.loc[indicators.index, "asset_tier"].to_numpy() == expected).all()
    consent = _table(demo, "customers").set_index("customer_no")["consent_marketing"]
    assert (
        tags.loc[consent.index, "marketing_consent"] == consent.map({True: "已同意", False: "未同意"})
    ).all()


def test_bitmaps_equal_the_parquet_members_for_every_tag_value(demo: Container) -> None:
    values = demo.analytics.read_partition(TAG_VALUES.name, DEMO_END)
    stored = demo.analytics.read_partition(TAG_BITMAPS.name, DEMO_END)
    assert values is not None
    assert stored is not None
    frame = values.to_pandas()
    checked = 0
    for row in stored.to_pylist():
        members = set(frame.loc[frame[row["tag"]] == row["value"], "uid"].astype(int))
        assert set(BitMap.deserialize(row["bitmap"])) == members, (row["tag"], row["value"])
        assert row["count"] == len(members)
        checked += 1
    pairs = {(t, v) for t in frame.columns.drop(["uid", "customer_no"]) for v in frame[t].dropna().unique()}
    assert checked == len(pairs)  # one bitmap per value present, none for a value nobody has


def test_model_tags_store_their_training_metrics(demo: Container) -> None:
    from touchpoint.tags.inspect import tag_detail

    for name in ("churn_propensity", "fund_purchase_propensity"):
        metrics = tag_detail(env=demo, name=name)["model_metrics"]
        assert metrics is not None
        assert 0.5 < metrics["auc_holdout"] <= 1.0, metrics
        assert metrics["train_rows"] + metrics["holdout_rows"] == 800


@pytest.mark.parametrize("name", ["asset_tier", "lifecycle_stage", "risk_test_status"])
def test_detail_reports_coverage_distribution_and_lineage(demo: Container, name: str) -> None:
    from touchpoint.tags.inspect import tag_detail

    detail = tag_detail(env=demo, name=name)
    assert detail["business_date"] == DEMO_END.isoformat()
    assert sum(d["count"] for d in detail["distribution"]) == round(detail["coverage"] * 800)
    assert detail["lineage"]["indicators"]
    assert detail["history"][-1]["date"] == DEMO_END.isoformat()
