"""Linking business identifiers in bulk: a million customers in one pass, not a million lookups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from touchpoint.identity.graph import Graph
from touchpoint.identity.model import ANONYMOUS, Identifier, is_generic
from touchpoint.identity.snapshot import new_uids
from touchpoint.store.operational.schema import identity_links, identity_log

_CHUNK = 5000


def link_customers(
    connection: Connection, rows: Sequence[dict[str, Any]], id_columns: dict[str, str], now: datetime
) -> int:
    """Give new customer numbers a uid and attach their other identifiers; conflicts go through the Graph."""
    known = _links(connection, ["customer_no", *id_columns])
    new_customers = sorted(
        {str(r["customer_no"]) for r in rows if r.get("customer_no")} - known.get("customer_no", {}).keys()
    )
    graph = Graph(connection, now=now, source="import")
    twins = _anonymous_twins(connection, new_customers)
    created = {c: uid for c in twins if (uid := graph.ensure(Identifier("customer_no", c))) is not None}
    created |= _create_people(connection, [c for c in new_customers if c not in twins], now)
    uid_by_customer = {**known.get("customer_no", {}), **created}
    attach: list[tuple[Identifier, int]] = []
    conflicts: list[tuple[Identifier, Identifier]] = []
    for row in rows:
        customer = str(row.get("customer_no") or "")
        if not customer:
            continue
        uid = uid_by_customer[customer]
        for id_type, column in id_columns.items():
            value = row.get(column)
            if value is None or is_generic(str(value)):
                continue
            current = known.get(id_type, {}).get(str(value))
            if current is None:
                attach.append((Identifier(id_type, str(value)), uid))
                known.setdefault(id_type, {})[str(value)] = uid
            elif current != uid:
                conflicts.append((Identifier(id_type, str(value)), Identifier("customer_no", customer)))
    _attach(connection, attach, now)
    for ident, login in conflicts:
        graph.bind(ident, login, "many_to_one")
    return len(created) + len(attach) + len(conflicts)


def _anonymous_twins(connection: Connection, customers: list[str]) -> set[str]:
    """New customer numbers already seen as anonymous ids: the graph decides whether each is that person."""
    found: set[str] = set()
    for start in range(0, len(customers), _CHUNK):
        query = select(identity_links.c.id_value).where(
            identity_links.c.id_type == ANONYMOUS,
            identity_links.c.id_value.in_(customers[start : start + _CHUNK]),
        )
        found.update(connection.execute(query).scalars())
    return found


def _links(connection: Connection, id_types: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    query = select(identity_links.c.id_type, identity_links.c.id_value, identity_links.c.uid).where(
        identity_links.c.id_type.in_(id_types)
    )
    for id_type, value, uid in connection.execute(query):
        out.setdefault(id_type, {})[value] = int(uid)
    return out


def _create_people(connection: Connection, customers: list[str], now: datetime) -> dict[str, int]:
    created = dict(zip(customers, new_uids(connection, len(customers), now), strict=True))
    _insert_links(connection, [(Identifier("customer_no", c), u) for c, u in created.items()], now, "create")
    return created


def _attach(connection: Connection, pairs: list[tuple[Identifier, int]], now: datetime) -> None:
    _insert_links(connection, pairs, now, "link")


def _insert_links(
    connection: Connection, pairs: list[tuple[Identifier, int]], now: datetime, action: str
) -> None:
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        connection.execute(
            insert(identity_links),
            [{"id_type": i.id_type, "id_value": i.value, "uid": u, "linked_at": now} for i, u in chunk],
        )
        connection.execute(
            insert(identity_log),
            [
                {
                    "at": now,
                    "action": action,
                    "uid": u,
                    "from_uid": None,
                    "ids": [i.label()],
                    "source": "import",
                    "reason": None,
                    "undone_by": None,
                }
                for i, u in chunk
            ],
        )
