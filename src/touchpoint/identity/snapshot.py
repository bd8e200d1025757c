"""The part of the graph a batch touches, read with a few set queries, and what its replay changed, written
back with one multi-row statement per table (see binding.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite

from touchpoint.identity import repo
from touchpoint.identity.model import ANONYMOUS, Identifier
from touchpoint.identity.replay import Effects, Snapshot
from touchpoint.store.operational.bulk import fetch_tuples
from touchpoint.store.operational.schema import (
    identity_links,
    identity_log,
    identity_separations,
    identity_shared,
    identity_sightings,
    persons,
    profile_attributes,
)
from touchpoint.store.operational.types import JSONText

_CHUNK = 5000


def read_links(connection: Connection, idents: Iterable[Identifier]) -> dict[Identifier, int]:
    """The person of each linked identifier among `idents`: one query per identifier type."""
    wanted = set(idents)
    uids: dict[Identifier, int] = {}
    for id_type in sorted({i.id_type for i in wanted}):
        values = [i.value for i in wanted if i.id_type == id_type]
        query = select(identity_links.c.id_value, identity_links.c.uid).where(
            identity_links.c.id_type == id_type, _among(connection, values, identity_links.c.id_value)
        )
        uids.update((Identifier(id_type, v), int(u)) for v, u in fetch_tuples(connection, query))
    return uids


def read_snapshot(connection: Connection, uids: dict[Identifier, int], idents: set[Identifier]) -> Snapshot:
    """The rest of what steps naming `idents` can read, beside the links `uids` (read_links): every
    identifier of their persons, shared marks and sightings of their anonymous ids, and the active
    separations naming any of those identifiers."""
    members = _members(connection, list({uids[i] for i in idents if i in uids}))
    # Every identifier of those persons is known too: a merge or a detach moves ones the batch never names.
    uids.update((i, uid) for uid, ids in members.items() for i in ids)
    devices = [i.value for i in idents if i.id_type == ANONYMOUS]
    labels = {i.label() for i in idents} | {i.label() for ids in members.values() for i in ids}
    return Snapshot(
        uids=uids,
        members=members,
        shared={Identifier(ANONYMOUS, v) for (v,) in _device_rows(connection, identity_shared, devices)},
        sightings=_sightings(connection, devices),
        separations=_separations(connection, labels),
    )


def _members(connection: Connection, uids: list[int]) -> dict[int, set[Identifier]]:
    """Every identifier of each person in `uids`."""
    members: dict[int, set[Identifier]] = {}
    if not uids:
        return members
    links = identity_links.c
    query = select(links.id_type, links.id_value, links.uid).where(_among(connection, uids, links.uid))
    for id_type, value, uid in fetch_tuples(connection, query):
        members.setdefault(int(uid), set()).add(Identifier(id_type, value))
    return members


def _device_rows(
    connection: Connection, table: Any, devices: list[str], *columns: Column[Any]
) -> list[tuple[Any, ...]]:
    """Rows of a per-device table (shared marks, sightings) for the given anonymous ids."""
    if not devices:
        return []
    query: Select[Any] = select(table.c.id_value, *columns).where(
        table.c.id_type == ANONYMOUS, _among(connection, devices, table.c.id_value)
    )
    return fetch_tuples(connection, query)


def _sightings(connection: Connection, devices: list[str]) -> dict[Identifier, set[str]]:
    seen: dict[Identifier, set[str]] = {}
    for value, login in _device_rows(connection, identity_sightings, devices, identity_sightings.c.login):
        seen.setdefault(Identifier(ANONYMOUS, value), set()).add(login)
    return seen


def _separations(connection: Connection, labels: set[str]) -> dict[str, set[str]]:
    """Active separations naming any of `labels`, as label → the labels it is kept apart from."""
    table = identity_separations
    apart: dict[str, set[str]] = {}
    if not labels:
        return apart
    active = table.c.lifted_at.is_(None)
    # Operators separate ids by hand, so there are usually far fewer separations than labels in a batch: then
    # reading them all costs less than sending the labels (and SQLite indexing them, twice, for the IN).
    count = connection.execute(select(func.count()).select_from(table).where(active)).scalar_one()
    query: Select[Any] = select(table.c.left_label, table.c.right_label).where(active)
    if count > len(labels):
        query = query.where(_among(connection, list(labels), table.c.left_label, table.c.right_label))
    for left, right in fetch_tuples(connection, query):
        if left in labels or right in labels:
            apart.setdefault(left, set()).add(right)
            apart.setdefault(right, set()).add(left)
    return apart


def _among(connection: Connection, values: list[Any], *columns: Column[Any]) -> ColumnElement[bool]:
    """Whether any of `columns` is one of `values`, every value in one bound parameter — an array on
    PostgreSQL, a JSON array read by json_each on SQLite — so that a batch of ten thousand identifiers costs
    one short statement, not ten thousand bound names to render (which cost more than the query), and is
    sent once however many columns test it."""
    if connection.dialect.name == "postgresql":
        # IN (SELECT unnest(…)), not = ANY(…): on a table the planner takes for small (never analysed) it
        # chose a scan comparing every row with the whole array, 0.3 s a batch; this plans a hashed or
        # indexed semi-join either way.
        array = bindparam(None, values, type_=postgresql.ARRAY(columns[0].type))
        return or_(*(column.in_(select(func.unnest(array))) for column in columns))
    text = bindparam(None, orjson.dumps(values).decode(), type_=String)
    return or_(
        *(column.in_(select(func.json_each(text).table_valued("value").c.value)) for column in columns)
    )


def write_effects(connection: Connection, effects: Effects, now: datetime) -> None:
    """Write what a replay changed, one statement per table: persons (placeholders become uids), links
    (stored rows of moved or removed identifiers replaced), shared marks and sightings, profiles following
    merges, and the merge log."""
    real = dict(zip(effects.persons, new_uids(connection, len(effects.persons), now), strict=True))

    def uid(value: int | None) -> int | None:
        return real.get(value, value) if value is not None else None

    _replace_links(connection, effects, uid, now)
    device = ["id_type", "id_value"]
    shared = [(d.id_type, d.value, reason) for d, reason in effects.shared]
    _insert_all(
        connection, identity_shared, [*device, "reason"], shared, {"marked_at": now}, skip_existing=True
    )
    seen = [(d.id_type, d.value, login) for d, login in effects.sightings]
    _insert_all(
        connection, identity_sightings, [*device, "login"], seen, {"seen_at": now}, skip_existing=True
    )
    _move_profiles(connection, effects.profile_moves, uid, now)
    log = [
        (
            r.action,
            uid(r.uid),
            uid(r.from_uid),
            orjson.dumps([i.label() for i in r.ids]).decode(),
            r.source,
            r.reason,
        )
        for r in effects.log
    ]
    _insert_all(
        connection, identity_log, ["action", "uid", "from_uid", "ids", "source", "reason"], log, {"at": now}
    )


def _replace_links(connection: Connection, effects: Effects, uid: Any, now: datetime) -> None:
    """Delete the stored links of identifiers the replay moved or removed, then insert every final link."""
    for id_type in sorted({i.id_type for i in effects.replaced}):
        values = [i.value for i in effects.replaced if i.id_type == id_type]
        table = identity_links.c
        connection.execute(
            delete(identity_links).where(table.id_type == id_type, _among(connection, values, table.id_value))
        )
    rows = [(i.id_type, i.value, uid(u)) for i, u in effects.links.items() if u is not None]
    _insert_all(connection, identity_links, ["id_type", "id_value", "uid"], rows, {"linked_at": now})


def _insert_all(
    connection: Connection,
    table: Table,
    names: list[str],
    rows: list[tuple[Any, ...]],
    fixed: dict[str, Any],
    *,
    skip_existing: bool = False,
) -> None:
    """Insert `rows` (values of `names`; JSON columns already serialised) and the `fixed` values in one
    INSERT … SELECT whose rows arrive as one bound parameter — a JSON array read by json_each on SQLite,
    arrays unnested on PostgreSQL — so that ten thousand rows cost one statement, not ten thousand rows of
    parameter processing. `skip_existing` leaves rows a concurrent worker wrote meanwhile (as
    repo.record_sighting and repo.mark_shared do)."""
    if not rows:
        return
    postgres = connection.dialect.name == "postgresql"
    columns = _unnested(table, names, rows) if postgres else _json_rows(names, rows)
    constants = [
        bindparam(None, value, type_=table.c[name].type).label(name) for name, value in fixed.items()
    ]
    # SQLite reads "… FROM json_each(?) ON CONFLICT" as a join without a WHERE between them.
    query = select(*columns, *constants).where(true())
    statement = (postgresql if postgres else sqlite).insert(table).from_select([*names, *fixed], query)
    connection.execute(statement.on_conflict_do_nothing() if skip_existing else statement)


def _json_rows(names: list[str], rows: list[tuple[Any, ...]]) -> list[Any]:
    each = func.json_each(bindparam(None, orjson.dumps(rows).decode(), type_=String)).table_valued("value")
    return [func.json_extract(each.c.value, f"$[{n}]").label(name) for n, name in enumerate(names)]


def _unnested(table: Table, names: list[str], rows: list[tuple[Any, ...]]) -> list[Any]:
    # A JSON column's values come serialised: its array holds text.
    types = [Text() if isinstance(table.c[n].type, JSONText) else table.c[n].type for n in names]
    arrays = [
        bindparam(None, [row[n] for row in rows], type_=postgresql.ARRAY(kind))
        for n, kind in enumerate(types)
    ]
    unnested = func.unnest(*arrays).table_valued(*names).render_derived()
    return [unnested.c[name] for name in names]


def _move_profiles(connection: Connection, moves: list[tuple[int, int]], uid: Any, now: datetime) -> None:
    """Carry profiles as each merge did, in order; only persons that hold a profile have one to carry (a
    person created in this batch holds none), which one query finds."""
    stored = [m for m in moves if m[0] > 0]
    if not stored:
        return
    query = (
        select(profile_attributes.c.uid)
        .distinct()
        .where(_among(connection, sorted({f for f, _ in stored}), profile_attributes.c.uid))
    )
    holding = {int(u) for (u,) in fetch_tuples(connection, query)}
    for from_uid, to_uid in stored:
        if from_uid in holding:
            repo.move_profile(connection, from_uid, uid(to_uid), now)


def new_uids(connection: Connection, count: int, now: datetime) -> list[int]:
    """`count` new persons' uids, in order."""
    uids: list[int] = []
    for start in range(0, count, _CHUNK):
        size = min(_CHUNK, count - start)
        result = connection.execute(
            insert(persons).returning(persons.c.uid, sort_by_parameter_order=True),
            [{"created_at": now}] * size,
        )
        uids += [int(u) for u in result.scalars()]
    return uids
