"""Campaign KPIs (活动效果, DOMAIN.md §5.1): one row per journey over a period of entry days, each the treated
group of that journey's own report (journeys/report.py) — targeted, held back, delivered, opened, clicked,
converted, their rates, and the uplift against the hold-out with its interval, in assets and in net inflow.

Which journeys: those running now (live or paused), whatever entered in the period, and any other (stopped,
archived) if runs of theirs entered in the period — a campaign that ran then, ended since. A draft, and a
journey ended with no entry in the period, have no row.

The total sums the counts over the rows and takes the message rates of the sums (the same `send_rates`).
It has no conversion, uplift or money uplift: each journey has its own goal event, attribution window and
hold-out share, so a pooled conversion mixes unlike goals and a pooled uplift is open to Simpson's paradox
(a journey with a large hold-out weighs on the control side and not on the treated one).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from touchpoint.governance import Principal
from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.report import (
    HOLDOUT,
    MESSAGE_COUNTS,
    TREATED,
    UpliftRead,
    journey_report,
    send_rates,
)
from touchpoint.journeys.service import list_journeys

RUNNING = ("live", "paused")
"""Statuses whose journey has a row even with no entry in the period (it is running: zero is news)."""
ENDED = ("stopped", "archived")
"""Statuses whose journey has a row when runs of it entered in the period."""


def campaign_kpis(*, env: JourneyEnv, principal: Principal, start: date, end: date) -> dict[str, Any]:
    """Per journey the treated group's KPIs over runs entered from `start` to `end` (Beijing days, both
    included) of the customers the caller may see, and the total of the counts."""
    rows = []
    for journey in list_journeys(env=env):
        if journey["status"] not in (*RUNNING, *ENDED):
            continue  # a draft has not run
        report = journey_report(env=env, principal=principal, name=journey["name"], start=start, end=end)
        if journey["status"] in RUNNING or _entered(report) > 0:
            rows.append(_row(journey, report))
    return {"start": start, "end": end, "rows": rows, "total": _total(rows)}


def _entered(report: dict[str, Any]) -> int:
    groups = report["groups"]
    return sum(groups[g]["entered"] for g in (TREATED, HOLDOUT) if g in groups)


def _row(journey: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """The treated group of the report with the uplifts; a group nobody entered has counts 0, rates None."""
    treated = report["groups"].get(TREATED)
    holdout = report["groups"].get(HOLDOUT)
    counts = {key: treated[key] if treated else 0 for key in (*MESSAGE_COUNTS, "entered", "goal")}
    rates = ("reach_rate", "suppression_rate", "open_rate", "click_rate")
    conversions = ("conversion_rate", "delivered_conversion_rate")
    return {
        "name": journey["name"],
        "title": journey["title"],
        "status": journey["status"],
        "goal_event": report["goal_event"],
        "window": report["window"],
        **counts,
        "holdout_entered": holdout["entered"] if holdout else 0,
        "holdout_goal": holdout["goal"] if holdout else 0,
        **{key: treated[key] if treated else None for key in (*rates, *conversions)},
        "uplift": report["uplift"],
        "aum_uplift": report["aum_uplift"],
        "net_inflow_uplift": report["net_inflow_uplift"],
    }


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {key: sum(r[key] for r in rows) for key in (*MESSAGE_COUNTS, "entered", "holdout_entered")}
    return {"journeys": len(rows), **counts, **send_rates(counts)}


class CampaignKpiRow(BaseModel):
    """One journey's campaign KPIs: its treated runs' counts and rates (None: no denominator), goal
    conversion of those entered and of those delivered, and the uplifts against its hold-out."""

    name: str
    title: str
    status: str
    goal_event: str | None
    window: str
    entered: int
    targeted: int
    suppressed: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    goal: int
    holdout_entered: int
    holdout_goal: int
    reach_rate: float | None
    suppression_rate: float | None
    open_rate: float | None
    click_rate: float | None
    conversion_rate: float | None
    delivered_conversion_rate: float | None
    uplift: UpliftRead
    aum_uplift: float | None
    net_inflow_uplift: float | None


class CampaignTotalRead(BaseModel):
    """The rows' counts summed and the message rates of the sums (no conversion or uplift: the journeys'
    goals differ)."""

    journeys: int
    entered: int
    holdout_entered: int
    targeted: int
    suppressed: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    reach_rate: float | None
    suppression_rate: float | None
    open_rate: float | None
    click_rate: float | None


class CampaignKpisRead(BaseModel):
    """Campaign KPIs over a period of entry days: one row per journey and the total."""

    start: date
    end: date
    rows: list[CampaignKpiRow]
    total: CampaignTotalRead
