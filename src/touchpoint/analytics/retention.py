"""Retention (留存): of the customers who did a start event in a period, how many did a return event in
each of the following periods.

A customer belongs to the cohort of every period in which they did the start event (with `first_time`, only
to the first such period of their whole history); `retained[k-1]` counts the cohort's customers who did the
return event in period start + k. Periods are Beijing days, weeks from Monday, or calendar months.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd

from touchpoint.analytics.events import check_events, check_range, events_between, period_start
from touchpoint.core.errors import ValidationError
from touchpoint.segments.model import PropertyFilter
from touchpoint.tags.service import TagEnv

Unit = Literal["day", "week", "month"]
EARLIEST = date(1990, 1, 1)


def periods_between(earlier: pd.Series, later: pd.Series, unit: Unit) -> pd.Series:
    """Whole periods from `earlier` to `later` (both period starts)."""
    if unit == "month":
        months: pd.Series = (later.dt.year - earlier.dt.year) * 12 + (later.dt.month - earlier.dt.month)
        return months
    days = (later - earlier).dt.days
    return days // 7 if unit == "week" else days


def _shift(day: date, unit: Unit, n: int) -> date:
    if unit == "day":
        return day + timedelta(days=n)
    if unit == "week":
        return day + timedelta(weeks=n)
    month = day.month - 1 + n
    return date(day.year + month // 12, month % 12 + 1, 1)


def retention(
    *,
    env: TagEnv,
    start_event: str,
    return_event: str,
    start: date,
    end: date,
    periods: int,
    unit: Unit = "day",
    first_time: bool = False,
    start_where: list[PropertyFilter] | None = None,
    return_where: list[PropertyFilter] | None = None,
) -> dict[str, Any]:
    """The cohort triangle: per start period, its size and the customers retained in each later period."""
    check_range(start, end)
    if not 1 <= periods <= 120:
        raise ValidationError(f"periods {periods}: give 1 to 120")
    check_events(env, list(dict.fromkeys([start_event, return_event])))
    first_period = period_start(pd.Series([start]), unit).iloc[0].date()
    last_period = period_start(pd.Series([end]), unit).iloc[0].date()
    reach = _shift(last_period, unit, periods + 1) - timedelta(days=1)
    history_start = EARLIEST if first_time else start
    starts = _people(env, start_event, history_start, end, start_where, unit)
    in_range = starts[(starts["day"] >= start) & (starts["day"] <= end)]
    cohort = in_range.drop_duplicates(["person", "period"])[["person", "period"]]
    if first_time and len(cohort):
        first_ever = starts.groupby("person")["period"].min().rename("first")
        cohort = cohort.join(first_ever, on="person")
        cohort = cohort[cohort["period"] == cohort["first"]][["person", "period"]]
    returns = _people(env, return_event, first_period, reach, return_where, unit)
    returns = returns.drop_duplicates(["person", "period"])[["person", "period"]]
    joined = cohort.merge(returns, on="person", suffixes=("", "_return"))
    joined["offset"] = periods_between(joined["period"], joined["period_return"], unit)
    joined = joined[(joined["offset"] >= 1) & (joined["offset"] <= periods)]
    counts = joined.groupby(["period", "offset"])["person"].nunique()
    sizes = cohort.groupby("period")["person"].nunique()
    cohorts = []
    for period, size in sizes.items():
        stamp = pd.Timestamp(str(period))
        retained = [int(counts.get((stamp, k), 0)) for k in range(1, periods + 1)]
        cohorts.append({"start": stamp.date().isoformat(), "size": int(size), "retained": retained})
    return {"unit": unit, "periods": periods, "first_time": first_time, "cohorts": cohorts}


def _people(
    env: TagEnv, event: str, first: date, last: date, where: list[PropertyFilter] | None, unit: Unit
) -> pd.DataFrame:
    table = events_between(env, [event], first, last, where)
    frame: pd.DataFrame = table.select("person", "dt").to_pandas()
    frame["day"] = pd.to_datetime(frame["dt"]).dt.date
    frame["period"] = period_start(frame["dt"], unit)
    return frame
