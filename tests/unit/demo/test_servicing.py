"""The demo's servicing tables agree with its events, checked by brute force over both."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd

from touchpoint.bootstrap import Container


def _events(container: Container, *names: str) -> pd.DataFrame:
    table = container.analytics.table("events")
    frame = table.filter(table.event.isin(list(names))).to_pandas()
    frame["props"] = frame["properties"].map(json.loads)
    return frame


def test_allotments_are_the_wins_with_their_payment_or_forfeit(demo_brokerage: Container) -> None:
    allotments = demo_brokerage.analytics.table("ipo_allotments").to_pandas()
    wins = _events(demo_brokerage, "ipo_allotment", "ipo_payment", "ipo_forfeit")
    key = lambda row: (row["customer_no"], row["props"]["product_code"])  # noqa: E731
    expected = {key(r): "allotted" for _, r in wins[wins.event == "ipo_allotment"].iterrows()}
    for _, r in wins[wins.event != "ipo_allotment"].iterrows():
        expected[key(r)] = "paid" if r["event"] == "ipo_payment" else "forfeited"
    found = {(r.customer_no, r.product_code): r.status for r in allotments.itertuples()}
    assert found == expected
    assert len(found) > 0
    assert (allotments[allotments.status == "paid"].paid_at.notna()).all()


def test_plans_count_the_failed_debits_and_debits_match_the_events(demo_brokerage: Container) -> None:
    debits = demo_brokerage.analytics.table("autoinvest_deductions").to_pandas()
    events = _events(demo_brokerage, "autoinvest_deduction", "autoinvest_deduction_failed")
    assert Counter(debits.status) == Counter(
        "failed" if e == "autoinvest_deduction_failed" else "success" for e in events.event
    )
    plans = demo_brokerage.analytics.table("autoinvest_plans").to_pandas()
    failures = Counter(debits[debits.status == "failed"].customer_no)
    for plan in plans.itertuples():
        assert plan.default_count == failures.get(plan.customer_no, 0)
        assert plan.status == ("terminated" if plan.default_count >= 3 else "active")
    assert set(debits.plan_id) <= set(plans.plan_id)


def test_every_bank_transfer_is_a_cash_event(demo_brokerage: Container) -> None:
    flows = demo_brokerage.analytics.table("cash_flows").to_pandas()
    events = _events(demo_brokerage, "cash_in", "cash_out")
    assert sorted(f"demo-cash-{f}" for f in flows.flow_id) == sorted(events.event_id)
    by_id = {e.event_id: e for e in events.itertuples()}
    for flow in flows.itertuples():
        event = by_id[f"demo-cash-{flow.flow_id}"]
        assert event.event == ("cash_in" if flow.direction == "in" else "cash_out")
        assert event.props["amount"] == flow.amount
