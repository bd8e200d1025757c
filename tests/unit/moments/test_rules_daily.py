"""The daily-condition moments on crafted data: each fires on its day only — not a day or a trading day
before or after, across the National Day closure (2026-10-01 … 10-07) — and names its occurrence."""

from __future__ import annotations

from datetime import date, timedelta

from mot_support import at, customers_by_day, firings_on, load, rule
from touchpoint.bootstrap import Container

BEFORE_HOLIDAY, AFTER_HOLIDAY = date(2026, 9, 30), date(2026, 10, 8)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _customers(c: Container, rows: list[dict[str, object]], day: date = date(2026, 9, 1)) -> None:
    load(c, "customers", rows, day)


def test_no_deposit_on_day_three_and_seven_unless_the_customer_deposited(sqlite_container: Container) -> None:
    c = sqlite_container
    opened = date(2026, 9, 20)
    _customers(
        c,
        [{"customer_no": n, "open_date": opened} for n in ("N1", "N2", "N3")]
        + [{"customer_no": "N4", "open_date": date(2026, 9, 21)}],
    )
    load(
        c,
        "cash_flows",
        [
            {
                "flow_id": "a",
                "customer_no": "N2",
                "time": at(c, date(2026, 9, 22), "10:00"),
                "direction": "in",
                "amount": 1.0,
            },
            {
                "flow_id": "b",
                "customer_no": "N3",
                "time": at(c, date(2026, 9, 25), "10:00"),
                "direction": "in",
                "amount": 1.0,
            },
            {
                "flow_id": "c",
                "customer_no": "N4",
                "time": at(c, date(2026, 9, 22), "10:00"),
                "direction": "out",
                "amount": 1.0,
            },
        ],
    )
    mot = rule("no_deposit")
    by_day = customers_by_day(c, mot, _days(date(2026, 9, 20), date(2026, 10, 2)))
    assert by_day == {
        date(2026, 9, 23): ["N1", "N3"],
        date(2026, 9, 24): ["N4"],  # a transfer out is not a deposit
        date(2026, 9, 27): ["N1"],  # D+7 counts calendar days: a Sunday too
        date(2026, 9, 28): ["N4"],
    }
    assert {f.occurrence for f in firings_on(c, mot, date(2026, 9, 27))} == {"D+7"}


def test_no_deposit_is_not_known_without_the_transfers(sqlite_container: Container) -> None:
    _customers(sqlite_container, [{"customer_no": "N1", "open_date": date(2026, 9, 20)}])
    assert firings_on(sqlite_container, rule("no_deposit"), date(2026, 9, 23)) == []


def test_first_deposit_on_its_day_only_and_never_for_a_second_one(sqlite_container: Container) -> None:
    c = sqlite_container
    flows = [
        ("x1", "P1", date(2026, 9, 22), "in"),
        ("x2", "P1", date(2026, 9, 24), "in"),
        ("x3", "P2", date(2026, 8, 3), "in"),
        ("x4", "P2", date(2026, 9, 22), "in"),
        ("x5", "P3", date(2026, 9, 22), "out"),
    ]
    load(
        c,
        "cash_flows",
        [
            {"flow_id": f, "customer_no": w, "time": at(c, d, "14:00"), "direction": k, "amount": 500.0}
            for f, w, d, k in flows
        ],
    )
    assert customers_by_day(c, rule("first_deposit"), _days(date(2026, 9, 20), date(2026, 9, 26))) == {
        date(2026, 9, 22): ["P1"]
    }
    assert firings_on(c, rule("first_deposit"), date(2026, 9, 22), "13:00") == []  # not before it happened


def test_first_trade_is_congratulated_on_the_next_session_across_the_holiday(
    sqlite_container: Container,
) -> None:
    c = sqlite_container
    trades = [
        ("t1", "Q1", BEFORE_HOLIDAY),
        ("t2", "Q2", date(2026, 10, 9)),
        ("t3", "Q3", date(2026, 8, 3)),
        ("t4", "Q3", BEFORE_HOLIDAY),
    ]
    load(
        c,
        "trades",
        [
            {
                "trade_id": t,
                "customer_no": w,
                "time": at(c, d, "10:30"),
                "product_code": "600001",
                "side": "buy",
                "quantity": 100.0,
                "amount": 1000.0,
            }
            for t, w, d in trades
        ],
    )
    by_day = customers_by_day(c, rule("first_trade"), _days(date(2026, 9, 29), date(2026, 10, 14)))
    assert by_day == {AFTER_HOLIDAY: ["Q1"], date(2026, 10, 12): ["Q2"]}


def test_risk_test_expiry_thirty_and_seven_days_before_and_on_the_day(sqlite_container: Container) -> None:
    c = sqlite_container
    _customers(
        c,
        [
            {"customer_no": "R1", "risk_assessed_at": date(2024, 10, 31), "risk_level": "C3"},
            {"customer_no": "R2", "risk_assessed_at": date(2026, 1, 5)},
        ],
    )
    mot = rule("risk_test_expiring")
    by_day = customers_by_day(c, mot, _days(date(2026, 9, 25), date(2026, 11, 5)))
    assert by_day == {date(2026, 10, 1): ["R1"], date(2026, 10, 24): ["R1"], date(2026, 10, 31): ["R1"]}
    assert [f.occurrence for f in firings_on(c, mot, date(2026, 10, 24))] == ["2026-10-31:D-7"]
    shorter = rule("risk_test_expiring", params={"validity_days": 365, "stages": [0]})
    assert customers_by_day(c, shorter, _days(date(2026, 12, 30), date(2027, 1, 6))) == {
        date(2027, 1, 5): ["R2"]
    }


def test_birthday_on_the_day_and_leap_day_births_on_the_28th_in_other_years(
    sqlite_container: Container,
) -> None:
    c = sqlite_container
    _customers(
        c,
        [
            {"customer_no": "B1", "birth_date": date(1990, 10, 8)},
            {"customer_no": "B2", "birth_date": date(2000, 2, 29)},
        ],
        date(2026, 1, 1),
    )
    mot = rule("birthday")
    assert customers_by_day(c, mot, _days(date(2026, 10, 6), date(2026, 10, 10))) == {
        date(2026, 10, 8): ["B1"]
    }
    assert customers_by_day(c, mot, _days(date(2027, 2, 26), date(2027, 3, 2))) == {date(2027, 2, 28): ["B2"]}
    assert customers_by_day(c, mot, _days(date(2028, 2, 27), date(2028, 3, 1))) == {date(2028, 2, 29): ["B2"]}
    assert firings_on(c, mot, date(2026, 10, 8))[0].occurrence == "2026"


def test_auto_invest_plan_at_its_second_default_and_funds_low_the_session_before_a_debit(
    sqlite_container: Container,
) -> None:
    c = sqlite_container
    plans = [
        {
            "plan_id": "PL1",
            "customer_no": "V1",
            "product_code": "F1",
            "amount": 1000.0,
            "status": "active",
            "default_count": 2,
            "next_debit_date": date(2026, 10, 20),
        },
        {
            "plan_id": "PL2",
            "customer_no": "V2",
            "product_code": "F1",
            "amount": 1000.0,
            "status": "active",
            "default_count": 1,
            "next_debit_date": date(2026, 10, 20),
        },
        {
            "plan_id": "PL3",
            "customer_no": "V3",
            "product_code": "F1",
            "amount": 1000.0,
            "status": "terminated",
            "default_count": 3,
        },
        {
            "plan_id": "PL4",
            "customer_no": "V4",
            "product_code": "F1",
            "amount": 1000.0,
            "status": "active",
            "default_count": 0,
            "next_debit_date": AFTER_HOLIDAY,
        },
        {
            "plan_id": "PL5",
            "customer_no": "V5",
            "product_code": "F1",
            "amount": 1000.0,
            "status": "active",
            "default_count": 0,
            "next_debit_date": AFTER_HOLIDAY,
        },
    ]
    load(c, "autoinvest_plans", plans, date(2026, 9, 1))
    load(
        c,
        "assets",
        [
            {"customer_no": w, "date": date(2026, 9, 29), "total_assets": 9000.0, "cash": cash}
            for w, cash in (("V4", 500.0), ("V5", 5000.0))
        ],
    )
    risky = rule("autoinvest_termination_risk")
    assert [f.customer_no for f in firings_on(c, risky, date(2026, 9, 2))] == ["V1"]
    assert firings_on(c, risky, date(2026, 9, 2))[0].occurrence == "PL1:defaults=2"
    low = customers_by_day(c, rule("autoinvest_funds_low"), _days(date(2026, 9, 28), date(2026, 10, 9)))
    assert low == {BEFORE_HOLIDAY: ["V4"]}  # the session before 8 Oct is 30 Sep, not the closed 7 Oct


def test_margin_lines_at_the_close_each_in_its_band(sqlite_container: Container) -> None:
    c = sqlite_container
    ratios = {"M1": 1.4, "M2": 1.25, "M3": 1.1, "M4": 1.6}
    rows = [
        {"customer_no": w, "date": AFTER_HOLIDAY, "total_assets": 100_000.0 * r, "margin_debt": 100_000.0}
        for w, r in ratios.items()
    ]
    rows.append({"customer_no": "M5", "date": AFTER_HOLIDAY, "total_assets": 100.0, "margin_debt": 0.0})
    load(c, "assets", rows)
    days = _days(date(2026, 9, 30), date(2026, 10, 12))
    assert customers_by_day(c, rule("margin_warning"), days) == {AFTER_HOLIDAY: ["M1"]}
    assert customers_by_day(c, rule("margin_call"), days) == {AFTER_HOLIDAY: ["M2"]}
    assert customers_by_day(c, rule("forced_liquidation"), days) == {AFTER_HOLIDAY: ["M3"]}
    call = firings_on(c, rule("margin_call"), AFTER_HOLIDAY)[0]
    assert call.facts["top_up_to_target"] == 25_000.0  # 1.5 × 100,000 − 125,000


def test_holding_plunge_against_the_previous_session_across_the_holiday(sqlite_container: Container) -> None:
    c = sqlite_container
    held = {  # (quantity, market value) on 30 Sep and on 8 Oct
        "X1": ((100.0, 1000.0), (100.0, 920.0)),  # −8 %
        "X2": ((100.0, 1000.0), (100.0, 950.0)),  # −5 %
        "X3": ((100.0, 1000.0), (50.0, 500.0)),  # sold half, price unchanged
    }
    rows = []
    for who, pair in held.items():
        for day, (qty, value) in zip((BEFORE_HOLIDAY, AFTER_HOLIDAY), pair, strict=True):
            rows.append(
                {
                    "customer_no": who,
                    "date": day,
                    "product_code": "600001",
                    "quantity": qty,
                    "market_value": value,
                    "cost": 1000.0,
                }
            )
    load(c, "holdings", rows)
    by_day = customers_by_day(c, rule("holding_plunge"), _days(date(2026, 9, 29), date(2026, 10, 12)))
    assert by_day == {AFTER_HOLIDAY: ["X1"]}


def test_portfolio_loss_weekly_on_the_first_session_of_each_week(sqlite_container: Container) -> None:
    c = sqlite_container
    rows = [
        {
            "customer_no": "L1",
            "date": BEFORE_HOLIDAY,
            "product_code": "600001",
            "quantity": 1.0,
            "market_value": 7000.0,
            "cost": 10_000.0,
        },
        {
            "customer_no": "L2",
            "date": BEFORE_HOLIDAY,
            "product_code": "600001",
            "quantity": 1.0,
            "market_value": 8500.0,
            "cost": 10_000.0,
        },
    ]
    load(c, "holdings", rows)
    mot = rule("portfolio_loss")
    by_day = customers_by_day(c, mot, _days(date(2026, 10, 1), date(2026, 10, 16)))
    # Week 41's first session is Thursday 8 Oct (the holiday took Monday to Wednesday); week 42's is Monday.
    assert by_day == {AFTER_HOLIDAY: ["L1"], date(2026, 10, 12): ["L1"]}
    assert firings_on(c, mot, AFTER_HOLIDAY)[0].occurrence == "2026-W41"


def test_permission_threshold_weekly_for_customers_over_it_on_every_close_not_yet_opened(
    sqlite_container: Container,
) -> None:
    c = sqlite_container
    monday = date(2026, 10, 12)  # week 42's first session
    sessions = [d for d in _days(date(2026, 9, 1), date(2026, 10, 9)) if c.calendar.is_trading_day(d)][-20:]
    rows = []
    for who, assets in (("P1", 600_000.0), ("P2", 600_000.0), ("P3", 400_000.0), ("P4", 600_000.0)):
        rows += [
            {"customer_no": who, "date": d, "total_assets": assets}
            for d in sessions
            if not (who == "P4" and d == sessions[3])
        ]
    load(c, "assets", rows)
    _customers(
        c,
        [
            {"customer_no": "P1", "star_market_enabled": "否"},
            {"customer_no": "P2", "star_market_enabled": "是"},
            {"customer_no": "P3"},
            {"customer_no": "P4"},
        ],
    )
    mot = rule("permission_eligible")
    by_day = customers_by_day(c, mot, _days(date(2026, 10, 8), date(2026, 10, 16)))
    # P2 opened it already, P3 is under the threshold, P4 has a close missing (no average is known).
    assert by_day == {monday: ["P1"]}
    assert firings_on(c, mot, monday)[0].occurrence == "star_market_enabled:2026-W42"


def test_a_segment_condition_fires_for_its_members_once_a_month(demo_brokerage: Container) -> None:
    c = demo_brokerage
    mot = rule(
        "segment", params={"rule": {"indicator": "login_days_30d", "op": ">=", "value": 3}, "every": "month"}
    )
    day = c.calendar.business_date(c.clock.now())
    found = firings_on(c, mot, day, "09:00")
    values = c.analytics.table("indicator_values").to_pandas()
    latest = values[values.dt == values.dt.max()]
    expected = sorted(latest[latest.login_days_30d >= 3].customer_no)
    assert sorted(f.customer_no for f in found) == expected
    assert expected
    assert {f.occurrence for f in found} == {day.strftime("%Y-%m")}
