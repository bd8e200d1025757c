"""The IPO calendar's moments on crafted data across the National Day closure (2026-10-01 … 10-07): an IPO
subscribed on Tue 29 Sep has its T+2 on Thu 8 Oct, not on the closed 1 Oct."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mot_support import ALLOT, IPO, LISTING, SUBSCRIBE, customers_by_day, firings_on, ipo_world, load, rule
from touchpoint.bootstrap import Container


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.fixture
def world(sqlite_container: Container) -> Container:
    ipo_world(sqlite_container)
    return sqlite_container


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
    assert by_day == {ALLOT: ["A", "E", "F", "G", "Z"]}
    firing = next(f for f in firings_on(world, mot, ALLOT) if f.customer_no == "A")
    assert firing.deadline == datetime(2026, 10, 8, 8, 0, tzinfo=UTC)
    assert firing.facts["amount_due"] == 15_000.0


def test_payment_short_at_ten_and_two_only_while_cash_is_short_and_never_after_the_deadline(
    world: Container,
) -> None:
    mot = rule("ipo_payment_short")
    days = _days(date(2026, 9, 30), date(2026, 10, 12))
    assert customers_by_day(world, mot, days, "10:00") == {ALLOT: ["A", "G", "Z"]}
    assert customers_by_day(world, mot, days, "14:00") == {ALLOT: ["G", "Z"]}  # A's 11:00 deposit covers it
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
