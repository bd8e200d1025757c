"""The identity graph and profiles in the operational store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, and_, case, delete, func, insert, or_, select, text, update

from touchpoint.identity.model import RESOLUTION_ORDER, Identifier
from touchpoint.store.operational.bulk import fetch_arrow, insert_ignoring_duplicates
from touchpoint.store.operational.schema import (
    identity_links,
    identity_log,
    identity_separations,
    identity_shared,
    identity_sightings,
    persons,
    profile_attributes,
)


def uid_of(connection: Connection, ident: Identifier) -> int | None:
    """The uid an identifier is linked to, or None."""
    value = connection.execute(
        select(identity_links.c.uid).where(
            identity_links.c.id_type == ident.id_type, identity_links.c.id_value == ident.value
        )
    ).scalar_one_or_none()
    return None if value is None else int(value)


def uids_of(connection: Connection, idents: Iterable[Identifier]) -> dict[Identifier, int]:
    """The uids of many identifiers at once (unknown ones are absent)."""
    wanted = list(idents)
    if not wanted:
        return {}
    clauses = [
        and_(identity_links.c.id_type == i.id_type, identity_links.c.id_value == i.value) for i in wanted
    ]
    rows = connection.execute(select(identity_links).where(or_(*clauses)))
    return {Identifier(r.id_type, r.id_value): int(r.uid) for r in rows}


def ids_of(connection: Connection, uid: int) -> list[Identifier]:
    """Every identifier linked to a uid."""
    rows = connection.execute(
        select(identity_links.c.id_type, identity_links.c.id_value)
        .where(identity_links.c.uid == uid)
        .order_by(identity_links.c.id_type, identity_links.c.id_value)
    )
    return [Identifier(t, v) for t, v in rows]


def new_person(connection: Connection, now: datetime) -> int:
    """Allocate the next dense uid."""
    return int(
        connection.execute(insert(persons).values(created_at=now).returning(persons.c.uid)).scalar_one()
    )


def link(connection: Connection, ident: Identifier, uid: int, now: datetime) -> None:
    """Point an identifier at a uid (creating or moving the link)."""
    moved = connection.execute(
        update(identity_links)
        .where(identity_links.c.id_type == ident.id_type, identity_links.c.id_value == ident.value)
        .values(uid=uid, linked_at=now)
    )
    if not moved.rowcount:
        connection.execute(
            insert(identity_links).values(id_type=ident.id_type, id_value=ident.value, uid=uid, linked_at=now)
        )


def log(
    connection: Connection,
    *,
    action: str,
    uid: int | None,
    from_uid: int | None,
    ids: list[Identifier],
    source: str,
    reason: str | None,
    now: datetime,
) -> int:
    """Append one entry to the merge log."""
    result = connection.execute(
        insert(identity_log)
        .values(
            at=now,
            action=action,
            uid=uid,
            from_uid=from_uid,
            ids=[i.label() for i in ids],
            source=source,
            reason=reason,
        )
        .returning(identity_log.c.id)
    )
    return int(result.scalar_one())


def log_entries(connection: Connection, uids: Iterable[int]) -> list[dict[str, Any]]:
    """Merge-log entries that touched any of `uids`, oldest first."""
    wanted = list(uids)
    query = (
        select(identity_log)
        .where(or_(identity_log.c.uid.in_(wanted), identity_log.c.from_uid.in_(wanted)))
        .order_by(identity_log.c.id)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def last_attaching_entry(connection: Connection, ident: Identifier, uid: int) -> dict[str, Any] | None:
    """The newest link or merge entry, not yet undone, that attached `ident` to its present person `uid`
    (such an entry names that uid, so only its entries are read)."""
    query = (
        select(identity_log)
        .where(
            identity_log.c.uid == uid,
            identity_log.c.action.in_(("link", "merge")),
            identity_log.c.undone_by.is_(None),
        )
        .order_by(identity_log.c.id.desc())
    )
    for row in connection.execute(query).mappings():
        if ident.label() in row["ids"]:
            return dict(row)
    return None


def profile(connection: Connection, uid: int) -> dict[str, Any]:
    """The SDK-maintained profile of a uid."""
    rows = connection.execute(select(profile_attributes).where(profile_attributes.c.uid == uid))
    return {r.key: r.value for r in rows}


def write_profile(
    connection: Connection, uid: int, values: dict[str, Any], unset: Iterable[str], source: str, now: datetime
) -> None:
    """Upsert values and remove keys of one profile."""
    keys = list(values) + list(unset)
    if keys:
        connection.execute(
            delete(profile_attributes).where(
                profile_attributes.c.uid == uid, profile_attributes.c.key.in_(keys)
            )
        )
    if values:
        connection.execute(
            insert(profile_attributes),
            [
                {"uid": uid, "key": k, "value": v, "updated_at": now, "source": source}
                for k, v in values.items()
            ],
        )


def delete_profile(connection: Connection, uid: int) -> None:
    """Remove every profile value of a uid."""
    connection.execute(delete(profile_attributes).where(profile_attributes.c.uid == uid))


def move_profile(connection: Connection, from_uid: int, to_uid: int, now: datetime) -> None:
    """Carry profile values to the surviving uid of a merge; the survivor's own values win."""
    survivor = profile(connection, to_uid)
    moved = {k: v for k, v in profile(connection, from_uid).items() if k not in survivor}
    write_profile(connection, to_uid, moved, [], "merge", now)
    delete_profile(connection, from_uid)


def graph_marker(connection: Connection) -> tuple[Any, ...]:
    """A cheap fingerprint of the graph: it changes whenever a link is added, moved or removed (every such
    change is logged, and moves restamp `linked_at`)."""
    logged = connection.execute(select(func.max(identity_log.c.id))).scalar_one_or_none()
    links = connection.execute(
        select(func.count(), func.max(identity_links.c.linked_at)).select_from(identity_links)
    ).one()
    return (logged, int(links[0]), str(links[1]))


def _precedence() -> Any:
    """RESOLUTION_ORDER as a sort key in SQL."""
    ranks = [(identity_links.c.id_type == t, rank) for rank, t in enumerate(RESOLUTION_ORDER)]
    return case(*ranks, else_=len(RESOLUTION_ORDER))


def _resolved_values(values: list[str]) -> Any:
    """One row per identifier value among `values`: (value, uid) by precedence — a value never names two
    people."""
    rank = (
        func.row_number()
        .over(partition_by=identity_links.c.id_value, order_by=(_precedence(), identity_links.c.id_type))
        .label("rank")
    )
    query = select(identity_links.c.id_value, identity_links.c.uid, rank)
    return query.where(identity_links.c.id_value.in_(values)).subquery("ranked")


def _with_customer(ranked: Any) -> Any:
    customer = identity_links.alias("customer")
    return (
        select(ranked.c.id_value, ranked.c.uid, customer.c.id_value.label("customer_no"))
        .select_from(ranked)
        .outerjoin(customer, (customer.c.uid == ranked.c.uid) & (customer.c.id_type == "customer_no"))
        .where(ranked.c.rank == 1)
    )


def customers_of_values(connection: Connection, values: list[str]) -> dict[str, str]:
    """Identifier value (any type) → the customer number of the person it resolves to, where there is one."""
    found: dict[str, str] = {}
    for start in range(0, len(values), 500):
        query = _with_customer(_resolved_values(values[start : start + 500]))
        found.update({value: number for value, _, number in connection.execute(query) if number is not None})
    return found


LINKS = pa.schema([("id_type", pa.string()), ("id_value", pa.string()), ("uid", pa.int64())])


def all_links(connection: Connection) -> pa.Table:
    """(id type, id value, uid) of every link as Arrow (for the analytical lookup tables)."""
    query = select(identity_links.c.id_type, identity_links.c.id_value, identity_links.c.uid)
    return fetch_arrow(connection, query, LINKS)


def delete_link(connection: Connection, ident: Identifier) -> None:
    """Remove one identifier from the graph (its person keeps the others)."""
    connection.execute(
        delete(identity_links).where(
            identity_links.c.id_type == ident.id_type, identity_links.c.id_value == ident.value
        )
    )


def separated(connection: Connection, left: Iterable[Identifier], right: Iterable[Identifier]) -> bool:
    """True when an operator separated an identifier of `left` from one of `right` (and has not lifted it)."""
    lefts = sorted({i.label() for i in left})
    rights = sorted({i.label() for i in right})
    if not lefts or not rights:
        return False
    table = identity_separations
    query = (
        select(func.count())
        .select_from(table)
        .where(
            table.c.lifted_at.is_(None),
            or_(
                and_(table.c.left_label.in_(lefts), table.c.right_label.in_(rights)),
                and_(table.c.left_label.in_(rights), table.c.right_label.in_(lefts)),
            ),
        )
    )
    return bool(connection.execute(query).scalar_one())


def add_separation(
    connection: Connection, left: Identifier, right: Identifier, *, actor: str, reason: str, now: datetime
) -> None:
    """Remember that two identifiers must not be linked again."""
    connection.execute(
        insert(identity_separations).values(
            left_label=left.label(), right_label=right.label(), created_at=now, actor=actor, reason=reason
        )
    )


def lift_separations(
    connection: Connection, left: Identifier, right: Identifier, *, actor: str, now: datetime
) -> int:
    """Lift every active separation between two identifiers; returns how many."""
    table = identity_separations
    pair = {left.label(), right.label()}
    result = connection.execute(
        update(table)
        .where(
            table.c.lifted_at.is_(None),
            table.c.left_label.in_(sorted(pair)),
            table.c.right_label.in_(sorted(pair)),
            table.c.left_label != table.c.right_label,
        )
        .values(lifted_at=now, lifted_by=actor)
    )
    return int(result.rowcount or 0)


def separations_of(connection: Connection, idents: Iterable[Identifier]) -> list[dict[str, Any]]:
    """Active separations that name any of `idents`, oldest first."""
    labels = sorted({i.label() for i in idents})
    table = identity_separations
    query = (
        select(table)
        .where(
            table.c.lifted_at.is_(None),
            or_(table.c.left_label.in_(labels), table.c.right_label.in_(labels)),
        )
        .order_by(table.c.id)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def record_sighting(connection: Connection, device: Identifier, login: str, now: datetime) -> int:
    """Note that a device was seen with a login; returns how many different logins it has been seen with."""
    table = identity_sightings
    row = {"id_type": device.id_type, "id_value": device.value, "login": login, "seen_at": now}
    insert_ignoring_duplicates(connection, table, row)
    where = (table.c.id_type == device.id_type) & (table.c.id_value == device.value)
    return int(connection.execute(select(func.count()).select_from(table).where(where)).scalar_one())


def is_shared(connection: Connection, ident: Identifier) -> bool:
    """True for a device marked shared."""
    table = identity_shared
    query = select(func.count()).where(table.c.id_type == ident.id_type, table.c.id_value == ident.value)
    return bool(connection.execute(query).scalar_one())


def mark_shared(connection: Connection, ident: Identifier, reason: str, now: datetime) -> None:
    """Mark a device shared (idempotent, and safe when two workers do it at once)."""
    row = {"id_type": ident.id_type, "id_value": ident.value, "marked_at": now, "reason": reason}
    insert_ignoring_duplicates(connection, identity_shared, row)


def refresh_statistics(connection: Connection) -> None:
    """PostgreSQL: sample identity_links' statistics again. Right after a bulk load the planner takes the
    table for nearly empty and joins every event's links with every customer's (a routing batch took 100
    times longer) until autovacuum gets to it."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE identity_links"))
