"""Retention (留存): of the customers who did a start event in a period, how many did a return event in
each of the following periods.

A customer belongs to the cohort of every period in which they did the start event (with `first_time`, only
to the first such period of their whole history); `retained[k-1]` counts the cohort's customers who did the
return event in period start + k. Periods are Beijing days, weeks from Monday, or calendar months. A period
that has not begun yet (it starts after today) has no value (None), not zero: nobody could come back in it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import ibis
from ibis.expr.types import Table
from pyroaring import FrozenBitMap

from touchpoint.analytics.events import Role, check_events, date_range, events_in_roles, today
from touchpoint.analytics.model import RetentionQuery, RetentionUnit
from touchpoint.core.durations import DayRef, resolve_day
from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.segments.model import PropertyFilter
from touchpoint.segments.service import SegmentEnv, save_list_segment
from touchpoint.tags.service import TagEnv

Unit = RetentionUnit
EARLIEST = date(1990, 1, 1)


def _period_of(day: date, unit: Unit) -> date:
    """The first day of the day's period (weeks start on Monday)."""
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if unit == "month" else day


def _shift(day: date, unit: Unit, n: int) -> date:
    if unit == "day":
        return day + timedelta(days=n)
    if unit == "week":
        return day + timedelta(weeks=n)
    month = day.month - 1 + n
    return date(day.year + month // 12, month % 12 + 1, 1)


def save_retention_segment(
    *,
    env: SegmentEnv,
    principal: Principal,
    query: RetentionQuery,
    cohort: DayRef,
    offset: int,
    name: str,
    title: str | None = None,
) -> dict[str, Any]:
    """Save one cell of the triangle (offset 0: the whole cohort) as a static segment."""
    cohort = _resolved(env, cohort)
    numbers = retention_customers(env=env, query=query, cohort=cohort, offset=offset, scope=principal.scope)
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
    start: DayRef,
    end: DayRef,
    periods: int,
    unit: Unit = "day",
    first_time: bool = False,
    start_where: list[PropertyFilter] | None = None,
    return_where: list[PropertyFilter] | None = None,
    scope: FrozenBitMap | None = None,
) -> dict[str, Any]:
    """The cohort triangle: per start period, its size and the customers retained in each later period
    (of the customers in `scope` only, when given)."""
    cohort, joined = _cohorts(
        env,
        start_event,
        return_event,
        start,
        end,
        periods,
        unit,
        first_time,
        start_where,
        return_where,
        scope,
    )
    # One query: the cohort sizes as offset 0 beside the retained counts, so the events are read, resolved
    # and grouped by person once (the engine shares the cohort between both branches).
    sizes = cohort.group_by("period").agg(n=cohort.person.count())
    sizes = sizes.select("period", offset=ibis.literal(0, "int64"), n=sizes.n)
    counts = joined.group_by(["period", "offset"]).agg(n=joined.person.count())
    cells = sizes.union(counts.select("period", offset=counts.offset.cast("int64"), n=counts.n)).to_pyarrow()
    found = zip(*(cells[c].to_pylist() for c in ("period", "offset", "n")), strict=True)
    counted = {(_day(day), int(k)): int(n) for day, k, n in found}
    retained = {key: n for key, n in counted.items() if key[1]}
    now = today(env)
    cohorts = []
    for day in sorted(day for day, k in counted if k == 0):
        row = [
            None if _shift(day, unit, k) > now else retained.get((day, k), 0) for k in range(1, periods + 1)
        ]
        cohorts.append({"start": day.isoformat(), "size": counted[(day, 0)], "retained": row})
    return {"unit": unit, "periods": periods, "first_time": first_time, "cohorts": cohorts}


def retention_customers(
    *, env: TagEnv, query: RetentionQuery, cohort: DayRef, offset: int, scope: FrozenBitMap | None = None
) -> list[str]:
    """The customer numbers in one cell: the cohort starting `cohort` (offset 0: all of it) or those of it
    who came back `offset` periods later."""
    cohort = _resolved(env, cohort)
    periods, unit = query.periods, query.unit
    if not 0 <= offset <= periods:
        raise ValidationError(f"offset {offset}: give 0 (the whole cohort) to {periods}")
    members, joined = _cohorts(
        env,
        query.start_event,
        query.return_event,
        query.start,
        query.end,
        periods,
        unit,
        query.first_time,
        query.start_where,
        query.return_where,
        scope,
    )
    members = members.filter(members.period == cohort)
    if offset:
        chosen = joined.filter(joined.period == cohort, joined.offset == offset).select("person")
    else:
        chosen = members.select("person")
    customers = members.filter(members.is_customer).select("person")
    picked = chosen.semi_join(customers, "person").to_pyarrow()["person"].to_pylist()
    if not picked and members.count().to_pyarrow().as_py() == 0:
        raise ValidationError(f"no cohort starts {cohort} (a cohort starts on the first day of each {unit})")
    return sorted(picked)


def _cohorts(
    env: TagEnv,
    start_event: str,
    return_event: str,
    start: DayRef,
    end: DayRef,
    periods: int,
    unit: Unit,
    first_time: bool,
    start_where: list[PropertyFilter] | None,
    return_where: list[PropertyFilter] | None,
    scope: FrozenBitMap | None,
) -> tuple[Table, Table]:
    """Each cohort membership (person, period, is_customer) and each return within `periods` (person,
    period, offset), one row per person and period — as queries for the engine."""
    start, end = date_range(env, start, end)
    if not 1 <= periods <= 120:
        raise ValidationError(f"periods {periods}: give 1 to 120")
    check_events(env, list(dict.fromkeys([start_event, return_event])))
    first_period, last_period = _period_of(start, unit), _period_of(end, unit)
    reach = _shift(last_period, unit, periods + 1) - timedelta(days=1)
    roles = {
        "is_start": Role([start_event], EARLIEST if first_time else start, end, start_where),
        "is_return": Role([return_event], first_period, reach, return_where),
    }
    facts = _periods(events_in_roles(env, roles, scope), unit)
    in_range = facts.is_start & (facts.dt >= start)
    # One row per person and period saying what they did in it: the cohorts and the returns both come
    # from this one grouping of one scan.
    per = facts.group_by(["person", "period"]).agg(
        started=in_range.any(),
        is_customer=(in_range & facts.customer_no.notnull()).any(),
        ever=facts.is_start.any(),
        returned=facts.is_return.any(),
    )
    cohort = per.filter(per.started)
    if first_time:  # the person's first period with a start event, over their whole history
        first = ibis.ifelse(per.ever, per.period, ibis.null(per.period.type())).min().over(group_by="person")
        cohort = per.mutate(first=first).filter(lambda t: t.started & (t.period == t.first))
    cohort = cohort.select("person", "period", "is_customer")
    returns = per.filter(per.returned).select("person", later=per.period)
    joined = cohort.join(returns, "person")
    joined = joined.mutate(offset=_offset(joined.period, joined.later, unit))
    joined = joined.filter(joined.offset >= 1, joined.offset <= periods).select("person", "period", "offset")
    return cohort, joined


def _periods(table: Table, unit: Unit) -> Table:
    """The events with `period`: the first day of their Beijing day's day, week (from Monday) or month."""
    truncated = {"day": table.dt, "week": table.dt.truncate("W"), "month": table.dt.truncate("M")}[unit]
    return table.mutate(period=truncated)


def _day(value: date | datetime) -> date:
    """A period start as a date, whether the engine answered with a date or a timestamp."""
    return value.date() if isinstance(value, datetime) else value


def _resolved(env: TagEnv, day: DayRef) -> date:
    """A day as a date, relative days counted back from today on the deployment's clock."""
    return resolve_day(day, today(env), env.calendar)


def _offset(earlier: Any, later: Any, unit: Unit) -> Any:
    """Whole periods from one period start to a later one."""
    if unit == "month":
        return (later.year() - earlier.year()) * 12 + (later.month() - earlier.month())
    days = later.delta(earlier, unit="day")
    return days // 7 if unit == "week" else days
