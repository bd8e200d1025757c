"""Funnels (漏斗): how far customers get through 2–20 steps within a conversion window.

Semantics. A chain enters at a first-step event on a Beijing day inside [from, to]; it reaches step k when
events exist for steps 2..k, each a different event, that keep the mode's order, the window (every step by
the deadline: N minutes, hours or days after the entry, or the end of the Nth XSHG trading day after the
entry's Beijing day) and the exclusions. A customer reaches step k when ANY chain of theirs does: every
combination of events counts, not just the earliest occurrence of each step.
- `ordered`: steps 2..k in order, each at or after the previous (events at one instant may fill consecutive
  steps in any order); other events may come between.
- `strict`: each next step is the customer's very next tracked event (ties at one instant by event id).
- `unordered`: steps 2..k each at or after the entry, in any order (the steps must be different events);
  step k is reached at the latest moment of steps 1..k.
- An exclusion (ordered and unordered) with span A..B forbids its event strictly between the moments a
  chain reaches steps k-1 and k, for k in A+1..B; an excluded event at the very instant of a step is not
  between steps.
Step times (for the seconds between steps) are, for each customer's earliest entry among those that go
furthest, the earliest moment any of its chains reaches each step.

The events are read in one query and searched in NumPy (`chains.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.expr.types import BooleanValue, Table
from pyroaring import FrozenBitMap

from touchpoint.analytics.chains import TIME_MASK, Chains, Events, follow_strictly, pack_keys, search
from touchpoint.analytics.events import (
    check_calendar,
    check_events,
    coded_events_between,
    date_range,
    decode_persons,
)
from touchpoint.analytics.groups import MISSING, OTHER, Breakdown, customer_labels, top_labels, with_property
from touchpoint.analytics.model import Exclusion, FunnelQuery, FunnelStep, parse_window
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.durations import Duration
from touchpoint.core.errors import Fault, ValidationError
from touchpoint.governance import Principal
from touchpoint.indicators.compile import property_condition
from touchpoint.indicators.model import Filter
from touchpoint.indicators.service import known_events
from touchpoint.segments.model import PropertyFilter
from touchpoint.segments.service import SegmentEnv, save_list_segment
from touchpoint.tags.service import TagEnv

__all__ = ["Exclusion", "FunnelQuery", "FunnelStep", "funnel", "funnel_customers", "save_funnel_segment"]


@dataclass(frozen=True)
class _Dated:
    """A funnel query with its days resolved on the clock (`start`, `end`) and its window parsed."""

    query: FunnelQuery
    start: date
    end: date
    window: Duration
    last_day: date  # the last Beijing day a chain may reach a step on


def _dated(env: TagEnv, query: FunnelQuery) -> _Dated:
    _check_steps(query)
    start, end = date_range(env, query.start, query.end)
    window = parse_window(query.window)
    calendar = env.calendar
    if window.unit == "td":
        check_calendar(calendar, start, end)
    try:
        last_day = _last_day(end, window, calendar)
    except ValueError:  # the Nth trading day after `end` lies past the calendar
        raise ValidationError(
            f"window {query.window}: {end} plus the window lies past the trading calendar "
            f"(it ends {calendar.last_day})",
            faults=[Fault(loc=("body", "window"), msg="reaches past the trading calendar")],
        ) from None
    return _Dated(query, start, end, window, last_day)


def _check_steps(query: FunnelQuery) -> None:
    """The rules across fields: distinct events in an unordered funnel, no exclusions in a strict one, each
    exclusion's span inside the steps, a breakdown of a known kind (ValidationError naming the field)."""

    def refuse(message: str, *loc: str | int) -> None:
        raise ValidationError(message, faults=[Fault(loc=("body", *loc), msg=message)])

    if query.mode == "unordered":
        names = [step.event for step in query.steps]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            refuse(
                f"an unordered funnel needs a different event at each step ({repeated[0]} repeats)", "steps"
            )
    if query.exclusions and query.mode == "strict":
        refuse(
            "a strict funnel already allows no other event between steps: drop the exclusions", "exclusions"
        )
    for i, exclusion in enumerate(query.exclusions):
        before = exclusion.before or len(query.steps)
        if not exclusion.after < before <= len(query.steps):
            refuse(
                f"exclusions[{i}]: after {exclusion.after} and before {before} must be steps "
                f"1..{len(query.steps)} with after < before",
                "exclusions",
                i,
            )
    if query.by is not None:
        try:
            Breakdown.parse(query.by)
        except ValidationError as exc:
            refuse(str(exc), "by")


def funnel(*, env: TagEnv, query: FunnelQuery, scope: FrozenBitMap | None = None) -> dict[str, Any]:
    """Customers reaching each step, conversions, and time from the previous step (median and mean), overall
    and, with `by`, per group (of the customers in `scope` only, when given)."""
    asked = _dated(env, query)
    events, chains = _chains(env, asked, scope)
    best = _best(chains, None)
    result = {
        "from": asked.start.isoformat(),
        "to": asked.end.isoformat(),
        "window": query.window,
        "mode": query.mode,
        "steps": _steps(query, best),
    }
    if query.by is not None:
        grouped = _best(chains, _labels(env, asked, events, chains))
        sizes = grouped.groupby("group").size().sort_values(ascending=False, kind="stable")
        order = [label for label in sizes.index if label != OTHER] + [OTHER] * (OTHER in sizes.index)
        result["by"] = query.by
        result["breakdown"] = [
            {"group": str(label), "steps": _steps(query, grouped[grouped["group"] == label])}
            for label in order
        ]
    return result


def funnel_customers(
    *,
    env: TagEnv,
    query: FunnelQuery,
    step: int,
    who: Literal["reached", "dropped"],
    scope: FrozenBitMap | None = None,
) -> list[str]:
    """Customer numbers who reached step `step` (1-based), or who dropped at it: reached step-1, not step."""
    if not 1 <= step <= len(query.steps) or (who == "dropped" and step == 1):
        raise ValidationError(f"step {step}: give 1..{len(query.steps)} (2.. for drop-offs)")
    events, chains = _chains(env, _dated(env, query), scope)
    best = _best(chains, None)
    chosen = best["reached"] >= step if who == "reached" else best["reached"] == step - 1
    codes = best.loc[chosen, "person"].to_numpy()
    return sorted(events.people[codes[events.is_customer[codes]]])


def save_funnel_segment(
    *,
    env: SegmentEnv,
    principal: Principal,
    query: FunnelQuery,
    step: int,
    who: Literal["reached", "dropped"],
    name: str,
    title: str | None = None,
) -> dict[str, Any]:
    """Save the customers who reached (or dropped at) a step as a static segment."""
    numbers = funnel_customers(env=env, query=query, step=step, who=who, scope=principal.scope)
    verb = "到达" if who == "reached" else "流失于"
    source = f"funnel {' → '.join(s.event for s in query.steps)} {who} step {step}"
    asked = _dated(env, query)
    label = title or f"漏斗{verb}第{step}步 {asked.start}~{asked.end}"
    return save_list_segment(
        env=env, principal=principal, name=name, title=label, numbers=numbers, source=source
    )


def _chains(env: TagEnv, asked: _Dated, scope: FrozenBitMap | None) -> tuple[Events, Chains]:
    query = asked.query
    calendar = env.calendar
    events = _load(env, query, asked.start, asked.last_day, scope)
    # datetime64 bounds: comparing with a `date` object would go element by element in Python.
    in_range = (events.days >= np.datetime64(asked.start)) & (events.days <= np.datetime64(asked.end))
    first = np.flatnonzero(events.steps[0] & in_range)
    deadline = _deadlines(events, first, asked.window, calendar)
    if query.mode == "strict":
        return events, follow_strictly(events, first, deadline)
    return events, search(events, first, deadline, query.mode, _stops(events, query))


def _stops(events: Events, query: FunnelQuery) -> list[np.ndarray]:
    """Per step k (0-based), which events may not lie between a chain's steps k-1 and k: those of every
    exclusion `after` A `before` B with A < k+1 <= B (steps numbered from 1)."""
    stops = [np.zeros(len(events.keys), dtype=bool) for _ in query.steps]
    for j, exclusion in enumerate(query.exclusions):
        for k in range(exclusion.after, exclusion.before or len(query.steps)):
            stops[k] |= events.excluded[j]
    return stops


def _load(env: TagEnv, query: FunnelQuery, start: date, last_day: date, scope: FrozenBitMap | None) -> Events:
    """One query for every event the funnel reads (a strict funnel reads every tracked event): integer person
    codes, times, days and which steps and exclusions each event matches, sorted by person then time."""
    asked = list(dict.fromkeys([s.event for s in query.steps] + [e.event for e in query.exclusions]))
    if query.mode == "strict":
        check_events(env, asked)
        names = sorted(known_events(env.analytics))
    else:
        names = asked
    table, coded = coded_events_between(env, names, start, last_day, scope=scope)
    group = Breakdown.parse(query.by) if query.by else None
    if group is not None and group.kind == "property":
        table = with_property(table, group.name)
    marks = {f"s{k}": _matches(table, step.event, step.where) for k, step in enumerate(query.steps)}
    marks |= {f"x{j}": _matches(table, e.event, e.where) for j, e in enumerate(query.exclusions)}
    if group is not None and group.kind == "property":
        marks["group"] = table.group
    columns = ["person_code", "person_name", "is_customer", "time", "dt"]
    columns += ["event_id"] if query.mode == "strict" else []
    arrow = table.select(*columns, **marks).to_pyarrow().combine_chunks()
    if query.mode != "strict":
        check_events(env, _unseen(query, arrow))
    people = decode_persons(coded, arrow)
    millis = arrow["time"].cast(pa.timestamp("ms", tz="UTC"), safe=False).cast(pa.int64()).to_numpy()
    keys, origin = pack_keys(people.codes, millis)
    if query.mode == "strict":
        # The very next event is defined by time, then event id.
        order = np.lexsort((arrow["event_id"].to_numpy(zero_copy_only=False), keys))
    else:
        order = np.argsort(keys)  # events at one instant may come in any order: they fill steps alike

    def column(name: str) -> np.ndarray:
        values: np.ndarray = arrow[name].fill_null(False).to_numpy(zero_copy_only=False)[order]
        return values

    return Events(
        people=people.names,
        keys=keys[order],
        days=arrow["dt"].to_numpy(zero_copy_only=False).astype("datetime64[D]")[order],
        steps=[column(f"s{k}") for k in range(len(query.steps))],
        excluded=[column(f"x{j}") for j in range(len(query.exclusions))],
        groups=arrow["group"].to_numpy(zero_copy_only=False)[order] if "group" in marks else None,
        is_customer=people.is_customer,
        origin=origin,
    )


def _unseen(query: FunnelQuery, arrow: pa.Table) -> list[str]:
    """The events of the steps and exclusions that matched no row read: only these can be unknown. An event
    read is known, and asking which events exist scans every event file once per file set (on a cold start
    a good part of the funnel's time)."""
    marked = [(step.event, f"s{k}") for k, step in enumerate(query.steps)]
    marked += [(e.event, f"x{j}") for j, e in enumerate(query.exclusions)]
    unseen = [name for name, column in marked if not pc.any(arrow[column]).as_py()]
    return list(dict.fromkeys(unseen))


def _matches(table: Table, event: str, where: list[PropertyFilter]) -> BooleanValue:
    """Whether each row is this event and passes its property filters (a missing property fails)."""
    condition: BooleanValue = table.event == event
    for item in where:
        condition &= property_condition(table, Filter(property=item.property, op=item.op, value=item.value))
    return condition.fill_null(False)


def _labels(env: TagEnv, asked: _Dated, events: Events, chains: Chains) -> np.ndarray:
    """Each chain's group: its first step's property value, or its customer's attribute or tag value; all
    but the `top` groups with most first-step customers fold into 其他."""
    query = asked.query
    by = Breakdown.parse(str(query.by))
    if by.kind == "property":
        assert events.groups is not None
        raw = pd.Series(events.groups[chains.anchor], dtype=object)
    else:
        labels = customer_labels(env, by, asked.end)
        raw = pd.Series(events.people[chains.person], dtype=object).map(labels)
    pairs = pd.DataFrame({"label": raw.fillna(MISSING).astype(str), "person": chains.person})
    distinct = pairs.drop_duplicates()
    leaders = top_labels(distinct["label"], pd.Series(1, index=distinct.index), query.top)
    kept = set(leaders)
    folded: np.ndarray = np.where(pairs["label"].isin(kept), pairs["label"], OTHER)
    return folded


def _best(chains: Chains, labels: np.ndarray | None) -> pd.DataFrame:
    """Per person (and group), the chain that got furthest (the earliest such) with its step times."""
    if labels is None:
        chosen = furthest_per_person(chains.person, chains.reached)
        picked = {"person": chains.person[chosen], "reached": chains.reached[chosen]}
        best = pd.DataFrame(picked, index=chosen)
    else:
        frame = pd.DataFrame({"person": chains.person, "reached": chains.reached, "group": labels})
        ranked = frame.sort_values("reached", ascending=False, kind="stable")
        best = ranked.drop_duplicates(["group", "person"])
    for k, column in enumerate(chains.when(best.index.to_numpy())):
        best[f"t{k}"] = column
    return best


def furthest_per_person(person: np.ndarray, reached: np.ndarray) -> np.ndarray:
    """The position of each person's chain that reached most steps, the first such, for chains sorted by
    person (as entries are): a pass over runs of one person instead of a sort of every chain."""
    if not len(person):
        return np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.append(True, person[1:] != person[:-1]))
    most = np.maximum.reduceat(reached, starts)
    tops = np.flatnonzero(reached == np.repeat(most, np.diff(np.append(starts, len(person)))))
    first: np.ndarray = tops[np.append(True, person[tops][1:] != person[tops][:-1])]
    return first


def _steps(query: FunnelQuery, best: pd.DataFrame) -> list[dict[str, Any]]:
    counts = [int((best["reached"] >= k + 1).sum()) for k in range(len(query.steps))]
    steps = []
    for k, step in enumerate(query.steps):
        millis = np.empty(0, dtype=np.int64)
        if k:
            done = best[best["reached"] > k]
            millis = (done[f"t{k}"] - done[f"t{k - 1}"]).to_numpy(dtype=np.int64)
        steps.append(
            {
                "event": step.event,
                "customers": counts[k],
                "conversion_from_previous": _ratio(counts[k], counts[k - 1]) if k else 1.0,
                "conversion_from_first": _ratio(counts[k], counts[0]),
                "median_seconds_from_previous": float(np.median(millis / 1000.0)) if len(millis) else None,
                "avg_seconds_from_previous": _mean_seconds(millis),
            }
        )
    return steps


def _mean_seconds(millis: np.ndarray) -> float | None:
    """The mean of `millis` in seconds, summed exactly in integers: the same answer whatever order the
    engine returned the customers in (a sum of floats differs in its last digits)."""
    if not len(millis):
        return None
    return int(millis.sum()) / (len(millis) * 1000)


def _last_day(end: date, window: Duration, calendar: TradingCalendar) -> date:
    """The last Beijing day a chain entered on `end` may reach a step on: that of the deadline of an entry
    at the day's last instant (the Nth trading day after `end` for a `td` window)."""
    span = window.span
    if span is None:
        return calendar.add_trading_days(end, window.n)
    latest = timedelta(days=1) - timedelta(milliseconds=1) + span  # from the start of `end`
    return end + timedelta(days=latest // timedelta(days=1))


def _deadlines(events: Events, first: np.ndarray, window: Duration, calendar: TradingCalendar) -> np.ndarray:
    """The last moment (milliseconds since the origin) each chain may reach a step: N minutes, hours or days
    after its entry, or the last millisecond of the Nth trading day after the entry's Beijing day."""
    started = events.keys[first] & TIME_MASK
    span = window.span
    if span is not None:
        deadline: np.ndarray = started + span // timedelta(milliseconds=1)
        return deadline
    n = window.n
    days = events.days[first]
    ends = {}
    for day in np.unique(days).astype(object):
        last = calendar.add_trading_days(day, n)
        midnight = calendar.to_utc(last + timedelta(days=1), time(0, 0))
        ends[day] = int(midnight.timestamp() * 1000) - events.origin - 1
    return np.array([ends[d] for d in days.astype(object)], dtype=np.int64)


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
