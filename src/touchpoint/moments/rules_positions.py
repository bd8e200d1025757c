"""MOT detectors on positions at the close: margin lines, a holding's plunge, the portfolio's floating loss
and a permission threshold reached (DOMAIN.md §2.1 16–19, 21, 22), evaluated at their times on the day's
data and again after each import."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import Field

from touchpoint.moments.data import DayData, among, first_session_of_week, iso_week, rows
from touchpoint.moments.firing import Detector, Firing, Params, Slot, money

# 17 / 18 / 19 Margin lines ----


class MarginParams(Params):
    """Maintenance ratio (total assets ÷ margin debt) below `below` and at least `at_least` at the close;
    `target` is the ratio a top-up restores (150 %)."""

    below: float = Field(gt=0)
    at_least: float | None = Field(default=None, ge=0)
    target: float = Field(default=1.5, gt=0)


class WarningParams(MarginParams):
    """警戒: below 150 %, not yet below the call line."""

    below: float = Field(default=1.5, gt=0)
    at_least: float | None = Field(default=1.3, ge=0)


class CallParams(MarginParams):
    """追保: below 130 %, not yet below the close-out line."""

    below: float = Field(default=1.3, gt=0)
    at_least: float | None = Field(default=1.2, ge=0)


class LiquidationParams(MarginParams):
    """强制平仓: below 120 %."""

    below: float = Field(default=1.2, gt=0)


def margin_line(data: DayData, slot: Slot, params: MarginParams) -> list[Firing]:
    """Customers with margin debt whose ratio at today's close is in the rule's band (needs today's close)."""
    assets = data.partition("assets", data.day)
    if assets is None:
        return []
    debtors = assets.filter(assets.margin_debt > 0)
    ratio = debtors.total_assets / debtors.margin_debt
    band = ratio < params.below
    if params.at_least is not None:
        band = band & (ratio >= params.at_least)
    picked = debtors.filter(band).select("customer_no", "total_assets", "margin_debt", ratio=ratio)
    firings = []
    for r in rows(picked):
        top_up = max(0.0, params.target * float(r["margin_debt"]) - float(r["total_assets"]))
        facts = {
            "ratio": round(float(r["ratio"]), 4),
            "total_assets": money(r["total_assets"]),
            "margin_debt": money(r["margin_debt"]),
            "top_up_to_target": money(top_up),
        }
        firings.append(Firing(str(r["customer_no"]), data.day.isoformat(), facts))
    return firings


# 21 Holding plunge / 22 Portfolio loss ----


class PlungeParams(Params):
    """A holding's price (market value ÷ quantity) down at least `drop` since the previous close."""

    drop: float = Field(default=0.07, gt=0, lt=1)


def holding_plunge(data: DayData, slot: Slot, params: PlungeParams) -> list[Firing]:
    """Holdings held at both closes whose price fell by the drop or more (needs both closes)."""
    today = data.partition("holdings", data.day)
    before = data.partition("holdings", data.calendar.previous_trading_day(data.day))
    if today is None or before is None:
        return []
    now = today.filter(today.quantity > 0).select(
        "customer_no", "product_code", price=today.market_value / today.quantity
    )
    then = before.filter(before.quantity > 0).select(
        "customer_no", "product_code", price_before=before.market_value / before.quantity
    )
    joined = now.join(then, ["customer_no", "product_code"])
    joined = joined.filter(joined.price_before > 0)
    change = joined.price / joined.price_before - 1
    fell = joined.filter(change <= -params.drop).select("customer_no", "product_code", change=change)
    return [
        Firing(
            str(r["customer_no"]),
            f"{r['product_code']}:{data.day.isoformat()}",
            {"product_code": r["product_code"], "change": round(float(r["change"]), 4)},
        )
        for r in rows(fell)
    ]


class LossParams(Params):
    """Floating loss of the whole portfolio (market value ÷ cost − 1) at or below −`loss`."""

    loss: float = Field(default=0.2, gt=0, lt=1)


def portfolio_loss(data: DayData, slot: Slot, params: LossParams) -> list[Firing]:
    """Weekly, on the first session of the week: customers whose holdings at the last close lost the share."""
    if not first_session_of_week(data):
        return []
    holdings = data.snapshot("holdings", data.day - timedelta(days=1))
    if holdings is None:
        return []
    totals = holdings.group_by("customer_no").aggregate(
        value=holdings.market_value.sum(), cost=holdings.cost.sum()
    )
    totals = totals.filter(totals.cost > 0)
    loss = totals.value / totals.cost - 1
    hit = totals.filter(loss <= -params.loss).select("customer_no", "value", "cost", change=loss)
    return [
        Firing(
            str(r["customer_no"]),
            iso_week(data.day),
            {
                "market_value": money(r["value"]),
                "cost": money(r["cost"]),
                "change": round(float(r["change"]), 4),
            },
        )
        for r in rows(hit)
    ]


# 16 Permission threshold reached ----


class PermissionParams(Params):
    """Average total assets over the last `sessions` closes at least `min_assets`, and the customer's
    attribute `attribute` (an imported extra column, e.g. 科创板权限) not true."""

    attribute: str = Field(default="star_market_enabled", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    min_assets: float = Field(default=500_000, gt=0)
    sessions: int = Field(default=20, ge=1, le=250)


def permission_eligible(data: DayData, slot: Slot, params: PermissionParams) -> list[Firing]:
    """Weekly: customers over the threshold on every one of the last closes' average, not yet opened."""
    if not first_session_of_week(data):
        return []
    last = data.calendar.previous_trading_day(data.day)
    first = data.calendar.add_trading_days(last, -(params.sessions - 1))
    assets, customers = data.table("assets"), data.snapshot("customers")
    if assets is None or customers is None:
        return []
    sessions = [d for d in data.partition_dates("assets") if first <= d <= last]
    if len(sessions) < params.sessions:
        return []  # a missing close is no value: the average is not known
    window = assets.filter(assets.dt.isin(sessions))
    average = window.group_by("customer_no").aggregate(avg=window.total_assets.mean(), n=window.count())
    rich = average.filter((average.n == len(sessions)) & (average.avg >= params.min_assets))
    picked = rows(rich)
    attributes = {
        str(r["customer_no"]): r["attributes"]
        for r in rows(among(customers, "customer_no", [str(r["customer_no"]) for r in picked]))
    }
    firings = []
    for r in picked:
        opened = _attribute(attributes.get(str(r["customer_no"])), params.attribute)
        if opened is not True:
            facts = {"average_assets": money(r["avg"]), "permission": params.attribute}
            firings.append(Firing(str(r["customer_no"]), f"{params.attribute}:{iso_week(data.day)}", facts))
    return firings


def _attribute(text: Any, name: str) -> Any:
    if not text:
        return None
    value = json.loads(text).get(name)
    return value in (True, "1", "true", "True", "Y", "是") if value is not None else None


def _detector(name: str, params: type[Params], fn: Any, title: str, at: str) -> Detector:
    return Detector(name, "condition", params, fn, title, at=(at,), trading_days_only=True)


POSITION_DETECTORS = (
    _detector("margin_warning", WarningParams, margin_line, "两融警戒 · Margin warning", "16:00"),
    _detector("margin_call", CallParams, margin_line, "追保 · Margin call", "16:00"),
    _detector("forced_liquidation", LiquidationParams, margin_line, "强制平仓 · Close-out", "16:00"),
    _detector("holding_plunge", PlungeParams, holding_plunge, "持仓异动 · Holding plunge", "16:00"),
    _detector("portfolio_loss", LossParams, portfolio_loss, "持仓亏损 · Portfolio loss", "09:30"),
    _detector(
        "permission_eligible", PermissionParams, permission_eligible, "达标未开通 · Permission", "09:30"
    ),
)
