"""Funnels (漏斗): how far customers get through 2–20 steps within a conversion window.

Semantics: a customer's first step is an occurrence on a Beijing day inside [from, to]; from each such
occurrence (a chain) the customer reaches step k if steps 2..k follow it within the window after it. The
reported step is the furthest reached over all of the customer's chains.
- `ordered`: steps 2..k in order, each at or after the previous (one event fills one step); other events may
  come between.
- `strict`: each next step is the customer's very next tracked event (ties at one instant by event id).
- `unordered`: steps 2..k each happen at or after the first step, in any order (the steps must be different
  events, so one event never fills two steps).
An exclusion step (ordered and unordered) stops a chain at step k-1 when the excluded event happens strictly
between the chain's step k-1 and step k, for k in the exclusion's span; each step is taken at its earliest
usable occurrence, which is never worse for the steps after it.

Computed as one sorted key array per step (person code and time packed into one int64) scanned by a small
vectorised state machine: for each next step every chain looks up its earliest usable occurrence with one
`searchsorted`, not one self-join per step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.expr.types import BooleanValue, Table
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from touchpoint.analytics.events import check_events, check_range, events_between
from touchpoint.analytics.groups import MISSING, OTHER, Breakdown, customer_labels, top_labels, with_property
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.indicators.compile import property_condition
from touchpoint.indicators.model import Filter
from touchpoint.indicators.service import known_events
from touchpoint.segments.model import PropertyFilter
from touchpoint.segments.service import save_list_segment
from touchpoint.tags.service import TagEnv

TIME_BITS = 36  # milliseconds since the query's first instant: about two years
TIME_MASK = (1 << TIME_BITS) - 1
MODES = ("ordered", "strict", "unordered")


class FunnelStep(BaseModel):
    """One step: an event with property filters."""

    model_config = ConfigDict(extra="forbid")

    event: str
    where: list[PropertyFilter] = Field(default_factory=list)


class Exclusion(BaseModel):
    """An event that, done between step `after` and step `before` (default: the last), stops the chain."""

    model_config = ConfigDict(extra="forbid")

    event: str
    where: list[PropertyFilter] = Field(default_factory=list)
    after: int = Field(default=1, ge=1)
    before: int | None = None


class FunnelQuery(BaseModel):
    """2–20 steps, a conversion window (`30m`, `12h`, `7d`, `5td`), Beijing dates (inclusive), a mode,
    exclusion steps and a breakdown (`by`: a property, `attribute:NAME` or `tag:NAME`; top N + 其他)."""

    model_config = ConfigDict(extra="forbid")

    steps: list[FunnelStep] = Field(min_length=2, max_length=20)
    window: str
    start: date
    end: date
    mode: str = "ordered"
    exclusions: list[Exclusion] = Field(default_factory=list)
    by: str | None = None
    top: int = Field(default=10, ge=1, le=100)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if value not in MODES:
            raise ValueError(f"mode {value!r}: choose ordered, strict or unordered")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FunnelQuery:
        if self.mode == "unordered":
            names = [step.event for step in self.steps]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(
                    f"an unordered funnel needs a different event at each step ({repeated[0]} repeats)"
                )
        if self.exclusions and self.mode == "strict":
            raise ValueError(
                "a strict funnel already allows no other event between steps: drop the exclusions"
            )
        for i, exclusion in enumerate(self.exclusions):
            before = exclusion.before or len(self.steps)
            if not exclusion.after < before <= len(self.steps):
                raise ValueError(
                    f"exclusions[{i}]: after {exclusion.after} and before {before} must be steps "
                    f"1..{len(self.steps)} with after < before"
                )
        if self.by is not None:
            try:
                Breakdown.parse(self.by)
            except ValidationError as exc:
                raise ValueError(str(exc)) from None
        return self


def parse_window(text: str) -> tuple[int, str]:
    """(N, unit) of a window such as `7d`; N must be positive."""
    found = re.fullmatch(r"(-?\d+)(m|h|d|td)", text.strip())
    if found is None:
        raise ValueError(f"window {text!r} is not N followed by m, h, d or td (e.g. 7d)")
    n = int(found.group(1))
    if n <= 0:
        raise ValueError(f"window {text!r} must be longer than zero")
    return n, found.group(2)


@dataclass
class Events:
    """The funnel's events sorted by person then time: packed keys (person code << TIME_BITS | milliseconds
    since `origin`), Beijing days, which step and exclusion each event matches, and per person whether it is
    a customer."""

    people: pd.Index
    keys: np.ndarray
    days: np.ndarray
    steps: list[np.ndarray]
    excluded: list[np.ndarray]
    groups: np.ndarray | None
    is_customer: np.ndarray
    origin: int


@dataclass
class Chains:
    """Every first-step occurrence in range and how far it got: `times[k]` is when step k+1 was reached
    (milliseconds since the events' origin, -1 when not reached); `anchor` is the occurrence's row."""

    person: np.ndarray
    anchor: np.ndarray
    reached: np.ndarray
    times: list[np.ndarray]


def funnel(*, env: TagEnv, query: FunnelQuery) -> dict[str, Any]:
    """Customers reaching each step, conversions, and time from the previous step (median and mean), overall
    and, with `by`, per group."""
    events, chains = _chains(env, query)
    best = _best(chains, None)
    result = {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "window": query.window,
        "mode": query.mode,
        "steps": _steps(query, best),
    }
    if query.by is not None:
        grouped = _best(chains, _labels(env, query, events, chains))
        sizes = grouped.groupby("group").size().sort_values(ascending=False, kind="stable")
        order = [label for label in sizes.index if label != OTHER] + [OTHER] * (OTHER in sizes.index)
        result["by"] = query.by
        result["breakdown"] = [
            {"group": str(label), "steps": _steps(query, grouped[grouped["group"] == label])}
            for label in order
        ]
    return result


def funnel_customers(
    *, env: TagEnv, query: FunnelQuery, step: int, who: Literal["reached", "dropped"]
) -> list[str]:
    """Customer numbers who reached step `step` (1-based), or who dropped at it: reached step-1, not step."""
    if not 1 <= step <= len(query.steps) or (who == "dropped" and step == 1):
        raise ValidationError(f"step {step}: give 1..{len(query.steps)} (2.. for drop-offs)")
    events, chains = _chains(env, query)
    best = _best(chains, None)
    chosen = best["reached"] >= step if who == "reached" else best["reached"] == step - 1
    codes = best.loc[chosen, "person"].to_numpy()
    return sorted(events.people[codes[events.is_customer[codes]]])


def save_funnel_segment(
    *,
    env: TagEnv,
    principal: Principal,
    query: FunnelQuery,
    step: int,
    who: Literal["reached", "dropped"],
    name: str,
    title: str | None = None,
) -> dict[str, Any]:
    """Save the customers who reached (or dropped at) a step as a static segment."""
    numbers = funnel_customers(env=env, query=query, step=step, who=who)
    verb = "到达" if who == "reached" else "流失于"
    source = f"funnel {' → '.join(s.event for s in query.steps)} {who} step {step}"
    label = title or f"漏斗{verb}第{step}步 {query.start}~{query.end}"
    return save_list_segment(
        env=env, principal=principal, name=name, title=label, numbers=numbers, source=source
    )


def _chains(env: TagEnv, query: FunnelQuery) -> tuple[Events, Chains]:
    check_range(query.start, query.end)
    names = [step.event for step in query.steps] + [e.event for e in query.exclusions]
    check_events(env, list(dict.fromkeys(names)))
    n, unit = parse_window(query.window)
    calendar = env.indicators.calendar
    events = _load(env, query, _last_day(query.end, n, unit, calendar))
    # datetime64 bounds: comparing with a `date` object would go element by element in Python.
    in_range = (events.days >= np.datetime64(query.start)) & (events.days <= np.datetime64(query.end))
    first = np.flatnonzero(events.steps[0] & in_range)
    deadline = _deadlines(events, first, query, calendar)
    if query.mode == "strict":
        return events, _scan_strict(events, first, deadline)
    chains = (_scan_unordered if query.mode == "unordered" else _scan)(events, first, deadline)
    for j, exclusion in enumerate(query.exclusions):
        _exclude(
            chains, events.keys[events.excluded[j]], exclusion.after, exclusion.before or len(query.steps)
        )
    return events, chains


def _load(env: TagEnv, query: FunnelQuery, last_day: date) -> Events:
    """One query for every event the funnel reads (a strict funnel reads every tracked event)."""
    if query.mode == "strict":
        names = sorted(known_events(env.indicators.analytics))
    else:
        names = list(dict.fromkeys([s.event for s in query.steps] + [e.event for e in query.exclusions]))
    table = events_between(env, names, query.start, last_day)
    group = Breakdown.parse(query.by) if query.by else None
    if group is not None and group.kind == "property":
        table = with_property(table, group.name)
    marks = {f"s{k}": _matches(table, step.event, step.where) for k, step in enumerate(query.steps)}
    marks |= {f"x{j}": _matches(table, e.event, e.where) for j, e in enumerate(query.exclusions)}
    if group is not None and group.kind == "property":
        marks["group"] = table.group
    columns = ["person", "customer_no", "time", "dt", *(["event_id"] if query.mode == "strict" else [])]
    arrow = table.mutate(**marks).select(*columns, *marks).to_pyarrow().combine_chunks()
    encoded = pc.dictionary_encode(arrow["person"]).combine_chunks()
    code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    millis = arrow["time"].cast(pa.timestamp("ms", tz="UTC"), safe=False).cast(pa.int64()).to_numpy()
    origin = int(millis.min()) if len(millis) else 0
    if len(millis) and int(millis.max()) - origin > TIME_MASK:
        raise ValidationError("a funnel reads at most about 790 days of events: shorten the range or window")
    keys = (code << TIME_BITS) | (millis - origin)
    if query.mode == "strict":
        # The very next event is defined by time, then event id.
        order = np.lexsort((arrow["event_id"].to_numpy(zero_copy_only=False), keys))
    else:
        order = np.argsort(keys)  # events at one instant may come in any order: they fill steps alike
    people = pd.Index(encoded.dictionary.to_pylist())
    is_customer = np.zeros(len(people), dtype=bool)
    is_customer[code[pc.is_valid(arrow["customer_no"]).to_numpy(zero_copy_only=False)]] = True

    def column(name: str) -> np.ndarray:
        values: np.ndarray = arrow[name].fill_null(False).to_numpy(zero_copy_only=False)[order]
        return values

    return Events(
        people=people,
        keys=keys[order],
        days=arrow["dt"].to_numpy(zero_copy_only=False).astype("datetime64[D]")[order],
        steps=[column(f"s{k}") for k in range(len(query.steps))],
        excluded=[column(f"x{j}") for j in range(len(query.exclusions))],
        groups=arrow["group"].to_numpy(zero_copy_only=False)[order] if "group" in marks else None,
        is_customer=is_customer,
        origin=origin,
    )


def _matches(table: Table, event: str, where: list[PropertyFilter]) -> BooleanValue:
    """Whether each row is this event and passes its property filters (a missing property fails)."""
    condition: BooleanValue = table.event == event
    for item in where:
        condition &= property_condition(table, Filter(property=item.property, op=item.op, value=item.value))
    return condition.fill_null(False)


def _scan(events: Events, first: np.ndarray, deadline: np.ndarray) -> Chains:
    """Ordered: each next step at its earliest occurrence at or after the previous one, not already used."""
    chain_key = events.keys[first]
    used = [first]
    person = chain_key >> TIME_BITS
    reached = np.ones(len(first), dtype=np.int64)
    alive = np.ones(len(first), dtype=bool)
    times = [chain_key & TIME_MASK]
    for member in events.steps[1:]:
        rows = np.flatnonzero(member)
        keys = events.keys[rows]
        index = np.searchsorted(keys, chain_key, side="left")
        for _ in range(len(used)):
            # An event already used by this chain cannot fill another step: take the next occurrence.
            picked = _at(rows, index, -1)
            clash = np.zeros(len(index), dtype=bool)
            for earlier in used:
                clash |= picked == earlier
            if not clash.any():
                break
            index = index + clash
        found_key = _at(keys, index, 0)
        found = alive & (index < len(keys)) & ((found_key >> TIME_BITS) == person)
        found &= (found_key & TIME_MASK) <= deadline
        reached += found
        alive = found
        chain_key = np.where(found, found_key, chain_key)
        used.append(np.where(found, _at(rows, index, -1), -1))
        times.append(np.where(found, found_key & TIME_MASK, -1))
    return Chains(person, first, reached, times)


def _scan_unordered(events: Events, first: np.ndarray, deadline: np.ndarray) -> Chains:
    """Each later step at its earliest occurrence at or after the first step; step k is reached when steps
    2..k all happened in the window, at the latest of their times."""
    chain_key = events.keys[first]
    person = chain_key >> TIME_BITS
    reached = np.ones(len(first), dtype=np.int64)
    alive = np.ones(len(first), dtype=bool)
    times = [chain_key & TIME_MASK]
    for member in events.steps[1:]:
        keys = events.keys[member]
        index = np.searchsorted(keys, chain_key, side="left")
        found_key = _at(keys, index, 0)
        found = alive & (index < len(keys)) & ((found_key >> TIME_BITS) == person)
        found &= (found_key & TIME_MASK) <= deadline
        reached += found
        alive = found
        times.append(np.where(found, np.maximum(times[-1], found_key & TIME_MASK), -1))
    return Chains(person, first, reached, times)


def _scan_strict(events: Events, first: np.ndarray, deadline: np.ndarray) -> Chains:
    """Strict: each next step must be the customer's very next tracked event (ties by event id)."""
    keys = events.keys
    position = first
    person = keys[position] >> TIME_BITS
    reached = np.ones(len(position), dtype=np.int64)
    alive = np.ones(len(position), dtype=bool)
    times = [keys[position] & TIME_MASK]
    for member in events.steps[1:]:
        following = np.minimum(position + 1, max(len(keys) - 1, 0))
        found = alive & (position + 1 < len(keys)) & ((keys[following] >> TIME_BITS) == person)
        found &= member[following] & ((keys[following] & TIME_MASK) <= deadline)
        reached += found
        alive = found
        position = np.where(found, following, position)
        times.append(np.where(found, keys[following] & TIME_MASK, -1))
    return Chains(person, first, reached, times)


def _at(values: np.ndarray, index: np.ndarray, empty: Any) -> np.ndarray:
    """values[index], with `empty` where the index runs past the end."""
    if not len(values):
        return np.full(len(index), empty)
    picked: np.ndarray = values[np.minimum(index, len(values) - 1)]
    return np.where(index < len(values), picked, empty)


def _exclude(chains: Chains, excluded: np.ndarray, after: int, before: int) -> None:
    """Stop each chain at step k-1 when an excluded event lies strictly between its steps k-1 and k, for
    k in after+1..before (steps numbered from 1)."""
    for k in range(after, before):  # 0-based index of step k+1
        live = chains.reached > k
        previous = (chains.person << TIME_BITS) | np.maximum(chains.times[k - 1], 0)
        index = np.searchsorted(excluded, previous, side="right")
        found = _at(excluded, index, -1)
        cut = live & (index < len(excluded)) & ((found >> TIME_BITS) == chains.person)
        cut &= (found & TIME_MASK) < chains.times[k]
        chains.reached = np.where(cut, k, chains.reached)
        for later in range(k, len(chains.times)):
            chains.times[later] = np.where(cut, -1, chains.times[later])


def _labels(env: TagEnv, query: FunnelQuery, events: Events, chains: Chains) -> np.ndarray:
    """Each chain's group: its first step's property value, or its customer's attribute or tag value; all
    but the `top` groups with most first-step customers fold into 其他."""
    by = Breakdown.parse(str(query.by))
    if by.kind == "property":
        assert events.groups is not None
        raw = pd.Series(events.groups[chains.anchor], dtype=object)
    else:
        labels = customer_labels(env, by, query.end)
        raw = pd.Series(events.people[chains.person], dtype=object).map(labels)
    pairs = pd.DataFrame({"label": raw.fillna(MISSING).astype(str), "person": chains.person})
    distinct = pairs.drop_duplicates()
    leaders = top_labels(distinct["label"], pd.Series(1, index=distinct.index), query.top)
    kept = set(leaders)
    folded: np.ndarray = np.where(pairs["label"].isin(kept), pairs["label"], OTHER)
    return folded


def _best(chains: Chains, labels: np.ndarray | None) -> pd.DataFrame:
    """Per person (and group), the chain that got furthest (the earliest such) with its step times."""
    frame = pd.DataFrame({"person": chains.person, "reached": chains.reached})
    keys = ["person"]
    if labels is not None:
        frame["group"] = labels
        keys = ["group", "person"]
    for k, column in enumerate(chains.times):
        frame[f"t{k}"] = column
    best: pd.DataFrame = frame.sort_values("reached", ascending=False, kind="stable").drop_duplicates(keys)
    return best


def _steps(query: FunnelQuery, best: pd.DataFrame) -> list[dict[str, Any]]:
    counts = [int((best["reached"] >= k + 1).sum()) for k in range(len(query.steps))]
    steps = []
    for k, step in enumerate(query.steps):
        gap = pd.Series(dtype=float)
        if k:
            done = best[best["reached"] > k]
            gap = (done[f"t{k}"] - done[f"t{k - 1}"]) / 1000.0
        steps.append(
            {
                "event": step.event,
                "customers": counts[k],
                "conversion_from_previous": _ratio(counts[k], counts[k - 1]) if k else 1.0,
                "conversion_from_first": _ratio(counts[k], counts[0]),
                "median_seconds_from_previous": float(gap.median()) if len(gap) else None,
                "avg_seconds_from_previous": float(gap.mean()) if len(gap) else None,
            }
        )
    return steps


def _last_day(end: date, n: int, unit: str, calendar: TradingCalendar) -> date:
    if unit == "td":
        return calendar.add_trading_days(
            end if calendar.is_trading_day(end) else calendar.previous_trading_day(end), n
        ) + timedelta(days=1)
    span = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]
    return end + timedelta(days=span.days + 1)


def _deadlines(
    events: Events, first: np.ndarray, query: FunnelQuery, calendar: TradingCalendar
) -> np.ndarray:
    """The last moment (milliseconds since the origin) each chain may reach a step."""
    n, unit = parse_window(query.window)
    started = events.keys[first] & TIME_MASK
    if unit != "td":
        span = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}[unit] * n
        deadline: np.ndarray = started + span
        return deadline
    days = events.days[first]
    ends = {}
    for day in np.unique(days).astype(object):
        anchor = day if calendar.is_trading_day(day) else calendar.previous_trading_day(day)
        last = calendar.add_trading_days(anchor, n)
        midnight = calendar.to_utc(last + timedelta(days=1), time(0, 0))
        ends[day] = int(midnight.timestamp() * 1000) - events.origin - 1
    return np.array([ends[d] for d in days.astype(object)], dtype=np.int64)


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
