"""The moments found on one event: large transfers, a failed auto-invest debit, a purchase above the
customer's risk level."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from mot_support import at, load
from touchpoint.bootstrap import Container
from touchpoint.moments.catalogue import DETECTORS
from touchpoint.moments.data import DayData, EventFacts
from touchpoint.moments.firing import Firing
from touchpoint.moments.rules_event import EventSeen

DAY = date(2026, 10, 8)


def _detect(c: Container, detector: str, events: list[EventSeen], **params: Any) -> list[Firing]:
    found = DETECTORS[detector]
    facts = EventFacts(DayData(c.analytics, c.calendar, DAY))
    return found.detect(events, facts, found.params.model_validate(params))


def _event(name: str, customer: str, when: datetime, **properties: Any) -> EventSeen:
    return EventSeen(f"ev-{customer}-{name}", name, customer, when, properties)


def test_large_inflow_by_amount_or_by_share_of_the_last_close(sqlite_container: Container) -> None:
    c = sqlite_container
    # The last close before 8 Oct is 30 Sep (the holiday between).
    load(
        c,
        "assets",
        [
            {"customer_no": w, "date": date(2026, 9, 30), "total_assets": v}
            for w, v in (("A", 1_000_000.0), ("B", 60_000.0), ("C", 1_000_000.0))
        ],
    )
    when = at(c, DAY, "10:00")
    events = [
        _event("cash_in", "A", when, amount=100_000),  # the threshold exactly
        _event("cash_in", "B", when, amount=30_000),  # half of B's assets
        _event("cash_in", "C", when, amount=99_999.99),  # neither
        _event("cash_in", "D", when, amount=40_000),  # no close known: only the threshold can say
        _event("cash_in", "E", when, amount="lots"),  # not an amount
    ]
    found = {f.customer_no: f for f in _detect(c, "large_inflow", events)}
    assert sorted(found) == ["A", "B"]
    assert found["B"].facts == {"amount": 30_000.0, "prior_total_assets": 60_000.0, "share_of_assets": 0.5}
    assert found["A"].occurrence == "event:ev-A-cash_in"
    outflows = [_event("cash_out", "B", when, amount=18_000), _event("cash_out", "C", when, amount=18_000)]
    assert [f.customer_no for f in _detect(c, "large_outflow", outflows)] == ["B"]  # 30 % of 60,000


def test_failed_debit_names_the_retry_window_in_trading_days(sqlite_container: Container) -> None:
    c = sqlite_container
    failed = _event(
        "autoinvest_deduction_failed", "A", at(c, date(2026, 9, 30), "15:00"), plan_id="PL1", amount=500
    )
    (firing,) = _detect(c, "autoinvest_debit_failed", [failed])
    assert firing.facts["retry_until"] == "2026-10-09"  # two sessions after 30 Sep: 8 and 9 Oct
    assert firing.occurrence == "PL1:2026-09-30"


def test_purchase_above_the_customers_risk_level(sqlite_container: Container) -> None:
    c = sqlite_container
    load(
        c,
        "customers",
        [
            {"customer_no": "A", "risk_level": "C3"},
            {"customer_no": "B", "risk_level": "C1"},
            {"customer_no": "C", "risk_level": "C4"},
            {"customer_no": "D"},
        ],
        date(2026, 9, 1),
    )
    load(
        c,
        "products",
        [
            {"product_code": "F4", "name": "R4 基金", "product_type": "fund", "risk_level": "R4"},
            {"product_code": "F2", "name": "R2 基金", "product_type": "fund", "risk_level": "R2"},
        ],
        date(2026, 9, 1),
    )
    when = at(c, DAY, "10:00")
    events = [
        _event("fund_subscribe", "A", when, product_code="F4"),
        _event("fund_subscribe", "B", when, product_code="F2"),
        _event("fund_subscribe", "C", when, product_code="F4"),  # C4 may buy R4
        _event("fund_subscribe", "D", when, product_code="F4"),  # no assessed level: nothing to compare
        _event("fund_subscribe", "A", when, product_code="NOPE"),
    ]
    found = {f.customer_no: f for f in _detect(c, "suitability_mismatch", events)}
    assert sorted(found) == ["A", "B"]
    assert found["B"].facts["lowest_category"] is True
    assert found["A"].facts["lowest_category"] is False
