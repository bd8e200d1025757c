"""Event analysis (事件分析): counts, unique customers, events per customer and, optionally, the sum, mean or
maximum of a numeric property, by Beijing day, week, month or XSHG trading day; grouped by an event property,
a profile attribute or a tag (the top N groups, the rest as 其他); beside a comparison period.

A trading-day bucket holds its own day and the non-trading days just before it (weekend and holiday activity
counts toward the trading day it takes effect on), so a range ending on a holiday may show the next
trading day.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import pandas as pd

from touchpoint.analytics.events import check_events, check_range, events_between, period_start
from touchpoint.analytics.groups import MISSING, OTHER, Breakdown, customer_labels, top_labels, with_property
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.errors import ValidationError
from touchpoint.segments.model import PropertyFilter
from touchpoint.tags.service import TagEnv

Unit = Literal["day", "week", "month", "trading_day"]
UNITS = ("day", "week", "month", "trading_day")
MEASURES = ("sum", "avg", "max")


def parse_measure(text: str) -> tuple[str, str]:
    """(`sum`|`avg`|`max`, property) from `sum:amount`."""
    how, _, name = text.partition(":")
    if how not in MEASURES or not name.strip():
        raise ValidationError(f"measure {text!r}: write sum:PROPERTY, avg:PROPERTY or max:PROPERTY")
    return how, name.strip()


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
    measure: str | None = None,
    compare_from: date | None = None,
) -> dict[str, Any]:
    """One row per period (and group): events, distinct customers, events per customer (and the measure);
    totals for the range; with `compare_from`, the same figures for a period as long starting then."""
    check_range(start, end)
    check_events(env, [event])
    if unit not in UNITS:
        raise ValidationError(f"unit {unit!r}: choose day, week, month or trading_day")
    breakdown = Breakdown.parse(by) if by else None
    how = parse_measure(measure) if measure else None
    if not 1 <= top <= 100:
        raise ValidationError(f"top {top}: give 1 to 100")
    frame = _rows(env, event, start, end, where, breakdown, how)
    leaders = None
    if breakdown is not None:
        frame["group"] = top_labels(frame["group"], pd.Series(1, index=frame.index), top)
        leaders = set(frame["group"])
    result: dict[str, Any] = {
        "event": event,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "unit": unit,
        "by": by,
        "measure": measure,
        "series": _series(frame, unit, breakdown is not None, how, env.indicators.calendar),
        "total": _figures(frame, how),
    }
    if compare_from is not None:
        compare_to = compare_from + (end - start)
        check_range(compare_from, compare_to)
        earlier = _rows(env, event, compare_from, compare_to, where, breakdown, how)
        if leaders is not None:
            earlier["group"] = earlier["group"].where(earlier["group"].isin(leaders), OTHER)
        total = _figures(earlier, how)
        result["comparison"] = {
            "from": compare_from.isoformat(),
            "to": compare_to.isoformat(),
            "series": _series(earlier, unit, breakdown is not None, how, env.indicators.calendar),
            "total": total,
            "change": {key: _change(result["total"][key], total[key]) for key in total},
        }
    return result


def _rows(
    env: TagEnv,
    event: str,
    start: date,
    end: date,
    where: list[PropertyFilter] | None,
    breakdown: Breakdown | None,
    how: tuple[str, str] | None,
) -> pd.DataFrame:
    """One row per event: person, Beijing day, and the group and measured value when asked for."""
    table = events_between(env, [event], start, end, where)
    columns = ["person", "dt"]
    if breakdown is not None and breakdown.kind == "property":
        table = with_property(table, breakdown.name)
        columns.append("group")
    if how is not None:
        table = table.mutate(value=table.properties.cast("json")[how[1]].unwrap_as("float64"))
        columns.append("value")
    frame: pd.DataFrame = table.select(*columns).to_pandas()
    frame["dt"] = pd.to_datetime(frame["dt"])
    if breakdown is not None and breakdown.kind != "property":
        frame["group"] = frame["person"].map(customer_labels(env, breakdown, end))
    if breakdown is not None:
        frame["group"] = frame["group"].fillna(MISSING).astype(str)
    return frame


def _series(
    frame: pd.DataFrame, unit: Unit, grouped: bool, how: tuple[str, str] | None, calendar: TradingCalendar
) -> list[dict[str, Any]]:
    frame = frame.assign(period=period_start(frame["dt"], unit, calendar))
    keys = ["period", "group"] if grouped else ["period"]
    series = []
    for key, rows in frame.groupby(keys, sort=True):
        parts = key if isinstance(key, tuple) else (key,)
        day = parts[0]
        assert isinstance(day, pd.Timestamp)
        item: dict[str, Any] = {"date": day.date().isoformat(), **_figures(rows, how)}
        if grouped:
            item["group"] = parts[1]
        series.append(item)
    return series


def _figures(rows: pd.DataFrame, how: tuple[str, str] | None) -> dict[str, Any]:
    count, customers = len(rows), int(rows["person"].nunique())
    figures: dict[str, Any] = {
        "count": count,
        "customers": customers,
        "per_customer": round(count / customers, 4) if customers else 0.0,
    }
    if how is not None:
        values = rows["value"].dropna()
        aggregate = {"sum": values.sum(), "avg": values.mean(), "max": values.max()}[how[0]]
        figures["value"] = float(aggregate) if len(values) else None
    return figures


def _change(now: Any, before: Any) -> float | None:
    """Relative change from the comparison period (None when it had nothing)."""
    if now is None or not before:
        return None
    return round((float(now) - float(before)) / float(before), 4)
