"""The IPO calendar's moments on crafted data across the National Day closure (2026-10-01 … 10-07): an IPO
subscribed on Tue 29 Sep has its T+2 on Thu 8 Oct, not on the closed 1 Oct."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mot_support import at, customers_by_day, firings_on, load, rule
from touchpoint.bootstrap import Container

SUBSCRIBE, ALLOT, LISTING = date(2026, 9, 29), date(2026, 10, 8), date(2026, 10, 15)
IPO = "732001"


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.fixture
def world(sqlite_container: Container) -> Container:
    c = sqlite_container
    shelf = [
        {
            "product_code": "600001",
            "name": "沪市股",
            "product_type": "stock",
            "risk_level": "R3",
            "exchange": "SH",
        },
        {
            "product_code": "000001",
            "name": "深市股",
            "product_type": "stock",
            "risk_level": "R3",
            "exchange": "SZ",
        },
        {
            "product_code": IPO,
            "name": "新股1号",
            "product_type": "ipo",
            "exchange": "SH",
            "issue_price": 15.0,
            "subscribe_date": SUBSCRIBE,
            "allotment_date": ALLOT,
            "pay_deadline": at(c, ALLOT, "16:00"),
            "listing_date": LISTING,
        },
    ]
    load(c, "products", shelf, date(2026, 8, 1))
    sessions = [d for d in _days(date(2026, 8, 17), date(2026, 9, 30)) if c.calendar.is_trading_day(d)]
    # A: 20,000 on SH every session (eligible, 2 units of 1,000 shares); B: on SZ only; C: 9,000 on SH;
    # D: eligible but subscribes at 09:35 on the day.
    holdings = [
        {
            "customer_no": who,
            "date": d,
            "product_code": code,
            "quantity": 100.0,
            "market_value": value,
            "cost": value,
        }
        for d in sessions
        for who, code, value in (
            ("A", "600001", 20_000.0),
            ("B", "000001", 50_000.0),
            ("C", "600001", 9_000.0),
            ("D", "600001", 30_000.0),
        )
    ]
    load(c, "holdings", holdings)
    subscribed = at(c, SUBSCRIBE, "09:35")
    load(
        c,
        "trades",
        [
            {
                "trade_id": "t1",
                "customer_no": "D",
                "time": subscribed,
                "product_code": IPO,
                "side": "ipo_subscribe",
                "quantity": 1000.0,
                "amount": 0.0,
            }
        ],
    )
    # The last close before T+2 is 30 Sep: A has 5,000, E 20,000, G 1,000 in cash.
    load(
        c,
        "assets",
        [
            {"customer_no": who, "date": date(2026, 9, 30), "total_assets": cash + 10_000, "cash": cash}
            for who, cash in (("A", 5_000.0), ("E", 20_000.0), ("G", 1_000.0), ("F", 0.0))
        ],
    )
    # A deposits 20,000 at 11:00 on T+2: short at 10:00, covered by 14:00.
    load(
        c,
        "cash_flows",
        [
            {
                "flow_id": "f1",
                "customer_no": "A",
                "time": at(c, ALLOT, "11:00"),
                "direction": "in",
                "amount": 20_000.0,
            }
        ],
    )
    allotments = [
        {
            "customer_no": "A",
            "product_code": IPO,
            "date": ALLOT,
            "shares": 1000.0,
            "amount_due": 15_000.0,
            "status": "allotted",
        },
        {
            "customer_no": "E",
            "product_code": IPO,
            "date": ALLOT,
            "shares": 1000.0,
            "amount_due": 15_000.0,
            "status": "allotted",
        },
        {
            "customer_no": "G",
            "product_code": IPO,
            "date": ALLOT,
            "shares": 500.0,
            "amount_due": 7_500.0,
            "status": "allotted",
        },
        {
            "customer_no": "F",
            "product_code": IPO,
            "date": ALLOT,
            "shares": 1000.0,
            "amount_due": 15_000.0,
            "status": "paid",
            "paid_at": at(c, ALLOT, "09:10"),
        },
    ]
    load(c, "ipo_allotments", allotments)
    return c


def test_subscription_day_reminds_eligible_customers_not_yet_subscribed_with_their_quota(
    world: Container,
) -> None:
    mot = rule("ipo_day")
    by_day = customers_by_day(world, mot, _days(date(2026, 9, 27), date(2026, 10, 9)))
    assert by_day == {SUBSCRIBE: ["A", "D"]}  # at 09:00 D has not subscribed yet
    later = {f.customer_no: f for f in firings_on(world, mot, SUBSCRIBE, "10:00")}
    assert sorted(later) == ["A"]  # by 10:00 D has
    assert later["A"].facts["quota_shares"] == 2000
    assert later["A"].facts["eligible_value"] == 20_000.0
    assert later["A"].occurrence == IPO


def test_allotment_is_announced_on_the_trading_day_t_plus_2_after_the_holiday(world: Container) -> None:
    mot = rule("ipo_allotted")
    by_day = customers_by_day(world, mot, _days(date(2026, 9, 29), date(2026, 10, 12)))
    assert by_day == {ALLOT: ["A", "E", "F", "G"]}
    firing = next(f for f in firings_on(world, mot, ALLOT) if f.customer_no == "A")
    assert firing.deadline == datetime(2026, 10, 8, 8, 0, tzinfo=UTC)
    assert firing.facts["amount_due"] == 15_000.0


def test_payment_short_at_ten_and_two_only_while_cash_is_short_and_never_after_the_deadline(
    world: Container,
) -> None:
    mot = rule("ipo_payment_short")
    days = _days(date(2026, 9, 30), date(2026, 10, 12))
    assert customers_by_day(world, mot, days, "10:00") == {ALLOT: ["A", "G"]}
    assert customers_by_day(world, mot, days, "14:00") == {ALLOT: ["G"]}  # A's 11:00 deposit covers it
    assert customers_by_day(world, mot, days, "16:00") == {}  # the deadline has passed: nothing helps now
    short = next(f for f in firings_on(world, mot, ALLOT, "14:00") if f.customer_no == "G")
    assert short.facts["shortfall"] == 6_500.0
    assert short.occurrence == f"{IPO}@14:00"


def test_listing_day_follow_up_for_customers_who_paid(world: Container) -> None:
    by_day = customers_by_day(world, rule("ipo_listing"), _days(date(2026, 10, 8), date(2026, 10, 19)))
    assert by_day == {LISTING: ["F"]}


def test_forfeit_warning_at_the_second_forfeit_in_twelve_months_once(sqlite_container: Container) -> None:
    c = sqlite_container
    rows = []
    for who, days in {
        "H": [date(2025, 12, 10), ALLOT],  # the second within 12 months
        "I": [ALLOT],  # the first
        "J": [date(2026, 3, 2), date(2026, 6, 1), ALLOT],  # the third: the ban, not a warning
        "K": [date(2025, 10, 8), ALLOT],  # the first one fell out of the 12 months exactly a year ago
    }.items():
        for n, day in enumerate(days):
            rows.append(
                {
                    "customer_no": who,
                    "product_code": f"73{n}",
                    "date": day,
                    "shares": 1.0,
                    "amount_due": 1.0,
                    "status": "forfeited",
                }
            )
    load(c, "ipo_allotments", rows)
    mot = rule("ipo_forfeit_warning")
    by_day = customers_by_day(c, mot, _days(date(2026, 9, 28), date(2026, 10, 14)))
    # Found on T+2 itself and, for a file imported a day late, on the next session — the same occurrence.
    assert by_day == {ALLOT: ["H"], date(2026, 10, 9): ["H"]}
    assert {f.occurrence for d in (ALLOT, date(2026, 10, 9)) for f in firings_on(c, mot, d)} == {
        "forfeits=2:731"
    }
