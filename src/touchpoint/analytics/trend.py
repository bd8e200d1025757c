"""Event analysis (事件分析): counts, unique customers, events per customer and, optionally, the sum, mean or
maximum of a numeric property, by Beijing day, week, month or XSHG trading day; grouped by an event property,
a profile attribute or a tag (the top N groups, the rest as 其他); beside a comparison period.

A trading-day bucket holds its own day and the non-trading days just before it (weekend and holiday activity
counts toward the trading day it takes effect on). The range is applied to the bucket: an event belongs to
it when its trading day lies in [from, to], so a range starting on a holiday holds no events of the closed
days before it that roll past its end, and one starting on the first trading day after a closure holds the
whole closure's events.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

import ibis
import pyarrow as pa
from ibis.expr.types import Table
from pyroaring import FrozenBitMap

from touchpoint.analytics.events import check_calendar, check_events, date_range, events_between, today
from touchpoint.analytics.groups import MISSING, OTHER, Breakdown, customer_labels, with_property
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.durations import DayRef, resolve_day
from touchpoint.core.errors import ValidationError
from touchpoint.indicators.properties import property_value
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
    start: DayRef,
    end: DayRef,
    unit: Unit = "day",
    by: str | None = None,
    where: list[PropertyFilter] | None = None,
    top: int = 10,
    measure: str | None = None,
    compare_from: DayRef | None = None,
    scope: FrozenBitMap | None = None,
) -> dict[str, Any]:
    """One row per period (and group): events, distinct customers, events per customer (and the measure);
    totals for the range; with `compare_from`, the same figures for a period as long starting then."""
    start, end = date_range(env, start, end)
    check_events(env, [event])
    if unit not in UNITS:
        raise ValidationError(f"unit {unit!r}: choose day, week, month or trading_day")
    calendar = env.calendar
    if unit == "trading_day":
        check_calendar(calendar, start, end)
    breakdown = Breakdown.parse(by) if by else None
    how = parse_measure(measure) if measure else None
    if not 1 <= top <= 100:
        raise ValidationError(f"top {top}: give 1 to 100")
    parts = [_rows(env, event, start, end, where, breakdown, how, unit, calendar, scope)]
    if compare_from is not None:
        compare_start = resolve_day(compare_from, today(env), calendar)
        compare_from, compare_to = date_range(env, compare_start, compare_start + (end - start))
        if unit == "trading_day":
            check_calendar(calendar, compare_from, compare_to)
        parts.append(
            _rows(env, event, compare_from, compare_to, where, breakdown, how, unit, calendar, scope)
        )
    series, totals = _figures(parts, breakdown is not None, how, top)
    result: dict[str, Any] = {
        "event": event,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "unit": unit,
        "by": by,
        "measure": measure,
        "series": series[0],
        "total": totals[0],
    }
    if compare_from is not None:
        before = totals[1]
        result["comparison"] = {
            "from": compare_from.isoformat(),
            "to": compare_to.isoformat(),
            "series": series[1],
            "total": before,
            "change": {key: _change(totals[0][key], before[key]) for key in before},
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
    unit: Unit,
    calendar: TradingCalendar,
    scope: FrozenBitMap | None,
) -> Table:
    """One row per event: person, period, and the group and measured value when asked for (a query)."""
    first, last = _days_read(start, end, unit, calendar)
    table = events_between(env, [event], first, last, where, scope)
    if breakdown is not None and breakdown.kind == "property":
        table = with_property(table, breakdown.name)
    elif breakdown is not None:
        labels = customer_labels(env, breakdown, end)
        lookup = ibis.memtable(
            pa.table({"label_of": labels.index.astype(str).tolist(), "label": labels.astype(str).tolist()})
        )
        table = table.left_join(lookup, table.person == lookup.label_of).rename(group="label")
    if breakdown is not None:
        table = table.mutate(group=table.group.fill_null(MISSING))
    if how is not None:
        table = table.mutate(value=property_value(table, how[1], "float64"))
    return _with_period(table, unit, start, end, calendar)


def _days_read(start: date, end: date, unit: Unit, calendar: TradingCalendar) -> tuple[date, date]:
    """The Beijing days whose events can fall in the range. For trading days: from the day after the last
    trading day before the range's first trading day (the closed days that roll onto it) to the range's
    last trading day (later closed days roll past `end`); the range itself when it holds no trading day."""
    sessions = calendar.trading_days(start, end) if unit == "trading_day" else []
    if not sessions:
        return start, end
    return calendar.first_day_rolling_into(sessions[0]), sessions[-1]


def _with_period(table: Table, unit: Unit, start: date, end: date, calendar: TradingCalendar) -> Table:
    """The rows with `period`: their day, its week's Monday, its month's first day, or its trading day
    (a non-trading day's events count toward the next trading day); only trading days in [start, end]."""
    if unit == "trading_day":
        first, last = _days_read(start, end, unit, calendar)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        buckets = [d if calendar.is_trading_day(d) else calendar.next_trading_day(d) for d in days]
        inside = [(d, b) for d, b in zip(days, buckets, strict=True) if start <= b <= end]
        lookup = ibis.memtable(
            pa.table(
                {
                    "bucket_of": pa.array([d for d, _ in inside], pa.date32()),
                    "bucket": pa.array([b for _, b in inside], pa.date32()),
                }
            )
        )
        joined = table.join(lookup, table.dt == lookup.bucket_of)
        return joined.mutate(period=joined.bucket)
    truncated = {"day": table.dt, "week": table.dt.truncate("W"), "month": table.dt.truncate("M")}[unit]
    return table.mutate(period=truncated)


def _figures(
    parts: list[Table], grouped: bool, how: tuple[str, str] | None, top: int
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Per part (the range, then the comparison period): its series — events, distinct customers, events
    per customer and the measure per period (and group), sorted — and the same figures over the whole part.

    One query answers it all: the rows are read and resolved once, the leading groups found among the
    range's rows fold every other group into 其他 in both parts, and the series and totals are grouped
    beside each other, so only those few rows leave the engine.
    """
    columns = ["person", "period", *(["group"] if grouped else []), *(["value"] if how else [])]
    chosen = [p.select(*columns, part=ibis.literal(i, "int8")) for i, p in enumerate(parts)]
    rows = chosen[0].union(*chosen[1:]) if len(chosen) > 1 else chosen[0]
    if grouped:
        rows = _fold(rows, _leaders(rows.filter(rows.part == 0), top))
    metrics: dict[str, Any] = {"count": rows.count(), "customers": rows.person.nunique()}
    if how is not None:
        value = rows.value
        metrics["value"] = {"sum": value.sum(), "avg": value.mean(), "max": value.max()}[how[0]]
    keys = ["part", "period", *(["group"] if grouped else [])]
    series = rows.group_by(keys).agg(**metrics).mutate(whole=False)
    whole = rows.group_by("part").agg(**metrics)
    nothing = {"period": ibis.null(rows.period.type())} | ({"group": ibis.null("string")} if grouped else {})
    whole = whole.mutate(whole=True, **nothing).select(*series.columns)
    answer = series.union(whole).order_by(["part", "whole", *keys[1:]]).to_pyarrow().to_pylist()
    lists: list[list[dict[str, Any]]] = [[] for _ in parts]
    totals = [_item({"count": 0, "customers": 0, "value": None}, how) for _ in parts]
    for row in answer:
        if row["whole"]:
            totals[row["part"]] = _item(row, how)
        else:
            lists[row["part"]].append(_item(row, how))
    return lists, totals


def _leaders(rows: Table, top: int) -> Table:
    """The `top` groups with the most events (ties by name), as a query."""
    counts = rows.group_by("group").agg(n=rows.count())
    return counts.order_by([ibis.desc("n"), "group"]).limit(top).select("group")


def _fold(rows: Table, leaders: Table) -> Table:
    """Every group outside `leaders` becomes 其他."""
    return rows.mutate(group=ibis.ifelse(rows.group.isin(leaders.group), rows.group, OTHER))


def _item(row: dict[str, Any], how: tuple[str, str] | None) -> dict[str, Any]:
    """One figure as the answer shows it: its date and group (for a series row), events, customers, events
    per customer and the measure."""
    count, customers = int(row["count"]), int(row["customers"])
    item: dict[str, Any] = {}
    if row.get("period") is not None:
        item["date"] = row["period"].isoformat()
    if row.get("group") is not None:
        item["group"] = row["group"]
    item |= {"count": count, "customers": customers}
    item["per_customer"] = round(count / customers, 4) if customers else 0.0
    if how is not None:
        item["value"] = None if row["value"] is None else float(row["value"])
    return item


def _change(now: Any, before: Any) -> float | None:
    """Relative change from the comparison period (None when it had nothing)."""
    if now is None or not before:
        return None
    return round((float(now) - float(before)) / float(before), 4)
