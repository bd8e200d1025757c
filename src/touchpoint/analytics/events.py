"""Loading events for analysis: one row per event with the person who did it, its time and local day."""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pyarrow as pa
from ibis.expr.types import Table
from pyroaring import FrozenBitMap

from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.durations import MAX_CALENDAR, DayRef, resolve_day
from touchpoint.core.errors import Fault, ValidationError
from touchpoint.indicators.compile import resolve_customers
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
    chosen = property_filters(chosen, where or [])
    resolved = resolve_customers(chosen, ibis.memtable(event_id_map(env)))
    if scope is not None:
        members = ibis.memtable(pa.table({"scope_uid": pa.array(np.fromiter(scope, np.int64, len(scope)))}))
        resolved = resolved.semi_join(members, resolved.person_uid == members.scope_uid)
    anonymous = ibis.literal(ANONYMOUS_PERSON) + resolved.person_uid.cast("string")
    return resolved.mutate(person=ibis.coalesce(resolved.customer_no, anonymous, resolved.distinct_id))


ANONYMOUS_PERSON = "~"
"""The prefix of a person who is not a customer (their One ID uid follows): counted once however many
devices they used."""
