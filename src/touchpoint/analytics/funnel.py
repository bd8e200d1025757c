"""Funnels (漏斗): how far customers get through ordered steps within a conversion window.

Semantics: a customer's first step is an occurrence on a Beijing day inside [from, to]; the customer
reaches step k if some such occurrence is followed by steps 2..k in order, each at or after the previous
(one event fills one step), with step k no later than the window after that first-step occurrence. The
reported step is the furthest reached over all first-step occurrences.

Computed as one sorted key array per step (person code and time packed into one int64) scanned by a small
vectorised state machine: every first-step occurrence is a chain, and for each next step every chain looks up
its earliest usable occurrence with one `searchsorted` — earliest is never worse for the steps after it.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from touchpoint.analytics.events import check_events, check_range, events_between
from touchpoint.core.calendar import TradingCalendar
from touchpoint.indicators.service import known_events
from touchpoint.segments.model import PropertyFilter
from touchpoint.tags.service import TagEnv

TIME_BITS = 36  # milliseconds since the query's first instant: about two years


class FunnelStep(BaseModel):
    """One step: an event with property filters."""

    model_config = ConfigDict(extra="forbid")

    event: str
    where: list[PropertyFilter] = Field(default_factory=list)


class FunnelQuery(BaseModel):
    """2–20 ordered steps, a conversion window (`30m`, `12h`, `7d`, `5td`) and Beijing dates (inclusive)."""

    model_config = ConfigDict(extra="forbid")

    steps: list[FunnelStep] = Field(min_length=2, max_length=20)
    window: str
    start: date
    end: date
    mode: str = "ordered"

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if value not in ("ordered", "strict"):
            raise ValueError(f"mode {value!r}: choose ordered or strict (unordered is not available yet)")
        return value


def parse_window(text: str) -> tuple[int, str]:
    """(N, unit) of a window such as `7d`; N must be positive."""
    found = re.fullmatch(r"(-?\d+)(m|h|d|td)", text.strip())
    if found is None:
        raise ValueError(f"window {text!r} is not N followed by m, h, d or td (e.g. 7d)")
    n = int(found.group(1))
    if n <= 0:
        raise ValueError(f"window {text!r} must be longer than zero")
    return n, found.group(2)


def funnel(*, env: TagEnv, query: FunnelQuery) -> dict[str, Any]:
    """Customers reaching each step, conversions, and time from the previous step (median and mean)."""
    check_range(query.start, query.end)
    names = list(dict.fromkeys(step.event for step in query.steps))
    check_events(env, names)
    n, unit = parse_window(query.window)
    calendar = env.indicators.calendar
    last_day = _last_day(query.end, n, unit, calendar)
    per_step = [_frame(env, step, query.start, last_day) for step in query.steps]
    if query.mode == "strict":
        tracked = sorted(known_events(env.indicators.analytics))
        stream = _frame(env, FunnelStep(event=tracked[0]), query.start, last_day, tracked)
        reached, gaps = _scan_strict(per_step, stream, query, calendar)
    else:
        reached, gaps = _scan(per_step, query, calendar)
    return _report(query, reached, gaps)


def _scan_strict(
    per_step: list[pd.DataFrame], stream: pd.DataFrame, query: FunnelQuery, calendar: TradingCalendar
) -> tuple[pd.Series, list[pd.Series]]:
    """Strict mode: each next step must be the customer's very next tracked event (ties by event id)."""
    people = pd.Index(stream["person"].unique())
    origin = int(_ms(stream["time"]).min()) if len(stream) else 0
    code = people.get_indexer(stream["person"]).astype(np.int64)
    keys = (code << TIME_BITS) | (_ms(stream["time"]) - origin)
    rows = stream["event_id"].to_numpy()
    order = np.lexsort((rows, keys))
    keys, rows, days = keys[order], rows[order], stream["dt"].to_numpy()[order]
    member = [np.isin(rows, frame["event_id"].to_numpy()) for frame in per_step]
    position = np.flatnonzero(member[0] & (days >= query.start) & (days <= query.end))
    deadline = _deadlines(keys[position], days[position], query, origin, calendar)
    person = keys[position] >> TIME_BITS
    reached = np.ones(len(position), dtype=np.int64)
    alive = np.ones(len(position), dtype=bool)
    mask = (1 << TIME_BITS) - 1
    times = [keys[position] & mask]
    for step in member[1:]:
        following = np.minimum(position + 1, max(len(keys) - 1, 0))
        found = alive & (position + 1 < len(keys)) & ((keys[following] >> TIME_BITS) == person)
        found &= step[following] & ((keys[following] & mask) <= deadline)
        reached += found
        alive = found
        position = np.where(found, following, position)
        times.append(np.where(found, keys[following] & mask, -1))
    return _best(person, reached, times, len(per_step))


def _best(
    person: np.ndarray, reached: np.ndarray, times: list[np.ndarray], steps: int
) -> tuple[pd.Series, list[pd.Series]]:
    """Per person, the chain that got furthest (the earliest such), and its step-to-step seconds."""
    chains = pd.DataFrame({"person": person, "reached": reached})
    best = chains.sort_values("reached", ascending=False, kind="stable").drop_duplicates("person")
    gaps = [
        pd.Series(
            ((times[k][best.index] - times[k - 1][best.index]) / 1000.0)[best["reached"].to_numpy() > k]
        )
        for k in range(1, steps)
    ]
    return best.set_index("person")["reached"], gaps


def _frame(
    env: TagEnv, step: FunnelStep, first: date, last: date, names: list[str] | None = None
) -> pd.DataFrame:
    table = events_between(env, names or [step.event], first, last, [] if names else step.where)
    frame: pd.DataFrame = table.select("person", "time", "event_id", "dt").to_pandas()
    frame["dt"] = pd.to_datetime(frame["dt"]).dt.date
    return frame


def _last_day(end: date, n: int, unit: str, calendar: TradingCalendar) -> date:
    if unit == "td":
        return calendar.add_trading_days(
            end if calendar.is_trading_day(end) else calendar.previous_trading_day(end), n
        ) + timedelta(days=1)
    span = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]
    return end + timedelta(days=span.days + 1)


def _ms(times: pd.Series) -> np.ndarray:
    """Epoch milliseconds of timezone-aware timestamps, whatever unit pandas holds them in."""
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
    millis: np.ndarray = naive.astype("datetime64[ms]").astype("int64").to_numpy()
    return millis


def _scan(
    per_step: list[pd.DataFrame], query: FunnelQuery, calendar: TradingCalendar
) -> tuple[pd.Series, list[pd.Series]]:
    people = pd.Index(pd.concat([f["person"] for f in per_step]).unique())
    origin = min((int(_ms(f["time"]).min()) for f in per_step if len(f)), default=0)
    arrays = []
    for frame in per_step:
        code = people.get_indexer(frame["person"]).astype(np.int64)
        millis = _ms(frame["time"]) - origin
        key = (code << TIME_BITS) | millis.astype(np.int64)
        rows = frame["event_id"].to_numpy()
        order = np.lexsort((rows, key))
        arrays.append((key[order], rows[order], frame["dt"].to_numpy()[order]))
    first_key, first_rows, first_days = arrays[0]
    in_range = (first_days >= query.start) & (first_days <= query.end)
    chain_key = first_key[in_range]
    used = [first_rows[in_range]]
    deadline = _deadlines(chain_key, first_days[in_range], query, origin, calendar)
    person = chain_key >> TIME_BITS
    reached = np.ones(len(chain_key), dtype=np.int64)
    alive = np.ones(len(chain_key), dtype=bool)
    times = [chain_key & ((1 << TIME_BITS) - 1)]
    for keys, rows, _ in arrays[1:]:
        index = np.searchsorted(keys, chain_key, side="left")
        for _ in range(len(used)):
            # An event already used by this chain cannot fill another step: take the next occurrence.
            clash = np.zeros(len(index), dtype=bool)
            inside = index < len(keys)
            for earlier in used:
                clash[inside] |= rows[index[inside]] == earlier[inside]
            if not clash.any():
                break
            index = index + clash
        inside = index < len(keys)
        found_key = np.where(inside, keys[np.minimum(index, len(keys) - 1)] if len(keys) else 0, 0)
        found = alive & inside & ((found_key >> TIME_BITS) == person)
        found &= (found_key & ((1 << TIME_BITS) - 1)) <= deadline
        reached += found
        alive = found
        chain_key = np.where(found, found_key, chain_key)
        used.append(np.where(found, rows[np.minimum(index, len(rows) - 1)] if len(rows) else "", ""))
        times.append(np.where(found, found_key & ((1 << TIME_BITS) - 1), -1))
    return _best(person, reached, times, len(per_step))


def _deadlines(
    keys: np.ndarray, days: np.ndarray, query: FunnelQuery, origin: int, calendar: TradingCalendar
) -> np.ndarray:
    n, unit = parse_window(query.window)
    started = keys & ((1 << TIME_BITS) - 1)
    if unit != "td":
        span = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}[unit] * n
        return started + span
    ends = {}
    for day in set(days.tolist()):
        anchor = day if calendar.is_trading_day(day) else calendar.previous_trading_day(day)
        last = calendar.add_trading_days(anchor, n)
        midnight = calendar.to_utc(last + timedelta(days=1), time(0, 0))
        ends[day] = int(midnight.timestamp() * 1000) - origin - 1
    return np.array([ends[d] for d in days.tolist()], dtype=np.int64)


def _report(query: FunnelQuery, reached: pd.Series, gaps: list[pd.Series]) -> dict[str, Any]:
    counts = [int((reached >= k + 1).sum()) for k in range(len(query.steps))]
    steps = []
    for k, step in enumerate(query.steps):
        gap = gaps[k - 1] if k else pd.Series(dtype=float)
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
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "window": query.window,
        "mode": query.mode,
        "steps": steps,
    }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
