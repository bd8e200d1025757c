"""Loading events for analysis: one row per event with the person who did it, its time and local day."""

from __future__ import annotations

from datetime import date

import ibis
from ibis.expr.types import Table

from touchpoint.core.errors import ValidationError
from touchpoint.indicators.compile import resolve_customers
from touchpoint.indicators.service import event_id_map, known_events
from touchpoint.segments.context import property_filters
from touchpoint.segments.model import PropertyFilter
from touchpoint.tags.service import TagEnv

MAX_RANGE_DAYS = 3660


def check_range(start: date, end: date) -> None:
    """Refuse a reversed or absurd date range."""
    if start > end:
        raise ValidationError(f"from {start} is after to {end}")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ValidationError(f"a query covers at most {MAX_RANGE_DAYS} days")


def check_events(env: TagEnv, names: list[str]) -> None:
    """Refuse events never collected or imported."""
    seen = known_events(env.indicators.analytics)
    unknown = [n for n in names if n not in seen]
    if unknown:
        raise ValidationError(f"unknown event(s) {', '.join(unknown)} (never collected or imported)")


def events_between(
    env: TagEnv, names: list[str], first: date, last: date, where: list[PropertyFilter] | None = None
) -> Table:
    """Events of `names` on Beijing days first…last, with `person`: the customer number; else, for someone
    not (yet) known as a customer, `~uid` of their One ID person; else the raw distinct id."""
    events = env.indicators.analytics.table("events")
    chosen = events.filter(events.event.isin(names), events.dt >= first, events.dt <= last)
    chosen = property_filters(chosen, where or [])
    resolved = resolve_customers(chosen, ibis.memtable(event_id_map(env.indicators)))
    anonymous = ibis.literal(ANONYMOUS_PERSON) + resolved.person_uid.cast("string")
    return resolved.mutate(person=ibis.coalesce(resolved.customer_no, anonymous, resolved.distinct_id))


ANONYMOUS_PERSON = "~"
"""The prefix of a person who is not a customer (their One ID uid follows): counted once however many
devices they used."""
