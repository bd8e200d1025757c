"""The journey report: uplift against a hand computation and statsmodels, groups and money per customer on a
crafted journey with a hold-out."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from mot_support import load
from support import examples, newcombe_interval
from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.core.events import LogEntry
from touchpoint.governance import SYSTEM
from touchpoint.identity.service import sync_customers
from touchpoint.journeys.report import journey_report, uplift
from touchpoint.journeys.runtime import admit, in_holdout
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.worker.loop import run_pass


def test_uplift_equals_the_hand_computation_and_statsmodels() -> None:
    found = uplift((30, 100), (20, 100))
    assert found["absolute"] == pytest.approx(0.1)
    assert found["relative"] == pytest.approx(0.5)
    low, high = confint_proportions_2indep(30, 100, 20, 100, method="newcomb", compare="diff")
    assert (found["ci_low"], found["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert found["p_value"] == pytest.approx(proportions_ztest([30, 20], [100, 100])[1])
    assert uplift((3, 10), (0, 0))["absolute"] is None  # no hold-out: no uplift, not zero
    assert uplift((3, 10), (0, 10))["relative"] is None  # nothing converted in the hold-out: no ratio


@settings(max_examples=examples(200))
@given(
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_interval_and_p_value_follow_the_textbook_formulas(
    treated: tuple[int, int], holdout: tuple[int, int]
) -> None:
    (ct, nt), (ch, nh) = treated, holdout
    p1, p2 = ct / nt, ch / nh
    found = uplift(treated, holdout)
    low, high = newcombe_interval(ct, nt, ch, nh)
    assert found["ci_low"] == pytest.approx(low, abs=1e-9)
    assert found["ci_high"] == pytest.approx(high, abs=1e-9)
    assert -1 - 1e-12 <= low <= p1 - p2 <= high <= 1 + 1e-12  # within [-1, 1] but for rounding
    if ct == ch == 0:
        assert high > low  # no conversion on either side is no precise zero
    pooled = (ct + ch) / (nt + nh)
    if 0 < pooled < 1:
        z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / nt + 1 / nh))
        assert found["p_value"] == pytest.approx(2 * norm.sf(abs(z)), rel=1e-6, abs=1e-12)
    else:
        assert found["p_value"] is None


CUSTOMERS = [f"U{n:02d}" for n in range(24)]
JOURNEY = {
    "name": "fund_nudge",
    "title": "基金提醒",
    "entry": {"type": "api"},
    "start": "note",
    "nodes": [
        {
            "id": "note",
            "type": "action",
            "action": {"kind": "send", "channel": "log", "text": "hi"},
            "next": "bye",
        },
        {"id": "bye", "type": "exit"},
    ],
    "goal": {"event": "fund_subscribe", "within": "5d"},
    "holdout_percent": 50,
}


@pytest.fixture
def world(container: Container, clock: VirtualClock) -> Container:
    c = container
    day = c.calendar.business_date(clock.now())  # 2026-03-02, a Monday
    load(c, "customers", [{"customer_no": n} for n in CUSTOMERS], day - timedelta(days=1))
    sync_customers(env=c, analytics=c.analytics)
    before, inside, outside = day - timedelta(days=3), day + timedelta(days=2), day + timedelta(days=9)
    assets = [{"customer_no": n, "date": before, "total_assets": 1000.0} for n in CUSTOMERS]
    assets += [
        {"customer_no": n, "date": inside, "total_assets": 1000.0 + 100 * i}
        for i, n in enumerate(CUSTOMERS)
        if i % 3
    ]
    assets += [{"customer_no": n, "date": outside, "total_assets": 99_999.0} for n in CUSTOMERS]
    load(c, "assets", assets)
    flows = [
        {
            "flow_id": f"in{n}",
            "customer_no": n,
            "time": clock.now() + timedelta(days=1),
            "direction": "in",
            "amount": 50.0 * i,
        }
        for i, n in enumerate(CUSTOMERS)
    ]
    flows.append(
        {
            "flow_id": "late",
            "customer_no": "U01",
            "time": clock.now() + timedelta(days=6),
            "direction": "in",
            "amount": 1e6,
        }
    )
    load(c, "cash_flows", flows)
    save_journey(env=c, principal=SYSTEM, journey=parse_journey(JOURNEY))
    publish(env=c, principal=SYSTEM, name="fund_nudge")
    return c


def _subscribe(c: Container, clock: VirtualClock, customer: str) -> None:
    ms = int(clock.now().timestamp() * 1000)
    body = {
        "event_id": f"s-{customer}-{ms}",
        "kind": "track",
        "event": "fund_subscribe",
        "time": ms,
        "distinct_id": customer,
        "properties": {},
        "ids": {"customer_no": customer},
    }
    c.log.append([LogEntry(None, body["event_id"], body)], received_at=clock.now())


def test_report_groups_conversion_and_money_equal_a_hand_computation(
    world: Container, clock: VirtualClock
) -> None:
    admit(env=world, name="fund_nudge", customers=CUSTOMERS)
    run_pass(world, ("consumers", "timers", "dispatch"))
    clock.advance(timedelta(days=1))
    converters = CUSTOMERS[::2]
    for customer in converters:
        _subscribe(world, clock, customer)
    clock.advance(timedelta(days=6))
    _subscribe(world, clock, "U01")  # after the 5-day window: no conversion
    for _ in range(2):
        run_pass(world, ("consumers", "timers", "dispatch"))

    parsed = parse_journey(JOURNEY)
    held = [n for n in CUSTOMERS if in_holdout(parsed, n)]
    treated = [n for n in CUSTOMERS if n not in held]
    assert held
    assert treated  # the hash splits these 24 both ways
    report = journey_report(env=world, principal=SYSTEM, name="fund_nudge")
    groups = report["groups"]
    assert groups["treated"]["entered"] == len(treated)
    assert groups["holdout"]["entered"] == len(held)
    assert groups["treated"]["nodes"]["note"] == len(treated)
    assert groups["holdout"]["sent"] == 0  # the hold-out gets nothing
    ct, ch = sum(n in converters for n in treated), sum(n in converters for n in held)
    assert (groups["treated"]["goal"], groups["holdout"]["goal"]) == (ct, ch)
    assert report["uplift"]["absolute"] == pytest.approx(ct / len(treated) - ch / len(held))

    def aum(group: list[str]) -> float | None:
        # Δ from the close before entry to the last close within the 5 days; no close inside: no value.
        changes = [100.0 * CUSTOMERS.index(n) for n in group if CUSTOMERS.index(n) % 3]
        return sum(changes) / len(changes) if changes else None

    def inflow(group: list[str]) -> float:
        return sum(50.0 * CUSTOMERS.index(n) for n in group) / len(group)

    assert groups["treated"]["aum_change_per_customer"] == pytest.approx(aum(treated))
    assert groups["holdout"]["aum_change_per_customer"] == pytest.approx(aum(held))
    assert groups["treated"]["net_inflow_per_customer"] == pytest.approx(inflow(treated))
    assert report["net_inflow_uplift"] == pytest.approx(inflow(treated) - inflow(held))
    assert report["by_day"] == [
        {
            "day": date(2026, 3, 2),
            "treated_entered": len(treated),
            "treated_converted": ct,
            "holdout_entered": len(held),
            "holdout_converted": ch,
        }
    ]


def test_a_journey_without_a_goal_reports_no_conversion_rather_than_zero(world: Container) -> None:
    """No goal, nothing measured: the conversion rates and the uplift are absent, not 0 % and 0 ± 0."""
    unmeasured = {**JOURNEY, "name": "no_goal", "goal": None}
    save_journey(env=world, principal=SYSTEM, journey=parse_journey(unmeasured))
    publish(env=world, principal=SYSTEM, name="no_goal")
    admit(env=world, name="no_goal", customers=CUSTOMERS)
    run_pass(world, ("consumers", "timers", "dispatch"))
    report = journey_report(env=world, principal=SYSTEM, name="no_goal")
    assert report["goal_event"] is None
    assert sum(g["entered"] for g in report["groups"].values()) == len(CUSTOMERS)
    for group in report["groups"].values():
        assert (group["conversion_rate"], group["delivered_conversion_rate"]) == (None, None)
    assert set(report["uplift"].values()) == {None}
    treated = report["groups"]["treated"]
    assert treated["nodes"]["note"] == treated["entered"] > 0  # the funnel is still counted
