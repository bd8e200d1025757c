"""Indicators as Ibis expressions: one aggregate per group of indicators that read the same rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import ibis
from ibis.expr.types import BooleanValue, Table, Value

from touchpoint.core.calendar import TradingCalendar
from touchpoint.indicators.formula import evaluate_formula, evaluation_order
from touchpoint.indicators.model import ZERO_WHEN_EMPTY, Filter, IndicatorDef, Window

ORDER_COLUMN = {
    "assets": "date",
    "holdings": "date",
    "trades": "time",
    "cash_flows": "time",
    "events": "time",
}
KEY = "customer_no"


def window_bounds(
    window: Window, day: date, calendar: TradingCalendar, partitions: Sequence[date]
) -> tuple[date | None, date | None]:
    """The first and last business date (inclusive) a window reads; (None, None) when nothing qualifies."""
    if window.kind == "snapshot":
        on_or_before = [d for d in partitions if d <= day]
        latest = max(on_or_before) if on_or_before else None
        return latest, latest
    if window.kind == "days":
        assert window.n is not None
        return date.fromordinal(day.toordinal() - window.n + 1), day
    if window.kind == "trading_days":
        assert window.n is not None
        last = day if calendar.is_trading_day(day) else calendar.previous_trading_day(day)
        return calendar.add_trading_days(last, -(window.n - 1)), day
    if window.kind == "month_to_date":
        return day.replace(day=1), day
    return None, day


def compile_indicators(
    definitions: Sequence[IndicatorDef],
    *,
    day: date,
    population: Table,
    sources: Mapping[str, Table],
    id_map: Table,
    bounds: Mapping[str, tuple[date | None, date | None]],
) -> Table:
    """One row per customer of `population` with a column per indicator (derived ones last)."""
    base = [d for d in definitions if d.source != "derived"]
    groups: dict[str, list[IndicatorDef]] = defaultdict(list)
    for definition in base:
        groups[definition.group_key()].append(definition)
    result = population
    for members in groups.values():
        first = members[0]
        rows = _rows(sources[first.source], first, bounds[first.name], id_map)
        aggregated = rows.group_by(KEY).agg(**{d.name: _metric(rows, d, day) for d in members})
        result = result.left_join(aggregated, KEY).drop(f"{KEY}_right")
    result = result.mutate(**{d.name: _finish(result[d.name], d) for d in base})
    return _derive(result, [d for d in definitions if d.source == "derived"])


def _derive(result: Table, derived: Sequence[IndicatorDef]) -> Table:
    formulas = {d.name: d for d in derived}
    for name in evaluation_order({d.name: d.inputs() for d in derived}):
        formula = formulas[name].formula
        assert formula is not None
        columns = {n: result[n].cast("float64") for n in formulas[name].inputs()}
        value = evaluate_formula(formula, columns, _divide_or_null)
        result = result.mutate(**{name: value.cast("float64")})
    return result


def _divide_or_null(left: Any, right: Any) -> Any:
    divisor = ibis.literal(right, type="float64") if isinstance(right, float) else right
    return left / divisor.nullif(0.0)


def _rows(
    table: Table, definition: IndicatorDef, bounds: tuple[date | None, date | None], id_map: Table
) -> Table:
    start, end = bounds
    if definition.source != "customers":
        if end is None:
            return table.filter(ibis.literal(False))
        table = table.filter(table.dt <= end)
        if start is not None:
            table = table.filter(table.dt >= start)
    if definition.source == "customers" and end is not None:
        table = table.filter(table.dt == end)
    if definition.source == "events":
        table = resolve_customers(table, id_map)
        if definition.event is not None:
            table = table.filter(table.event == definition.event)
    for condition in definition.filters:
        table = table.filter(property_condition(table, condition))
    return table.filter(table[KEY].notnull())


def resolve_customers(events: Table, id_map: Table) -> Table:
    """Events carry raw ids: an anonymous id counts for the customer One ID linked it to, and `person_uid`
    names the person (customer or not). `id_map` has one row per id value, so no event is counted twice."""
    joined = events.left_join(id_map, events.distinct_id == id_map.id_value)
    return joined.mutate(customer_no=ibis.coalesce(joined.customer_no, joined.customer_no_right)).drop(
        "customer_no_right", "id_value"
    )


def property_condition(table: Table, condition: Filter) -> BooleanValue:
    """A filter on a source column, or on an event property read from its JSON."""
    if condition.property is not None:
        numeric = isinstance(condition.value, int | float) and not isinstance(condition.value, bool)
        target = table.properties.cast("json")[condition.property].unwrap_as(
            "float64" if numeric else "string"
        )
    else:
        assert condition.column is not None
        target = table[condition.column]
    return _compare(target, condition.op, condition.value)


def _compare(target: Value, op: str, value: Any) -> BooleanValue:
    comparisons: dict[str, Any] = {
        "=": lambda: target == value,
        "!=": lambda: target != value,
        ">": lambda: target > value,
        ">=": lambda: target >= value,
        "<": lambda: target < value,
        "<=": lambda: target <= value,
        "in": lambda: target.isin(value),
        "not_in": lambda: ~target.isin(value),
        "exists": lambda: target.notnull() if value in (None, True) else target.isnull(),
    }
    result: BooleanValue = comparisons[op]()
    return result


def _column(rows: Table, definition: IndicatorDef) -> Value:
    assert definition.column is not None
    if definition.column.startswith("properties."):
        kind = "string" if definition.aggregation in ("count_distinct", "first", "last") else "float64"
        return rows.properties.cast("json")[definition.column.removeprefix("properties.")].unwrap_as(kind)
    return rows[definition.column]


def _metric(rows: Table, definition: IndicatorDef, day: date) -> Value:
    agg = definition.aggregation
    if agg == "count":
        return rows.count()
    if agg in ("days_since_first", "days_since_last"):
        dates = rows[definition.column] if definition.column else rows.dt
        edge = dates.min() if agg == "days_since_first" else dates.max()
        return ibis.literal(day).delta(edge.cast("date"), unit="day")
    column = _column(rows, definition)
    order = rows[ORDER_COLUMN.get(definition.source, "dt")]
    metrics: dict[str, Any] = {
        "count_distinct": lambda: column.nunique(),
        "sum": lambda: column.sum(),
        "avg": lambda: column.mean(),
        "min": lambda: column.min(),
        "max": lambda: column.max(),
        "first": lambda: column.argmin(order),
        "last": lambda: column.argmax(order),
        "value": lambda: column.arbitrary(),
    }
    value: Value = metrics[agg]()
    return value


def _finish(column: Value, definition: IndicatorDef) -> Value:
    if definition.aggregation in ZERO_WHEN_EMPTY:
        column = column.fill_null(0)
    if definition.aggregation in ("first", "last", "value") and not _numeric(column):
        return column
    return column.cast("int64" if definition.value_type == "int" else "float64")


def _numeric(column: Value) -> bool:
    return bool(column.type().is_numeric() or column.type().is_boolean())
