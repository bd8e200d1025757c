"""Loading events for analysis: one row per event with the person who did it, its time and local day."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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
    if not names:  # nothing to ask: learning the known events may scan every event file
        return
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


@dataclass(frozen=True)
class Persons:
    """One ID's people as dense integer codes: `ids` is the event id map (id_value, person_uid, customer_no)
    with `person_code`, the code of the person an event with that distinct id (and no customer number of
    its own) belongs to, null when One ID names none; `names[code]` is that person as `events_between`
    names them (the customer number, else `~uid`)."""

    ids: pa.Table
    names: pd.Index


def persons(env: TagEnv) -> Persons:
    """The person codes of One ID's current graph, made once per graph (the id map is remembered while the
    graph is unchanged, so its identity says whether the codes still hold)."""
    ids = event_id_map(env)
    with _PERSONS_LOCK:
        cached = _PERSONS.get(id(ids))
        if cached is not None and cached[0] is ids:
            return cached[1]
    made = code_persons(ids)
    with _PERSONS_LOCK:
        _PERSONS.clear()  # only the newest graph is worth keeping
        _PERSONS[id(ids)] = (ids, made)
    return made


_PERSONS: dict[int, tuple[pa.Table, Persons]] = {}
_PERSONS_LOCK = threading.Lock()


def code_persons(ids: pa.Table) -> Persons:
    """Code each id's person, named exactly as `_with_person` names it from the id map alone."""
    uid_text = pc.binary_join_element_wise(ANONYMOUS_PERSON, pc.cast(ids["person_uid"], pa.string()), "")
    named = pc.coalesce(ids["customer_no"], uid_text).combine_chunks()
    encoded = pc.dictionary_encode(named)
    coded = ids.select(["id_value", "person_uid", "customer_no"]).append_column(
        "person_code", encoded.indices.cast(pa.int32())
    )
    return Persons(ids=coded, names=pd.Index(encoded.dictionary.to_numpy(zero_copy_only=False)))


def coded_events_between(
    env: TagEnv, names: list[str], first: date, last: date, scope: FrozenBitMap | None = None
) -> tuple[Table, Persons]:
    """The events of `names` on Beijing days first…last as `events_between` reads them, with the person as
    an integer where One ID gives one: `person_code` (see `Persons`); `person_name`, the person's name for
    the rare event whose person is not its distinct id's One ID person (an unlinked id, or a customer number
    of its own that differs from the id's), null otherwise; `is_customer`, whether the person is a customer.
    `decode_persons` turns these into one code per event.

    Why: naming every event's person in the engine (a text per event, joined and encoded again in Python)
    cost more than finding the events; a person is named once per id here, and the engine returns integers.
    """
    coded = persons(env)
    events = env.analytics.table("events")
    chosen = events.filter(events.dt >= first, events.dt <= last, events.event.isin(names))
    ids = ibis.memtable(coded.ids.rename_columns(["id_value", "person_uid", "id_customer_no", "person_code"]))
    joined = chosen.left_join(ids, chosen.distinct_id == ids.id_value)
    if scope is not None:
        joined = _in_scope(joined, scope)
    own = joined.customer_no
    # The event's own customer number names its person first; only where it is missing or agrees with
    # the id's is the person the id's One ID person.
    differs = joined.person_code.isnull() | (own.notnull() & ~own.identical_to(joined.id_customer_no))
    return (
        joined.mutate(
            person_name=ibis.ifelse(differs, ibis.coalesce(own, joined.distinct_id), ibis.null("string")),
            is_customer=ibis.coalesce(own, joined.id_customer_no).notnull(),
        ),
        coded,
    )


def decode_persons(coded: Persons, rows: pa.Table) -> CodedPersons:
    """One person code per row of `rows`, read with `coded_events_between`'s `person_code`, `person_name`
    and `is_customer` columns: the rows named by text get the code of that name (a new code past One ID's
    for a name One ID does not have)."""
    codes = rows["person_code"].fill_null(-1).to_numpy().astype(np.int64)
    names = coded.names
    named = np.flatnonzero(rows["person_name"].is_valid().to_numpy())  # a name overrides the id's code
    if len(named):
        encoded = pc.dictionary_encode(rows["person_name"].take(pa.array(named))).combine_chunks()
        texts = pd.Index(encoded.dictionary.to_numpy(zero_copy_only=False))
        found = names.get_indexer(texts)
        new = found < 0
        found[new] = len(names) + np.arange(int(new.sum()))
        names = names.append(texts[new])
        codes[named] = found[encoded.indices.to_numpy(zero_copy_only=False)]
    is_customer = np.zeros(len(names), dtype=bool)
    is_customer[codes[rows["is_customer"].fill_null(False).to_numpy()]] = True
    return CodedPersons(codes=codes, names=names, is_customer=is_customer)


@dataclass(frozen=True)
class CodedPersons:
    """Each event's person code (`codes`), every code's person (`names`) and whether it is a customer."""

    codes: np.ndarray
    names: pd.Index
    is_customer: np.ndarray


def _in_scope(table: Table, scope: FrozenBitMap) -> Table:
    """Only the events of `scope`'s customers (uids): those whose id One ID gives a person in it."""
    members = ibis.memtable(pa.table({"scope_uid": pa.array(np.fromiter(scope, np.int64, len(scope)))}))
    return table.semi_join(members, table.person_uid == members.scope_uid)


def _with_person(env: TagEnv, chosen: Table, scope: FrozenBitMap | None) -> Table:
    """The events with `person` (see `events_between`), only `scope`'s customers' when a scope is given."""
    resolved = resolve_customers(chosen, ibis.memtable(event_id_map(env)))
    if scope is not None:
        resolved = _in_scope(resolved, scope)
    anonymous = ibis.literal(ANONYMOUS_PERSON) + resolved.person_uid.cast("string")
    return resolved.mutate(person=ibis.coalesce(resolved.customer_no, anonymous, resolved.distinct_id))


ANONYMOUS_PERSON = "~"
"""The prefix of a person who is not a customer (their One ID uid follows): counted once however many
devices they used."""
