"""MOT detectors on one event, run by the event-log consumer within seconds of the event (DOMAIN.md §2.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field

from touchpoint.moments.data import EventFacts
from touchpoint.moments.firing import Detector, Firing, Params, money

RISK_RANK = {f"C{n}": n for n in range(1, 6)} | {f"R{n}": n for n in range(1, 6)}


@dataclass(frozen=True)
class EventSeen:
    """One event of the log as a detector reads it: whose it is (through One ID), when, with what."""

    event_id: str
    name: str
    customer_no: str
    at: datetime
    properties: dict[str, Any]


def _amount(event: EventSeen) -> float | None:
    value = event.properties.get("amount")
    if not isinstance(value, int | float | str) or isinstance(value, bool):
        return None
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return None
    return amount if math.isfinite(amount) and amount >= 0 else None


# 4 / 5 Large inflow and outflow ----


class FlowParams(Params):
    """A bank transfer of at least `threshold` yuan, or of `share` of the assets at the last close or more."""

    event: str = "cash_in"
    threshold: float = Field(default=100_000, gt=0)
    share: float = Field(default=0.5, gt=0, le=10)


class OutflowParams(FlowParams):
    """As FlowParams, for money leaving (30 % of assets by default)."""

    event: str = "cash_out"
    share: float = Field(default=0.3, gt=0, le=10)


def large_flow(events: list[EventSeen], facts: EventFacts, params: FlowParams) -> list[Firing]:
    """Transfers at or over the threshold, or over the share of the customer's assets at the last close."""
    days = {e.event_id: facts.data.calendar.business_date(e.at) for e in events}
    priors = {
        day: facts.prior_assets([e.customer_no for e in events if days[e.event_id] == day], day)
        for day in set(days.values())
    }  # one read per day of the batch, not one per event
    firings = []
    for event in events:
        amount = _amount(event)
        if amount is None:
            continue
        prior = priors[days[event.event_id]].get(event.customer_no)
        by_share = prior is not None and prior > 0 and amount >= params.share * prior
        if amount >= params.threshold or by_share:
            share = round(amount / prior, 4) if prior else None
            facts_ = {"amount": money(amount), "prior_total_assets": money(prior), "share_of_assets": share}
            firings.append(Firing(event.customer_no, f"event:{event.event_id}", facts_, at=event.at))
    return firings


# 11 Auto-invest debit failed ----


class DebitFailedParams(Params):
    """A failed auto-invest debit; the fund house retries on the next `retry_days` trading days."""

    event: str = "autoinvest_deduction_failed"
    retry_days: int = Field(default=2, ge=0, le=10)


def debit_failed(events: list[EventSeen], facts: EventFacts, params: DebitFailedParams) -> list[Firing]:
    """One firing per failed debit (per plan and day), with the last day of the retry window."""
    calendar = facts.data.calendar
    firings = []
    for event in events:
        day = calendar.business_date(event.at)
        plan = str(event.properties.get("plan_id") or event.properties.get("fund_code") or "-")
        retry_until = calendar.add_trading_days(day, params.retry_days) if params.retry_days else day
        props = event.properties
        firings.append(
            Firing(
                event.customer_no,
                f"{plan}:{day.isoformat()}",
                {
                    "plan_id": props.get("plan_id"),
                    "fund_code": props.get("fund_code") or props.get("product_code"),
                    "amount": money(_amount(event)),
                    "reason": props.get("reason"),
                    "retry_until": retry_until.isoformat(),
                },
                at=event.at,
            )
        )
    return firings


# 15 Suitability mismatch on purchase ----


class MismatchParams(Params):
    """Purchase events whose product's risk level (R1–R5) is above the customer's (C1–C5)."""

    events: list[str] = Field(default_factory=lambda: ["fund_subscribe", "order_submit"], min_length=1)


def suitability_mismatch(events: list[EventSeen], facts: EventFacts, params: MismatchParams) -> list[Firing]:
    """A purchase of a product riskier than the customer's assessed level; the lowest category (C1) is
    flagged: such a customer may not buy it at all."""
    codes = [str(e.properties.get("product_code") or e.properties.get("fund_code") or "") for e in events]
    products = facts.products([c for c in codes if c])
    customers = facts.customers([e.customer_no for e in events])
    firings = []
    for event, code in zip(events, codes, strict=True):
        product, customer = products.get(code), customers.get(event.customer_no)
        if product is None or customer is None:
            continue  # an unknown product or customer has no level to compare: no value, no firing
        product_risk, customer_risk = product.get("risk_level"), customer.get("risk_level")
        if product_risk not in RISK_RANK or customer_risk not in RISK_RANK:
            continue
        if RISK_RANK[product_risk] > RISK_RANK[customer_risk]:
            facts_ = {
                "product_code": code,
                "product_name": product.get("name"),
                "product_risk": product_risk,
                "customer_risk": customer_risk,
                "lowest_category": customer_risk == "C1",
                "event": event.name,
            }
            firings.append(Firing(event.customer_no, f"event:{event.event_id}", facts_, at=event.at))
    return firings


EVENT_DETECTORS = (
    Detector(
        "large_inflow",
        "event",
        FlowParams,
        large_flow,
        "大额入金 · Large inflow",
        events=lambda p: (p.event,),
    ),
    Detector(
        "large_outflow",
        "event",
        OutflowParams,
        large_flow,
        "大额转出 · Large outflow",
        events=lambda p: (p.event,),
    ),
    Detector(
        "autoinvest_debit_failed",
        "event",
        DebitFailedParams,
        debit_failed,
        "定投扣款失败 · Debit failed",
        events=lambda p: (p.event,),
    ),
    Detector(
        "suitability_mismatch",
        "event",
        MismatchParams,
        suitability_mismatch,
        "适当性不匹配 · Suitability mismatch",
        events=lambda p: tuple(p.events),
    ),
)
