"""MOT detectors on the day's data, evaluated at their times of day and again after each import
(DOMAIN.md §2.1: account opened without deposit, first deposit and trade, risk test expiring, birthday,
auto-invest plans at risk, margin lines, holding plunge, portfolio loss, permission threshold, and any
condition a segment rule can state — dormancy among them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field

from touchpoint.moments.data import DayData, cash_now, iso_week, rows
from touchpoint.moments.firing import Detector, Firing, Params, Slot, money


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


# 1 Account opened, no deposit ----


class NoDepositParams(Params):
    """Days after opening (D+3, D+7) at which a customer who never deposited is a moment."""

    days: list[int] = Field(default_factory=lambda: [3, 7], min_length=1)


def no_deposit(data: DayData, slot: Slot, params: NoDepositParams) -> list[Firing]:
    """Customers opened exactly N days ago with no transfer in until now (needs the transfers imported)."""
    customers, flows = data.snapshot("customers"), data.table("cash_flows")
    if customers is None or flows is None:
        return []  # without the transfers, "never deposited" is not known
    deposited = flows.filter((flows.direction == "in") & (flows.time <= slot.now)).select("customer_no")
    firings = []
    for n in sorted(set(params.days)):
        opened = customers.filter(customers.open_date == data.day - timedelta(days=n))
        for r in rows(opened.select("customer_no", "open_date").anti_join(deposited, "customer_no")):
            facts = {"open_date": _iso(r["open_date"]), "days_since_open": n}
            firings.append(Firing(str(r["customer_no"]), f"D+{n}", facts))
    return firings


# 2 First deposit / 3 First trade ----


class NoParams(Params):
    """No thresholds."""


def first_deposit(data: DayData, slot: Slot, params: NoParams) -> list[Firing]:
    """Customers whose first transfer in ever happened today (up to now)."""
    flows = data.table("cash_flows")
    if flows is None:
        return []
    ins = flows.filter(flows.direction == "in")
    first = ins.group_by("customer_no").aggregate(at=ins.time.min(), amount=ins.amount.argmin(ins.time))
    today = first.filter((first.at >= data.start()) & (first.at < data.end()) & (first.at <= slot.now))
    return [
        Firing(str(r["customer_no"]), "first", {"amount": money(r["amount"]), "at": r["at"].isoformat()})
        for r in rows(today)
    ]


def first_trade(data: DayData, slot: Slot, params: NoParams) -> list[Firing]:
    """On T+1: customers whose first trade ever was on the previous session (or on a closed day since)."""
    trades = data.table("trades")
    if trades is None:
        return []
    previous = data.calendar.previous_trading_day(data.day)
    first = trades.group_by("customer_no").aggregate(
        at=trades.time.min(),
        product_code=trades.product_code.argmin(trades.time),
        side=trades.side.argmin(trades.time),
        amount=trades.amount.argmin(trades.time),
    )
    found = first.filter((first.at >= data.start(previous)) & (first.at < data.start()))
    return [
        Firing(
            str(r["customer_no"]),
            "first",
            {
                "at": r["at"].isoformat(),
                "product_code": r["product_code"],
                "side": r["side"],
                "amount": money(r["amount"]),
            },
        )
        for r in rows(found)
    ]


# 14 Risk test expiring / 25 Birthday ----


class RiskTestParams(Params):
    """A risk assessment is valid `validity_days`; remind `stages` days before it expires (0: the day)."""

    validity_days: int = Field(default=730, ge=1, le=3653)
    stages: list[int] = Field(default_factory=lambda: [30, 7, 0], min_length=1)


def risk_test_expiring(data: DayData, slot: Slot, params: RiskTestParams) -> list[Firing]:
    """Customers whose assessment expires in exactly one of the stages' days from today."""
    customers = data.snapshot("customers")
    if customers is None:
        return []
    stage_of = {data.day + timedelta(days=n - params.validity_days): n for n in set(params.stages)}
    due = customers.filter(customers.risk_assessed_at.isin(sorted(stage_of)))
    firings = []
    for r in rows(due.select("customer_no", "risk_assessed_at", "risk_level")):
        n = stage_of[r["risk_assessed_at"]]
        expiry = data.day + timedelta(days=n)
        facts = {
            "assessed_at": _iso(r["risk_assessed_at"]),
            "expires_on": expiry.isoformat(),
            "days_left": n,
            "risk_level": r["risk_level"],
        }
        firings.append(Firing(str(r["customer_no"]), f"{expiry.isoformat()}:D-{n}", facts))
    return firings


def birthday(data: DayData, slot: Slot, params: NoParams) -> list[Firing]:
    """Customers born on today's month and day (those born on 29 February on the 28th in other years)."""
    customers = data.snapshot("customers")
    if customers is None:
        return []
    born = customers.birth_date
    wanted = (born.month() == data.day.month) & (born.day() == data.day.day)
    if (data.day.month, data.day.day) == (2, 28) and not _leap(data.day.year):
        wanted = wanted | ((born.month() == 2) & (born.day() == 29))
    firings = []
    for r in rows(customers.filter(wanted).select("customer_no", "birth_date")):
        age = data.day.year - r["birth_date"].year
        firings.append(Firing(str(r["customer_no"]), str(data.day.year), {"age": age}))
    return firings


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# 12 Auto-invest at termination risk / 13 funds low ----


class DefaultsParams(Params):
    """An active plan whose default count reached `defaults` (the next default ends it at 3)."""

    defaults: int = Field(default=2, ge=1, le=10)


def autoinvest_termination_risk(data: DayData, slot: Slot, params: DefaultsParams) -> list[Firing]:
    """Active plans at the default count, once per plan and count."""
    plans = data.snapshot("autoinvest_plans")
    if plans is None:
        return []
    risky = plans.filter((plans.status == "active") & (plans.default_count == params.defaults))
    return [
        Firing(
            str(r["customer_no"]),
            f"{r['plan_id']}:defaults={params.defaults}",
            {
                "plan_id": r["plan_id"],
                "fund_code": r["product_code"],
                "amount": money(r["amount"]),
                "default_count": int(r["default_count"]),
            },
        )
        for r in rows(risky)
    ]


def autoinvest_funds_low(data: DayData, slot: Slot, params: NoParams) -> list[Firing]:
    """On the trading day before a debit: active plans whose customer's cash now is below the amount."""
    plans = data.snapshot("autoinvest_plans")
    if plans is None:
        return []
    debit_day = data.calendar.next_trading_day(data.day)
    due = rows(plans.filter((plans.status == "active") & (plans.next_debit_date == debit_day)))
    cash = cash_now(data, [str(r["customer_no"]) for r in due], slot.now)
    firings = []
    for r in due:
        held = cash.get(str(r["customer_no"]))
        if held is None or held >= float(r["amount"]):
            continue  # no known cash: no value, no firing
        facts = {
            "plan_id": r["plan_id"],
            "fund_code": r["product_code"],
            "amount": money(r["amount"]),
            "cash": money(held),
            "shortfall": money(float(r["amount"]) - held),
            "debit_date": debit_day.isoformat(),
        }
        firings.append(Firing(str(r["customer_no"]), f"{r['plan_id']}:{debit_day.isoformat()}", facts))
    return firings


# A condition stated as a segment rule (24 Dormancy, and any a brokerage adds) ----


class SegmentParams(Params):
    """A segment rule (the segment builder's language); a customer who satisfies it fires once per
    `every` (day, ISO week or month)."""

    rule: dict[str, Any]
    every: Literal["day", "week", "month"] = "month"


def segment_condition(data: DayData, slot: Slot, params: SegmentParams) -> list[Firing]:
    """The rule's members today, once per period each."""
    if data.members is None:
        return []
    period = {
        "day": data.day.isoformat(),
        "week": iso_week(data.day),
        "month": data.day.strftime("%Y-%m"),
    }[params.every]
    return [Firing(customer, period, {}) for customer in data.members(params.rule)]


def _detector(name: str, params: type[Params], fn: Any, title: str, at: str, trading: bool) -> Detector:
    return Detector(name, "condition", params, fn, title, at=(at,), trading_days_only=trading)


DAILY_DETECTORS = (
    _detector("no_deposit", NoDepositParams, no_deposit, "开户未入金 · Opened, no deposit", "10:00", False),
    _detector("first_deposit", NoParams, first_deposit, "首次入金 · First deposit", "17:00", False),
    _detector("first_trade", NoParams, first_trade, "首笔交易 · First trade", "09:00", True),
    _detector(
        "risk_test_expiring", RiskTestParams, risk_test_expiring, "风险测评到期 · Risk test", "09:00", False
    ),
    _detector("birthday", NoParams, birthday, "生日 · Birthday", "09:00", False),
    _detector(
        "autoinvest_termination_risk",
        DefaultsParams,
        autoinvest_termination_risk,
        "定投即将终止 · Plan at risk",
        "17:00",
        False,
    ),
    _detector(
        "autoinvest_funds_low", NoParams, autoinvest_funds_low, "定投资金不足 · Funds low", "14:30", True
    ),
    _detector("segment", SegmentParams, segment_condition, "人群条件 · Segment condition", "09:00", False),
)
