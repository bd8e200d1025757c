"""The measured outcome of a journey (效果报告): entered → reached each node → sent → delivered → clicked →
goal, for each A/B variant and for the hold-out; the goal conversion of the treated against the hold-out with
absolute and relative uplift, a 95 % interval of the difference and a two-proportion z-test; the change in
assets and the net inflow per customer over the attribution window; and the same by day of entry.

The interval is Newcombe's hybrid score interval for a difference of independent proportions (Wald's collapses
to [0, 0] when neither group converts, a precise-looking zero from 0 of 14 against 0 of 1; Newcombe's keeps
its width and stays inside [-1, 1]) and the test the pooled z-test, both from statsmodels; with no hold-out,
or no runs in a group, they have no value (None), never zero.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import ibis
import pyarrow as pa
from pydantic import BaseModel
from sqlalchemy import select
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from touchpoint.core.durations import shift
from touchpoint.governance import Principal
from touchpoint.identity.scopes import scope_numbers
from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.repo import as_utc
from touchpoint.journeys.service import get_journey
from touchpoint.store.operational.schema import (
    channel_events,
    channel_sends,
    journey_outbox,
    journey_runs,
    journey_steps,
)

DEFAULT_WINDOW = "7d"
TREATED, HOLDOUT = "treated", "holdout"
MESSAGE_STAGES = {
    "message_sent": "sent",
    "message_delivered": "delivered",
    "message_opened": "opened",
    "message_clicked": "clicked",
}
MESSAGE_COUNTS = ("targeted", "suppressed", "sent", "delivered", "opened", "clicked")
"""A group's runs at each message stage: targeted by a message, one held back, sent, delivered, opened,
clicked."""
SUPPRESSED = "skipped"  # a send a policy held back: no consent, unsuitable, quiet hours, a cap


def uplift(treated: tuple[int, int], holdout: tuple[int, int]) -> dict[str, float | None]:
    """Goal conversion of treated vs hold-out from (converted, runs) pairs: rates, absolute and relative
    uplift, the 95 % interval of the difference (Newcombe) and the two-sided p-value of the pooled z-test."""
    (ct, nt), (ch, nh) = treated, holdout
    found: dict[str, float | None] = {
        "treated_rate": ct / nt if nt else None,
        "holdout_rate": ch / nh if nh else None,
        "absolute": None,
        "relative": None,
        "ci_low": None,
        "ci_high": None,
        "p_value": None,
    }
    if not nt or not nh:
        return found
    difference = ct / nt - ch / nh
    found["absolute"] = difference
    found["relative"] = difference / (ch / nh) if ch else None
    low, high = confint_proportions_2indep(ct, nt, ch, nh, method="newcomb", compare="diff")
    found["ci_low"], found["ci_high"] = _finite(low), _finite(high)
    if 0 < ct + ch < nt + nh:  # the test needs some successes and some failures overall
        _, p = proportions_ztest([ct, ch], [nt, nh])
        found["p_value"] = _finite(p)
    return found


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def journey_report(
    *, env: JourneyEnv, principal: Principal, name: str, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """The report over the runs that entered from `start` to `end` (Beijing days, both included; default
    every run), of the customers the caller may see."""
    journey = get_journey(env=env, name=name)
    window = journey.goal.within if journey.goal else DEFAULT_WINDOW
    runs = _runs(env, principal, name, start, end)
    groups = _groups(runs)
    steps, messages = _steps_and_messages(env, name, list(runs))
    money = _money(env, runs, window)
    node_ids = [n.id for n in journey.nodes]
    report_groups = {group: _group(ids, steps, messages, money, node_ids) for group, ids in groups.items()}
    treated, holdout = report_groups.get(TREATED), report_groups.get(HOLDOUT)
    conversions = (
        (treated["goal"] if treated else 0, treated["entered"] if treated else 0),
        (holdout["goal"] if holdout else 0, holdout["entered"] if holdout else 0),
    )
    if journey.goal is None:
        # Nothing was measured: a conversion rate of 0 % and an uplift of 0 ± 0 would read as a measured null.
        conversions = ((0, 0), (0, 0))
        for group in report_groups.values():
            group["conversion_rate"] = group["delivered_conversion_rate"] = None
    return {
        "name": name,
        "start": start,
        "end": end,
        "window": window,
        "goal_event": journey.goal.event if journey.goal else None,
        "groups": report_groups,
        "uplift": uplift(*conversions),
        "aum_uplift": _difference(treated, holdout, "aum_change_per_customer"),
        "net_inflow_uplift": _difference(treated, holdout, "net_inflow_per_customer"),
        "by_day": _by_day(env, runs, steps),
    }


def _runs(
    env: JourneyEnv, principal: Principal, name: str, start: date | None, end: date | None
) -> dict[str, dict[str, Any]]:
    allowed = None if principal.scope is None else set(scope_numbers(env, principal.scope))
    query = select(
        journey_runs.c.id,
        journey_runs.c.customer_no,
        journey_runs.c.holdout,
        journey_runs.c.context,
        journey_runs.c.entered_at,
    ).where(journey_runs.c.journey == name)
    if start is not None:
        query = query.where(journey_runs.c.entered_at >= env.calendar.to_utc(start))
    if end is not None:
        query = query.where(journey_runs.c.entered_at < env.calendar.to_utc(end + timedelta(days=1)))
    with env.ops.begin() as connection:
        rows = [dict(r._mapping) for r in connection.execute(query)]
    return {
        r["id"]: r | {"entered_at": as_utc(r["entered_at"])}
        for r in rows
        if allowed is None or r["customer_no"] in allowed
    }


def _groups(runs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Run ids of the treated, the hold-out and each A/B variant (`node:variant`) of the treated."""
    groups: dict[str, list[str]] = defaultdict(list)
    for run_id, run in runs.items():
        if run["holdout"]:
            groups[HOLDOUT].append(run_id)
            continue
        groups[TREATED].append(run_id)
        for node, variant in sorted(((run["context"] or {}).get("variants") or {}).items()):
            groups[f"{node}:{variant}"].append(run_id)
    return dict(groups)


def _steps_and_messages(
    env: JourneyEnv, name: str, run_ids: list[str]
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per run: the nodes it reached (and `goal` if it converted); the message stages it got to."""
    wanted = set(run_ids)
    steps: dict[str, set[str]] = defaultdict(set)
    messages: dict[str, set[str]] = defaultdict(set)
    with env.ops.begin() as connection:
        for run_id, node, outcome in connection.execute(
            select(journey_steps.c.run_id, journey_steps.c.node, journey_steps.c.outcome).where(
                journey_steps.c.journey == name
            )
        ):
            if run_id in wanted:
                steps[run_id].add("goal" if outcome == "goal" else node)
        sent = (
            select(journey_outbox.c.run_id, channel_events.c.event)
            .join(channel_events, channel_events.c.send_id == journey_outbox.c.id)
            .where(journey_outbox.c.journey == name, channel_events.c.event.in_(list(MESSAGE_STAGES)))
        )
        for run_id, event in connection.execute(sent):
            if run_id in wanted:
                messages[run_id].add(MESSAGE_STAGES[event])
        targeted = (
            select(journey_outbox.c.run_id, channel_sends.c.status)
            .join(channel_sends, channel_sends.c.id == journey_outbox.c.id)
            .where(journey_outbox.c.journey == name)
        )
        for run_id, status in connection.execute(targeted):
            if run_id in wanted:
                messages[run_id].add("targeted")
                if status == SUPPRESSED:
                    messages[run_id].add("suppressed")
    return steps, messages


def _group(
    ids: list[str],
    steps: dict[str, set[str]],
    messages: dict[str, set[str]],
    money: dict[str, tuple[float | None, float | None]],
    node_ids: list[str],
) -> dict[str, Any]:
    aum = [money[i][0] for i in ids if money.get(i, (None, None))[0] is not None]
    inflow = [money[i][1] for i in ids if money.get(i, (None, None))[1] is not None]
    counts = {stage: sum(stage in messages.get(i, ()) for i in ids) for stage in MESSAGE_COUNTS}
    goal = sum("goal" in steps.get(i, ()) for i in ids)
    delivered_goal = sum("goal" in steps.get(i, ()) and "delivered" in messages.get(i, ()) for i in ids)
    return {
        "entered": len(ids),
        "nodes": {node: sum(node in steps.get(i, ()) for i in ids) for node in node_ids},
        **counts,
        "goal": goal,
        "conversion_rate": goal / len(ids) if ids else None,
        **send_rates(counts),
        # DOMAIN.md §5.1: conversion of the delivered = goal among them ÷ delivered.
        "delivered_conversion_rate": _share(delivered_goal, counts["delivered"]),
        "aum_customers": len(aum),
        "aum_change_per_customer": sum(a for a in aum if a is not None) / len(aum) if aum else None,
        "net_inflow_per_customer": sum(v for v in inflow if v is not None) / len(inflow) if inflow else None,
    }


def send_rates(counts: Mapping[str, int]) -> dict[str, float | None]:
    """The message rates of DOMAIN.md §5.1 from a group's counts (None where the denominator is 0): reach =
    delivered ÷ targeted; suppression = held back ÷ targeted; open and click ÷ delivered."""
    return {
        "reach_rate": _share(counts["delivered"], counts["targeted"]),
        "suppression_rate": _share(counts["suppressed"], counts["targeted"]),
        "open_rate": _share(counts["opened"], counts["delivered"]),
        "click_rate": _share(counts["clicked"], counts["delivered"]),
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _difference(treated: dict[str, Any] | None, holdout: dict[str, Any] | None, key: str) -> float | None:
    if treated is None or holdout is None or treated[key] is None or holdout[key] is None:
        return None
    return float(treated[key] - holdout[key])


def _money(
    env: JourneyEnv, runs: dict[str, dict[str, Any]], window: str
) -> dict[str, tuple[float | None, float | None]]:
    """Per run: total assets at the last close within the window minus at the last close before entry (None
    without both closes), and transfers in minus out within the window (None without the transfers table)."""
    if not runs:
        return {}
    ends = {i: shift(r["entered_at"], window, env.calendar) for i, r in runs.items()}
    frame = ibis.memtable(
        pa.table(
            {
                "run_id": pa.array(list(runs), pa.string()),
                "r_customer": pa.array([r["customer_no"] for r in runs.values()], pa.string()),
                "r_start": pa.array([r["entered_at"] for r in runs.values()], pa.timestamp("us", tz="UTC")),
                "r_end": pa.array([ends[i] for i in runs], pa.timestamp("us", tz="UTC")),
                "before_day": pa.array(
                    [env.calendar.business_date(r["entered_at"]) for r in runs.values()], pa.date32()
                ),
                "end_day": pa.array([env.calendar.business_date(ends[i]) for i in runs], pa.date32()),
            }
        )
    )
    aum: dict[str, float] = {}
    if env.analytics.partitions("assets"):
        assets = env.analytics.table("assets")
        on = frame.r_customer == assets.customer_no
        before = (
            frame.join(assets, on & (assets.date < frame.before_day))
            .group_by("run_id")
            .aggregate(v0=assets.total_assets.argmax(assets.date))
        )
        after = frame.join(assets, on & (assets.date <= frame.end_day) & (assets.date >= frame.before_day))
        after = after.group_by("run_id").aggregate(v1=assets.total_assets.argmax(assets.date))
        both = before.join(after, "run_id").to_pyarrow().to_pylist()
        aum = {
            r["run_id"]: float(r["v1"] - r["v0"]) for r in both if r["v0"] is not None and r["v1"] is not None
        }
    inflow: dict[str, float] = {}
    if env.analytics.partitions("cash_flows"):
        flows = env.analytics.table("cash_flows")
        joined = frame.join(
            flows,
            (frame.r_customer == flows.customer_no)
            & (flows.time >= frame.r_start)
            & (flows.time < frame.r_end),
        )
        signed = ibis.cases((joined.direction == "in", joined.amount), else_=-joined.amount)
        moved = joined.group_by("run_id").aggregate(net=signed.sum()).to_pyarrow().to_pylist()
        inflow = dict.fromkeys(runs, 0.0) | {r["run_id"]: float(r["net"] or 0.0) for r in moved}
    return {i: (aum.get(i), inflow.get(i)) for i in runs}


def _by_day(
    env: JourneyEnv, runs: dict[str, dict[str, Any]], steps: dict[str, set[str]]
) -> list[dict[str, Any]]:
    """Entries and conversions per Beijing day of entry, treated and hold-out."""
    days: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for run_id, run in runs.items():
        group = HOLDOUT if run["holdout"] else TREATED
        day = env.calendar.business_date(run["entered_at"])
        days[day][f"{group}_entered"] += 1
        days[day][f"{group}_converted"] += "goal" in steps.get(run_id, ())
    keys = ("treated_entered", "treated_converted", "holdout_entered", "holdout_converted")
    return [{"day": day, **{k: counts.get(k, 0) for k in keys}} for day, counts in sorted(days.items())]


class ReportGroup(BaseModel):
    """One group's funnel and money: runs entered, runs that reached each node, were targeted by a message
    (and had one held back by a policy), got one sent, delivered, opened, clicked, reached the goal; the
    campaign rates of DOMAIN.md §5.1; assets change and net inflow per customer (None: no value)."""

    entered: int
    nodes: dict[str, int]
    targeted: int
    suppressed: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    goal: int
    conversion_rate: float | None
    reach_rate: float | None
    suppression_rate: float | None
    open_rate: float | None
    click_rate: float | None
    delivered_conversion_rate: float | None
    aum_customers: int
    aum_change_per_customer: float | None
    net_inflow_per_customer: float | None


class UpliftRead(BaseModel):
    """Treated against hold-out goal conversion: rates, uplift, 95 % interval of the difference, p-value."""

    treated_rate: float | None
    holdout_rate: float | None
    absolute: float | None
    relative: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


class ReportDay(BaseModel):
    """Entries and conversions of one day of entry."""

    day: date
    treated_entered: int
    treated_converted: int
    holdout_entered: int
    holdout_converted: int


class JourneyReportRead(BaseModel):
    """A journey's measured outcome over a period: groups (`treated`, `holdout`, `node:variant`), uplift."""

    name: str
    start: date | None
    end: date | None
    window: str
    goal_event: str | None
    groups: dict[str, ReportGroup]
    uplift: UpliftRead
    aum_uplift: float | None
    net_inflow_uplift: float | None
    by_day: list[ReportDay]
