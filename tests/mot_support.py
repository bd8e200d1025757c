"""Helpers for MOT rule tests: crafted tables loaded through the import path, a rule's firings by day."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

import pyarrow as pa

from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.moments.firing import Firing, Slot
from touchpoint.moments.model import MotRule
from touchpoint.moments.service import detect

_SOURCES = itertools.count()
SUBSCRIBE, ALLOT, LISTING = date(2026, 9, 29), date(2026, 10, 8), date(2026, 10, 15)
IPO = "732001"


def load(container: Container, table: str, rows: list[dict[str, Any]], day: date | None = None) -> None:
    """Import rows into a canonical table (a snapshot table on `day`), as a data team's file would come."""
    columns = list(
        dict.fromkeys(k for row in rows for k in row)
    )  # from_pylist reads the first row's keys only
    rows = [{k: row.get(k) for k in columns} for row in rows]
    report = import_arrow(
        env=container,
        principal=SYSTEM,
        table=table,
        data=pa.Table.from_pylist(rows),
        options=ImportOptions(business_date=day, force=True),
        source_name=f"test:{table}:{next(_SOURCES)}",
    )
    assert report.rows_rejected == 0, report.errors


def rule(detector: str, **fields: Any) -> MotRule:
    """A rule on a detector, service class, owned by the system unless told otherwise."""
    return MotRule.model_validate(
        {"name": detector, "title": detector, "detector": detector, "classification": "service", **fields}
    )


def at(container: Container, day: date, clock: str) -> datetime:
    """The UTC instant of a Beijing time on a day."""
    hour, minute = (int(p) for p in clock.split(":"))
    return container.calendar.to_utc(day, time(hour, minute))


def firings_on(container: Container, mot: MotRule, day: date, clock: str | None = None) -> list[Firing]:
    """What the rule finds at its slot (or `clock`) on `day`, skipping closed days as the scheduler does."""
    from touchpoint.moments.catalogue import DETECTORS

    detector = DETECTORS[mot.detector]
    if detector.trading_days_only and not container.calendar.is_trading_day(day):
        return []
    when = clock or mot.times()[0]
    return detect(container, mot, Slot(day, when, at(container, day, when)))


def customers_by_day(
    container: Container, mot: MotRule, days: Iterable[date], clock: str | None = None
) -> dict[date, list[str]]:
    """The customers the rule fires for on each day that it fires at all."""
    found = {}
    for day in days:
        who = sorted(f.customer_no for f in firings_on(container, mot, day, clock))
        if who:
            found[day] = who
    return found


def days_between(first: date, last: date) -> list[date]:
    """Every calendar day from first to last."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def ipo_world(c: Container) -> None:
    """An IPO subscribed on Tue 29 Sep 2026 (T+2 on Thu 8 Oct after the National Day closure, listing 15 Oct):
    A is eligible on SH and short of cash at 10:00 (a deposit at 11:00 covers it), B holds only SZ, C too
    little, D subscribes at 09:35; at T+2 A, E (enough cash), G (short all day) won, F won and paid, and Z
    won and, with no cash, forfeited by the evening."""
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
    sessions = [d for d in days_between(date(2026, 8, 17), date(2026, 9, 30)) if c.calendar.is_trading_day(d)]
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
            for who, cash in (("A", 5_000.0), ("E", 20_000.0), ("G", 1_000.0), ("F", 0.0), ("Z", 0.0))
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
        {  # a file of the day's final statuses: Z forfeited after 16:00, unpaid at each check
            "customer_no": "Z",
            "product_code": IPO,
            "date": ALLOT,
            "shares": 500.0,
            "amount_due": 7_500.0,
            "status": "forfeited",
        },
    ]
    load(c, "ipo_allotments", allotments)
