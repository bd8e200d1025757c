"""Event analysis (事件分析): counts, unique customers and per-customer averages by Beijing day, week or
month, optionally grouped by an event property (the top N groups, the rest as 其他)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import pandas as pd

from touchpoint.analytics.events import check_events, check_range, events_between
from touchpoint.segments.model import PropertyFilter
from touchpoint.tags.service import TagEnv

OTHER = "其他"
Unit = Literal["day", "week", "month"]


def event_trend(
    *,
    env: TagEnv,
    event: str,
    start: date,
    end: date,
    unit: Unit = "day",
    by: str | None = None,
    where: list[PropertyFilter] | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """One row per period (and group): events, distinct customers, events per customer."""
    check_range(start, end)
    check_events(env, [event])
    table = events_between(env, [event], start, end, where)
    columns = ["person", "dt"]
    if by is not None:
        table = table.mutate(group=table.properties.cast("json")[by].unwrap_as("string"))
        columns.append("group")
    frame: pd.DataFrame = table.select(*columns).to_pandas()
    frame["period"] = _period(pd.to_datetime(frame["dt"]), unit)
    keys = ["period"]
    if by is not None:
        frame["group"] = frame["group"].fillna("(无)")
        leaders = frame["group"].value_counts().head(top).index
        frame.loc[~frame["group"].isin(leaders), "group"] = OTHER
        keys.append("group")
    grouped = frame.groupby(keys).agg(count=("person", "size"), customers=("person", "nunique")).reset_index()
    series = []
    records: list[dict[Any, Any]] = grouped.sort_values(keys).to_dict("records")
    for row in records:
        count, customers = int(row["count"]), int(row["customers"])
        item: dict[str, Any] = {
            "date": pd.Timestamp(row["period"]).date().isoformat(),
            "count": count,
            "customers": customers,
            "per_customer": round(count / customers, 4),
        }
        if by is not None:
            item["group"] = row["group"]
        series.append(item)
    return {
        "event": event,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "unit": unit,
        "by": by,
        "series": series,
    }


def _period(days: pd.Series, unit: Unit) -> pd.Series:
    if unit == "week":
        monday: pd.Series = days - pd.to_timedelta(days.dt.day_of_week, unit="D")  # weeks start on Monday
        return monday
    if unit == "month":
        first: pd.Series = days.dt.to_period("M").dt.to_timestamp()
        return first
    return days
