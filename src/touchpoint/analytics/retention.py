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
from pydantic import BaseModel, ConfigDict, Field

from touchpoint.analytics.events import check_events, check_range, events_between, period_start
from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.segments.model import PropertyFilter
from touchpoint.segments.service import save_list_segment
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


class RetentionQuery(BaseModel):
    """Start and return events (with filters), Beijing dates (`from`, `to`), periods and unit."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start_event: str
    return_event: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    periods: int = 7
    unit: Unit = "day"
    first_time: bool = False
    start_where: list[PropertyFilter] = Field(default_factory=list)
    return_where: list[PropertyFilter] = Field(default_factory=list)


def save_retention_segment(
    *,
    env: TagEnv,
    principal: Principal,
    query: RetentionQuery,
    cohort: date,
    offset: int,
    name: str,
    title: str | None = None,
) -> dict[str, Any]:
    """Save one cell of the triangle (offset 0: the whole cohort) as a static segment."""
    numbers = retention_customers(env=env, **query.model_dump(), cohort=cohort, offset=offset)
    source = f"retention {query.start_event} → {query.return_event} cohort {cohort} +{offset} {query.unit}"
    label = title or f"留存 {query.start_event}→{query.return_event} {cohort} 第{offset}期"
    return save_list_segment(
        env=env, principal=principal, name=name, title=label, numbers=numbers, source=source
    )


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
    cohort, joined = _cohorts(
        env, start_event, return_event, start, end, periods, unit, first_time, start_where, return_where
    )
    counts = joined.groupby(["period", "offset"])["person"].nunique()
    sizes = cohort.groupby("period")["person"].nunique()
    cohorts = []
    for period, size in sizes.items():
        stamp = pd.Timestamp(str(period))
        retained = [int(counts.get((stamp, k), 0)) for k in range(1, periods + 1)]
        cohorts.append({"start": stamp.date().isoformat(), "size": int(size), "retained": retained})
    return {"unit": unit, "periods": periods, "first_time": first_time, "cohorts": cohorts}


def retention_customers(
    *,
    env: TagEnv,
    start_event: str,
    return_event: str,
    start: date,
    end: date,
    periods: int,
    cohort: date,
    offset: int,
    unit: Unit = "day",
    first_time: bool = False,
    start_where: list[PropertyFilter] | None = None,
    return_where: list[PropertyFilter] | None = None,
) -> list[str]:
    """The customer numbers in one cell: the cohort starting `cohort` (offset 0: all of it) or those of it
    who came back `offset` periods later."""
    if not 0 <= offset <= periods:
        raise ValidationError(f"offset {offset}: give 0 (the whole cohort) to {periods}")
    members, joined = _cohorts(
        env, start_event, return_event, start, end, periods, unit, first_time, start_where, return_where
    )
    stamp = pd.Timestamp(cohort)
    if not (members["period"] == stamp).any():
        raise ValidationError(f"no cohort starts {cohort} (a cohort starts on the first day of each {unit})")
    if offset == 0:
        chosen = members.loc[members["period"] == stamp, "person"]
    else:
        chosen = joined.loc[(joined["period"] == stamp) & (joined["offset"] == offset), "person"]
    return sorted(set(chosen) & set(members.loc[members["customer_no"].notna(), "person"]))


def _cohorts(
    env: TagEnv,
    start_event: str,
    return_event: str,
    start: date,
    end: date,
    periods: int,
    unit: Unit,
    first_time: bool,
    start_where: list[PropertyFilter] | None,
    return_where: list[PropertyFilter] | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(person, period, customer_no) of each cohort membership, and its returns with their offset."""
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
    cohort = in_range.drop_duplicates(["person", "period"])[["person", "period", "customer_no"]]
    if first_time and len(cohort):
        first_ever = starts.groupby("person")["period"].min().rename("first")
        cohort = cohort.join(first_ever, on="person")
        cohort = cohort[cohort["period"] == cohort["first"]][["person", "period", "customer_no"]]
    returns = _people(env, return_event, first_period, reach, return_where, unit)
    returns = returns.drop_duplicates(["person", "period"])[["person", "period"]]
    joined = cohort[["person", "period"]].merge(returns, on="person", suffixes=("", "_return"))
    joined["offset"] = periods_between(joined["period"], joined["period_return"], unit)
    joined = joined[(joined["offset"] >= 1) & (joined["offset"] <= periods)]
    return cohort, joined


def _people(
    env: TagEnv, event: str, first: date, last: date, where: list[PropertyFilter] | None, unit: Unit
) -> pd.DataFrame:
    table = events_between(env, [event], first, last, where)
    frame: pd.DataFrame = table.select("person", "customer_no", "dt").to_pandas()
    frame["day"] = pd.to_datetime(frame["dt"]).dt.date
    frame["period"] = period_start(frame["dt"], unit)
    return frame
