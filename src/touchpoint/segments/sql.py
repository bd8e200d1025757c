"""The reference path: a whole rule compiled to one Ibis query over the tag, indicator and customer snapshots
joined with one aggregate per behaviour condition. Slower than the bitmaps, simple to trust; the two must
agree on every rule (a property test holds them to it)."""

from __future__ import annotations

from typing import Any

import ibis
from ibis.expr.types import BooleanValue, Table, Value
from pyroaring import BitMap

from touchpoint.core.errors import ValidationError
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.segments.context import Context, gap_of, property_filters
from touchpoint.segments.model import (
    AllGroup,
    AnyGroup,
    AttributeCondition,
    EventCondition,
    IndicatorCondition,
    ListCondition,
    NotGroup,
    Rule,
    SegmentCondition,
    SequenceCondition,
    TagCondition,
    Window,
)
from touchpoint.segments.validate import attribute_test
from touchpoint.tags.layout import TAG_VALUES


class _Compiler:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.joins: list[tuple[str, Table]] = []

    def base(self) -> Table:
        analytics = self.context.analytics
        day = self.context.snapshot
        tags = analytics.table(TAG_VALUES.name)
        tags = tags.filter(tags.dt == day)
        tags = tags.select("uid", "customer_no", **{f"t__{c}": tags[c] for c in _data_columns(tags)})
        values = analytics.table(INDICATOR_VALUES.name)
        values = values.filter(values.dt == day)
        values = values.select(u=values.uid, **{f"i__{c}": values[c] for c in _data_columns(values)})
        base = tags.left_join(values, tags.uid == values.u).drop("u")
        customers_day = analytics.latest_partition_on_or_before("customers", day)
        customers = analytics.table("customers")
        customers = customers.filter(customers.dt == customers_day)
        attributes = customers.select(
            c=customers.customer_no,
            **{f"a__{c}": customers[c] for c in customers.columns if c not in ("customer_no", "dt")},
        )
        return base.left_join(attributes, base.customer_no == attributes.c).drop("c")

    def condition(self, rule: Rule, visiting: tuple[str, ...] = ()) -> BooleanValue:
        if isinstance(rule, AllGroup):
            parts = [self.condition(p, visiting) for p in rule.all]
            return _fold(parts, lambda a, b: a & b)
        if isinstance(rule, AnyGroup):
            parts = [self.condition(p, visiting) for p in rule.any]
            return _fold(parts, lambda a, b: a | b)
        if isinstance(rule, NotGroup):
            return ~self.condition(rule.not_, visiting)
        if isinstance(rule, SegmentCondition):
            if rule.segment in visiting:
                raise ValidationError(f"segment cycle {' → '.join([*visiting, rule.segment])}")
            return self.condition(self.context.segment_rule(rule.segment), (*visiting, rule.segment))
        return self.leaf(rule).fill_null(False)

    def leaf(self, rule: Rule) -> BooleanValue:
        if isinstance(rule, TagCondition):
            column = ibis._[f"t__{rule.tag}"]
            if rule.exists is not None:
                return column.notnull() if rule.exists else column.isnull()
            if rule.in_ is not None:
                return column.isin(rule.in_)
            return column.notnull() & ~column.isin(rule.not_in or [])
        if isinstance(rule, IndicatorCondition):
            value = ibis._[f"i__{rule.indicator}"].cast("float64")
            # NaN (0/0 in a derived indicator) is no value, as on the bitmap path; engines order it above
            # every number, so without this `> 1` would hold for it.
            return _compare(value, rule.op, rule.value) & ~value.isnan()
        if isinstance(rule, AttributeCondition):
            return _attribute(ibis._[f"a__{rule.attribute}"], rule)
        if isinstance(rule, EventCondition):
            name = self.join(self.counts(rule))
            return _count_test(ibis._[name].fill_null(0), rule.count.op, rule.count.value)
        if isinstance(rule, SequenceCondition):
            name = self.join(self.sequence(rule))
            return ibis._[name].notnull()
        assert isinstance(rule, ListCondition)
        return ibis._.customer_no.isin(self.context.list_members(rule.list_))

    def join(self, table: Table) -> str:
        name = f"j{len(self.joins)}"
        self.joins.append((name, table))
        return name

    def counts(self, rule: EventCondition) -> Table:
        events = property_filters(self.context.events([rule.event], Window(rule.within)), rule.where)
        return events.group_by("customer_no").agg(value=events.count())

    def sequence(self, rule: SequenceCondition) -> Table:
        window = Window(rule.within)
        gap = ibis.interval(seconds=int(gap_of(rule.gap).total_seconds()))
        chain: Table | None = None
        for index, step in enumerate(rule.sequence):
            events = property_filters(self.context.events([step.event], window), step.where)
            current = events.select(
                customer_no=events.customer_no, **{f"t{index}": events.time, f"e{index}": events.event_id}
            )
            if chain is None:
                chain = current
                continue
            previous_time = chain[f"t{index - 1}"]
            joined = chain.join(
                current,
                [
                    chain.customer_no == current.customer_no,
                    current[f"t{index}"] >= previous_time,
                    current[f"t{index}"] <= previous_time + gap,
                    *[current[f"e{index}"] != chain[f"e{k}"] for k in range(index)],
                ],
            )
            chain = joined.drop("customer_no_right") if "customer_no_right" in joined.columns else joined
        assert chain is not None
        return chain.select("customer_no").distinct().mutate(value=ibis.literal(True))

    def build(self, rule: Rule) -> Table:
        condition = self.condition(rule)
        table = self.base()
        for name, extra in self.joins:
            renamed = extra.select(k=extra.customer_no, **{name: extra.value})
            table = table.left_join(renamed, table.customer_no == renamed.k).drop("k")
        return table.filter(condition).select("uid")


def evaluate_sql(rule: Rule, context: Context) -> BitMap:
    """The uids the rule selects, computed by one query on the analytical engine."""
    query = _Compiler(context).build(rule)
    return BitMap(query.to_pyarrow()["uid"].to_numpy().astype("uint32"))


def _data_columns(table: Table) -> list[str]:
    return [c for c in table.columns if c not in ("uid", "customer_no", "dt")]


def _fold(parts: list[BooleanValue], combine: Any) -> BooleanValue:
    result = parts[0]
    for part in parts[1:]:
        result = combine(result, part)
    return result


def _compare(column: Value, op: str, value: Any) -> BooleanValue:
    if op == "between":
        low, high = value
        result: BooleanValue = (column >= low) & (column <= high)
        return result
    return _count_test(column, op, value)


def _count_test(column: Value, op: str, value: Any) -> BooleanValue:
    result: BooleanValue = {
        "=": lambda: column == value,
        "!=": lambda: column != value,
        ">": lambda: column > value,
        ">=": lambda: column >= value,
        "<": lambda: column < value,
        "<=": lambda: column <= value,
    }[op]()
    return result


def _attribute(column: Value, rule: AttributeCondition) -> BooleanValue:
    # Values are read as the bitmap path reads them (`attribute_test`): typed as the column, and a segment
    # has no parameters, so `{"param": …}` is refused.
    op, value = attribute_test(rule)
    if op == "exists":
        return column.notnull() if value else column.isnull()
    if op == "in":
        return column.isin(value)
    if op == "not_in":
        return column.notnull() & ~column.isin(value)
    return _compare(column, op, value)
