"""MOT detectors on the trading calendar of IPOs and new bonds (打新): subscription day, allotment won,
payment short at 10:00 and 14:00 on T+2 before the 16:00 deadline, the forfeit-strike warning and listing
day — all in trading days, holidays included (DOMAIN.md §2)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from touchpoint.moments.data import DayData, among, cash_now, keyed, rows
from touchpoint.moments.firing import Detector, Firing, Params, Slot, money

PAY_CUTOFF = "16:00"
LOT = {"SH": (10_000, 1_000), "SZ": (5_000, 500)}  # market value per subscription unit, shares per unit


def _ipos(data: DayData, column: str) -> list[dict[str, Any]]:
    """IPOs on the shelf whose `column` date is today."""
    products = data.snapshot("products")
    if products is None:
        return []
    return rows(products.filter((products.product_type == "ipo") & (products[column] == data.day)))


def _deadline(data: DayData, product: dict[str, Any] | None) -> datetime:
    """The payment deadline: the product's own, else 16:00 on the allotment day."""
    if product is not None and product.get("pay_deadline") is not None:
        deadline: datetime = product["pay_deadline"]
        return deadline
    return data.at(PAY_CUTOFF)


# 6 IPO subscription day ----


class IpoDayParams(Params):
    """Eligible: the average market value held on the IPO's exchange over the `sessions` trading days ending
    T-2 is at least `min_value` (1万)."""

    min_value: float = Field(default=10_000, gt=0)
    sessions: int = Field(default=20, ge=1, le=60)


def ipo_day(data: DayData, slot: Slot, params: IpoDayParams) -> list[Firing]:
    """Eligible customers who have not subscribed yet, per IPO subscribing today, with their quota."""
    holdings, products = data.table("holdings"), data.snapshot("products")
    if holdings is None or products is None:
        return []
    last = data.calendar.add_trading_days(data.day, -2)
    first = data.calendar.add_trading_days(last, -(params.sessions - 1))
    sessions = [d for d in data.partition_dates("holdings") if first <= d <= last]
    if not sessions:
        return []
    trades = data.table("trades")
    firings = []
    for ipo in _ipos(data, "subscribe_date"):
        exchange = str(ipo.get("exchange") or "SH")
        listed = products.filter((products.exchange == exchange) & (products.product_type != "ipo"))
        held = holdings.filter(holdings.dt.isin(sessions)).semi_join(
            listed.select("product_code"), "product_code"
        )
        # A session without a row of the customer holds nothing there: the sum over sessions ÷ their number.
        value = held.group_by("customer_no").aggregate(total=held.market_value.sum())
        eligible = value.filter(value.total / len(sessions) >= params.min_value)
        if trades is not None:
            done = trades.filter(
                (trades.side == "ipo_subscribe")
                & (trades.product_code == ipo["product_code"])
                & (trades.time <= slot.now)
            )
            eligible = eligible.anti_join(done.select("customer_no"), "customer_no")
        unit_value, unit_shares = LOT.get(exchange, LOT["SH"])
        for r in rows(eligible):
            average = float(r["total"]) / len(sessions)
            facts = {
                "product_code": ipo["product_code"],
                "product_name": ipo["name"],
                "exchange": exchange,
                "eligible_value": money(average),
                "quota_shares": int(average // unit_value) * unit_shares,
            }
            firings.append(Firing(str(r["customer_no"]), str(ipo["product_code"]), facts))
    return firings


# 7 Allotment won / 8 Payment short ----


class NoParams(Params):
    """No thresholds."""


def _allotments(data: DayData) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Today's allotments (T+2) and their products."""
    allotments = data.partition("ipo_allotments", data.day)
    if allotments is None:
        return [], {}
    found = rows(allotments)
    products = data.snapshot("products")
    shelf = (
        {}
        if products is None
        else keyed(among(products, "product_code", [r["product_code"] for r in found]), "product_code")
    )
    return found, shelf


def ipo_allotted(data: DayData, slot: Slot, params: NoParams) -> list[Firing]:
    """Every allotment of today, with shares, amount due and the deadline."""
    found, shelf = _allotments(data)
    firings = []
    for r in found:
        product = shelf.get(str(r["product_code"]))
        deadline = _deadline(data, product)
        facts = {
            "product_code": r["product_code"],
            "product_name": product.get("name") if product else None,
            "shares": r["shares"],
            "amount_due": money(r["amount_due"]),
            "deadline": deadline.isoformat(),
        }
        firings.append(Firing(str(r["customer_no"]), str(r["product_code"]), facts, deadline))
    return firings


def ipo_payment_short(data: DayData, slot: Slot, params: NoParams) -> list[Firing]:
    """At each check before the deadline: winners not paid whose cash now is below the amount due."""
    found, shelf = _allotments(data)
    # Unpaid now: not paid yet, or paid only later in the day (a file of the day's final statuses, where a
    # forfeit after 16:00 already shows, is read as it stood at the check).
    unpaid = [
        r for r in found if r["status"] != "paid" or (r["paid_at"] is not None and r["paid_at"] > slot.now)
    ]
    cash = cash_now(data, [str(r["customer_no"]) for r in unpaid], slot.now)
    firings = []
    for r in unpaid:
        deadline = _deadline(data, shelf.get(str(r["product_code"])))
        held = cash.get(str(r["customer_no"]))
        if slot.now >= deadline or held is None or held >= float(r["amount_due"]):
            continue  # after the deadline nothing helps; unknown cash is no value; enough cash is fine
        facts = {
            "product_code": r["product_code"],
            "amount_due": money(r["amount_due"]),
            "cash": money(held),
            "shortfall": money(float(r["amount_due"]) - held),
            "deadline": deadline.isoformat(),
            "check": slot.time,
        }
        firings.append(Firing(str(r["customer_no"]), f"{r['product_code']}@{slot.time}", facts, deadline))
    return firings


# 9 Forfeit-strike warning / 10 Listing day ----


class ForfeitParams(Params):
    """Warn at the `strikes`-th forfeit within 12 months (the 3rd brings a 6-month ban)."""

    strikes: int = Field(default=2, ge=1, le=10)


def forfeit_warning(data: DayData, slot: Slot, params: ForfeitParams) -> list[Firing]:
    """Customers whose forfeits in the last 12 months reached the count with one on today's or the previous
    session's allotment (a forfeit file imported a day late still warns, once)."""
    allotments = data.table("ipo_allotments")
    if allotments is None:
        return []
    since = data.day - timedelta(days=365)
    forfeits = allotments.filter(
        (allotments.status == "forfeited") & (allotments.dt > since) & (allotments.dt <= data.day)
    )
    counted = forfeits.group_by("customer_no").aggregate(
        n=forfeits.count(), last=forfeits.dt.max(), product_code=forfeits.product_code.argmax(forfeits.dt)
    )
    recent = {data.day, data.calendar.previous_trading_day(data.day)}
    hit = counted.filter((counted.n == params.strikes) & counted["last"].isin(sorted(recent)))
    return [
        Firing(
            str(r["customer_no"]),
            f"forfeits={params.strikes}:{r['product_code']}",
            {
                "forfeits_12m": int(r["n"]),
                "last_product_code": r["product_code"],
                "last_forfeit": r["last"].isoformat(),
            },
        )
        for r in rows(hit)
    ]


def ipo_listing(data: DayData, slot: Slot, params: NoParams) -> list[Firing]:
    """Customers who paid for an allotment of a stock listing today."""
    allotments = data.table("ipo_allotments")
    if allotments is None:
        return []
    firings = []
    for ipo in _ipos(data, "listing_date"):
        paid = allotments.filter(
            (allotments.product_code == ipo["product_code"]) & (allotments.status == "paid")
        )
        for r in rows(paid):
            facts = {"product_code": ipo["product_code"], "product_name": ipo["name"], "shares": r["shares"]}
            firings.append(Firing(str(r["customer_no"]), str(ipo["product_code"]), facts))
    return firings


def _calendar(name: str, params: type[Params], fn: Any, title: str, *at: str) -> Detector:
    return Detector(name, "calendar", params, fn, title, at=at, trading_days_only=True)


IPO_DETECTORS = (
    _calendar("ipo_day", IpoDayParams, ipo_day, "新股申购日 · IPO day", "09:00"),
    _calendar("ipo_allotted", NoParams, ipo_allotted, "新股中签 · Allotment won", "08:30"),
    _calendar(
        "ipo_payment_short", NoParams, ipo_payment_short, "中签资金不足 · Payment short", "10:00", "14:00"
    ),
    _calendar("ipo_forfeit_warning", ForfeitParams, forfeit_warning, "弃购预警 · Forfeit warning", "16:30"),
    _calendar("ipo_listing", NoParams, ipo_listing, "新股上市 · Listing day", "09:00"),
)
