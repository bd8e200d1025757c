"""Loading events for analysis: one row per event with the person who did it, its time and local day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import numpy as np
import pyarrow as pa
from ibis.expr.types import BooleanValue, Table
from pyroaring import FrozenBitMap

from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.durations import MAX_CALENDAR, DayRef, resolve_day
from touchpoint.core.errors import Fault, ValidationError
from touchpoint.indicators.compile import property_condition, resolve_customers
from touchpoint.indicators.model import Filter
from touchpoint.indicators.service import event_id_map, known_events
from touchpoint.segments.context import property_filters
from touchpoint.segments.model import PropertyFilter
from touchpoint.tags.service import TagEnv

MAX_RANGE_DAYS = MAX_CALENDAR.days  # ten years


def check_range(start: date, end: date) -> None:
    """Refuse a reversed or absurd date range (naming `to`, the field to change)."""
    if start > end:
        message = f"from {start} is after to {end}"
        raise ValidationError(message, faults=[_to(message)])
    if (end - start).days > MAX_RANGE_DAYS:
        message = f"a query covers at most {MAX_RANGE_DAYS} days"
        raise ValidationError(message, faults=[_to(message)])


def _to(msg: str) -> Fault:
    return Fault(loc=("body", "to"), msg=msg)


def today(env: TagEnv) -> date:
    """Today's Beijing date on the deployment's clock (a virtual clock moves it too)."""
    indicators = env
    return indicators.calendar.business_date(indicators.clock.now())


def date_range(env: TagEnv, start: DayRef, end: DayRef) -> tuple[date, date]:
    """The dates `start` and `end` stand for today (relative days resolved on the clock), checked."""
    now, calendar = today(env), env.calendar
    first, last = resolve_day(start, now, calendar), resolve_day(end, now, calendar)
    check_range(first, last)
    return first, last


def check_calendar(calendar: TradingCalendar, *days: date) -> None:
    """Refuse days outside the trading calendar, for queries counted in trading days."""
    # Strictly after the first trading day: a range's first session needs the one before it.
    outside = [d for d in days if not calendar.first_day < d <= calendar.last_day]
    if outside:
        raise ValidationError(
            f"{outside[0]} is outside the trading calendar ({calendar.first_day} – {calendar.last_day}): "
            "trading days are known only there"
        )


def check_events(env: TagEnv, names: list[str]) -> None:
    """Refuse events never collected or imported."""
    seen = known_events(env.analytics)
    unknown = [n for n in names if n not in seen]
    if unknown:
        raise ValidationError(f"unknown event(s) {', '.join(unknown)} (never collected or imported)")


def events_between(
    env: TagEnv,
    names: list[str] | None,
    first: date,
    last: date,
    where: list[PropertyFilter] | None = None,
    scope: FrozenBitMap | None = None,
) -> Table:
    """Events of `names` (None: every event) on Beijing days first…last, with `person`: the customer number;
    else, for someone not (yet) known as a customer, `~uid` of their One ID person; else the raw distinct id.

    A `scope` (the caller's branch or own customers, as uids) keeps only its customers' events: every
    analysis built on this sees, counts and lists nobody else."""
    events = env.analytics.table("events")
    chosen = events.filter(events.dt >= first, events.dt <= last)
    if names is not None:
        chosen = chosen.filter(chosen.event.isin(names))
    return _with_person(env, property_filters(chosen, where or []), scope)


@dataclass(frozen=True)
class Role:
    """The events that play one part in an analysis (a retention's start or return events): those named
    `names`, on Beijing days first…last, passing every filter in `where`."""

    names: list[str]
    first: date
    last: date
    where: list[PropertyFilter] | None = None


def events_in_roles(env: TagEnv, roles: dict[str, Role], scope: FrozenBitMap | None = None) -> Table:
    """The events playing any of `roles`, read in one pass, with `person` as in `events_between` and one
    boolean column per role (named as its key) saying whether the event plays that part.

    One scan and one One ID join serve every role, where one `events_between` per role would read and
    resolve the same files again; an event playing two roles (a retention of login → login) is one row.
    """
    events = env.analytics.table("events")
    first = min(role.first for role in roles.values())
    last = max(role.last for role in roles.values())
    names = sorted({name for role in roles.values() for name in role.names})
    # The outer range and names stay plain conjuncts so that DuckDB prunes files and row groups by them.
    chosen = events.filter(events.dt >= first, events.dt <= last, events.event.isin(names))
    flags = {key: _plays(chosen, role) for key, role in roles.items()}
    chosen = chosen.mutate(**flags)
    chosen = chosen.filter(ibis.or_(*(chosen[key] for key in roles)))
    return _with_person(env, chosen, scope)


def _plays(table: Table, role: Role) -> BooleanValue:
    """Whether each event plays `role`; a filter that cannot be evaluated (a missing property) says no,
    exactly as `property_filters` drops the row."""
    condition: BooleanValue = (
        table.event.isin(role.names) & (table.dt >= role.first) & (table.dt <= role.last)
    )
    for item in role.where or []:
        matches = property_condition(table, Filter(property=item.property, op=item.op, value=item.value))
        condition &= matches.fill_null(False)
    return condition


def _with_person(env: TagEnv, chosen: Table, scope: FrozenBitMap | None) -> Table:
    """The events with `person` (see `events_between`), only `scope`'s customers' when a scope is given."""
    resolved = resolve_customers(chosen, ibis.memtable(event_id_map(env)))
    if scope is not None:
        members = ibis.memtable(pa.table({"scope_uid": pa.array(np.fromiter(scope, np.int64, len(scope)))}))
        resolved = resolved.semi_join(members, resolved.person_uid == members.scope_uid)
    anonymous = ibis.literal(ANONYMOUS_PERSON) + resolved.person_uid.cast("string")
    return resolved.mutate(person=ibis.coalesce(resolved.customer_no, anonymous, resolved.distinct_id))


ANONYMOUS_PERSON = "~"
"""The prefix of a person who is not a customer (their One ID uid follows): counted once however many
devices they used."""
