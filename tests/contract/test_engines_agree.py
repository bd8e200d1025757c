"""One brokerage, two engines: DuckDB and Spark (local) give the same answer to every analytical question.

A small demo brokerage is generated and its default library computed on DuckDB; a copy of its data
directory is then opened with `engine = "spark"` and everything is computed again there, from the same
Parquet files: the indicator and tag values of the daily run, every demo segment on both preview paths, and
the behaviour analyses. Floats may differ in their last bits (Spark sums in another order); nothing else may.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest

from support import spark_or_skip
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo, ensure_demo_tags
from touchpoint.governance import SYSTEM
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.tags.layout import TAG_VALUES

pytestmark = pytest.mark.spark

DAY = date(2026, 3, 31)
START = date(2026, 3, 17)
NOW = datetime(2026, 3, 31, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, Container]]:
    """The demo brokerage computed on DuckDB, and a copy of it recomputed on Spark."""
    spark_or_skip()
    root = tmp_path_factory.mktemp("engines")
    duck = build(load_settings(root / "duckdb", engine="duckdb"), clock=VirtualClock(NOW))
    params = DemoParams(customers=100, days=12, seed=5, end_date=DAY)
    ensure_demo(env=duck, principal=SYSTEM, params=params)
    ensure_demo_tags(env=duck, registry=duck.registry, principal=SYSTEM)
    shutil.copytree(root / "duckdb", root / "spark")
    spark = build(load_settings(root / "spark", engine="spark"), clock=VirtualClock(NOW))
    from touchpoint.tags.service import compute

    compute(env=spark, principal=SYSTEM, day=DAY, force=True)
    yield duck, spark
    duck.close()
    spark.close()


def _stored(env: Container, table: str) -> pd.DataFrame:
    found = env.analytics.read_partition(table, DAY)
    assert found is not None, table
    return found.to_pandas().sort_values("customer_no").reset_index(drop=True)


@pytest.mark.parametrize("table", [INDICATOR_VALUES.name, TAG_VALUES.name])
def test_the_daily_run_stores_the_same_values(engines: tuple[Container, Container], table: str) -> None:
    duck, spark = engines
    expected, got = _stored(duck, table), _stored(spark, table)
    assert sorted(got.columns) == sorted(expected.columns)
    assert len(expected) == 100
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False, rtol=1e-9)


# Every kind of condition, each alone and together (the demo's tags and events).
RULES: list[dict[str, Any]] = [
    {"tag": "asset_tier", "in": ["高净值", "富裕"]},
    {"tag": "asset_tier", "exists": False},
    {"indicator": "trade_count_30d", "op": ">=", "value": 1},
    {"indicator": "total_assets", "op": "between", "value": [10_000, 500_000]},
    {"attribute": "risk_level", "in": ["C4", "C5"]},
    {"event": "login", "count": {"op": ">=", "value": 2}, "within": "7d"},
    {"event": "fund_detail_view", "count": {"op": "=", "value": 0}, "within": "5td"},
    {
        "event": "fund_detail_view",
        "where": [{"property": "fund_type", "op": "=", "value": "equity"}],
        "within": "14d",
    },
    {"sequence": [{"event": "fund_detail_view"}, {"event": "fund_subscribe"}], "gap": "1d", "within": "14d"},
    {"not": {"any": [{"tag": "asset_tier", "in": ["高净值"]}, {"event": "login", "within": "3d"}]}},
]


@pytest.mark.parametrize("rule", RULES, ids=[str(i) for i in range(len(RULES))])
def test_segments_have_the_same_members_on_both_engines_and_paths(
    engines: tuple[Container, Container], rule: dict[str, Any]
) -> None:
    from touchpoint.segments.service import preview

    duck, spark = engines
    counts = {
        (engine, path): preview(env=env, principal=SYSTEM, rule=rule, path=path, at=NOW, sample=0)["count"]
        for engine, env in (("duckdb", duck), ("spark", spark))
        for path in ("bitmap", "sql")
    }
    assert len(set(counts.values())) == 1, counts
    if "exists" not in rule:  # every customer has an asset tier; every other rule picks someone
        assert counts["duckdb", "sql"] > 0, "a rule that picks nobody compares nothing"


def _analyses(env: Container) -> dict[str, Any]:
    from touchpoint.analytics.distribution import distribution
    from touchpoint.analytics.funnel import funnel
    from touchpoint.analytics.model import FunnelQuery
    from touchpoint.analytics.paths import paths
    from touchpoint.analytics.retention import retention
    from touchpoint.analytics.trend import event_trend

    steps = [{"event": "login"}, {"event": "fund_detail_view"}, {"event": "fund_subscribe"}]
    query = FunnelQuery.model_validate({"steps": steps, "window": "3td", "from": START, "to": DAY})
    return {
        "trend": event_trend(env=env, event="login", start=START, end=DAY, by="attribute:risk_level"),
        "trading_day_trend": event_trend(
            env=env, event="fund_detail_view", start=START, end=DAY, unit="trading_day"
        ),
        "funnel": funnel(env=env, query=query),
        "retention": retention(
            env=env, start_event="login", return_event="fund_detail_view", start=START, end=DAY, periods=5
        ),
        "distribution": distribution(env=env, event="login", start=START, end=DAY),
        "paths": paths(env=env, start=START, end=DAY, from_event="login", steps=3),
    }


def test_behaviour_analyses_agree(engines: tuple[Container, Container]) -> None:
    duck, spark = engines
    expected, got = _analyses(duck), _analyses(spark)
    for name in expected:
        assert got[name] == expected[name], name
