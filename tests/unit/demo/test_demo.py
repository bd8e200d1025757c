"""The demo brokerage: deterministic, shaped like a brokerage, with the planted drop-offs really there."""

from __future__ import annotations

import itertools
from datetime import date, time

import orjson
import pandas as pd
import pyarrow as pa
import pytest

from touchpoint.bootstrap import Container
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.errors import ConflictError
from touchpoint.demo import DemoParams
from touchpoint.demo.behaviour import events_table
from touchpoint.demo.daily import make_portfolio
from touchpoint.demo.population import customers_table, make_population, make_shelf
from touchpoint.demo.runs import ensure_demo
from touchpoint.governance import SYSTEM

CAL = TradingCalendar()
END = date(2026, 3, 31)


def _world(seed: int, customers: int = 3000, days: int = 40):  # type: ignore[no-untyped-def]
    sessions = CAL.trading_days(date.fromordinal(END.toordinal() - days), END)
    population = make_population(seed, customers, END)
    shelf = make_shelf(seed, CAL, sessions)
    return population, shelf, make_portfolio(seed, population, shelf), sessions


def _events(seed: int, days: int = 40) -> pd.DataFrame:
    population, shelf, portfolio, _ = _world(seed, days=days)
    tables = [
        events_table(
            seed, population, shelf, portfolio, CAL, date.fromordinal(END.toordinal() - n), days - n, END
        )
        for n in range(days)
    ]
    return pa.concat_tables(tables).to_pandas()


def test_same_seed_same_brokerage_other_seed_another() -> None:
    first = customers_table(7, make_population(7, 500, END), END)
    assert first.equals(customers_table(7, make_population(7, 500, END), END))
    assert not first.equals(customers_table(8, make_population(8, 500, END), END))


def test_customers_look_like_a_brokerage() -> None:
    population = make_population(7, 20_000, END)
    table = customers_table(7, population, END).to_pandas()
    assert set(table["risk_level"]) == {"C1", "C2", "C3", "C4", "C5"}
    assert table["customer_no"].is_unique
    high_net_worth = (population.base_assets >= 6_000_000).mean()
    assert 0.003 < high_net_worth < 0.05
    assert 0.75 < table["consent_marketing"].mean() < 0.85


def test_ipo_deadline_is_16_00_beijing_on_the_second_trading_day() -> None:
    _, shelf, _, _ = _world(7)
    assert len(shelf.ipos) >= 5
    for ipo in shelf.ipos:
        allot = CAL.add_trading_days(ipo["subscribe_date"], 2)  # type: ignore[arg-type]
        assert ipo["allotment_date"] == allot
        assert ipo["pay_deadline"] == CAL.to_utc(allot, time(16, 0))


def test_fund_funnel_stalls_at_compare() -> None:
    events = _events(7)
    counts = events["event"].value_counts()
    steps = ["content_view", "fund_detail_view", "fund_compare", "fund_subscribe", "autoinvest_plan_create"]
    rates = [counts[b] / counts[a] for a, b in itertools.pairwise(steps)]
    assert rates.index(min(rates)) == 1  # detail → compare is the weakest step
    assert abs(rates[1] - 0.30) < 0.05
    failures = counts["autoinvest_deduction_failed"] / (
        counts["autoinvest_deduction"] + counts["autoinvest_deduction_failed"]
    )
    assert 0.05 < failures < 0.11


def test_ipo_winners_pay_or_forfeit_on_allotment_day() -> None:
    events = _events(7)
    won = events[events["event"] == "ipo_allotment"]
    paid = events[events["event"].isin(["ipo_payment", "ipo_forfeit"])]
    assert len(won) == len(paid) > 0
    assert 0.7 < (paid["event"] == "ipo_payment").mean() < 0.97
    local = paid["time"].dt.tz_convert("Asia/Shanghai")
    assert (local.dt.hour < 16).sum() == (paid["event"] == "ipo_payment").sum()
    codes = {orjson.loads(p)["product_code"] for p in won["properties"]}
    subscribed = {
        orjson.loads(p)["product_code"] for p in events[events["event"] == "ipo_subscribe"]["properties"]
    }
    assert codes <= subscribed


def test_dormant_customers_are_silent_for_sixty_days() -> None:
    population, *_ = _world(7)
    events = _events(7, days=70)
    app = events[~events["event"].str.startswith("autoinvest_deduction")]
    recent = app[app["time"] >= pd.Timestamp(date.fromordinal(END.toordinal() - 50), tz="Asia/Shanghai")]
    dormant = set(population.customer_no[population.dormant])
    assert dormant.isdisjoint(set(recent["customer_no"].dropna()))
    assert set(events["customer_no"].dropna()) <= set(population.customer_no)


@pytest.mark.slow
def test_generate_demo_through_the_import_path(sqlite_container: Container) -> None:
    params = DemoParams(customers=300, days=20, seed=3, end_date=END)
    outcome = ensure_demo(env=sqlite_container, principal=SYSTEM, params=params)
    summary = outcome.summary
    assert outcome.generated
    assert summary is not None
    analytics = sqlite_container.analytics
    sessions = len(CAL.trading_days(summary.first_date, END))
    assert summary.customers == analytics.table("customers").count().execute() == 300
    assert summary.trades == analytics.table("trades").count().execute() > 0
    assert summary.events == analytics.table("events").count().execute() > 0
    assert summary.assets == analytics.table("assets").count().execute() == 300 * sessions
    assert summary.last_date == END
    assert not ensure_demo(env=sqlite_container, principal=SYSTEM, params=params).generated
    with pytest.raises(ConflictError, match="--reset"):
        ensure_demo(env=sqlite_container, principal=SYSTEM, params=params.model_copy(update={"seed": 4}))
    reset = ensure_demo(env=sqlite_container, principal=SYSTEM, params=params, reset=True)
    assert reset.generated
    assert analytics.table("customers").count().execute() == 300
