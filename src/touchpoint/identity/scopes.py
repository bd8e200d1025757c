"""Branch scopes: the customers a user limited to branches (营业部) or to their own clients may see.

A scope is a Roaring bitmap of One ID uids (a million customers must not become a Python set), built from the
newest customers snapshot and the identity graph, and remembered while both are unchanged. Each limit a user
has narrows it: branches keep the customers whose `branch_id` is one of them, an advisor id keeps those whose
`advisor_id` is it; both keep the customers that meet both.

Services that show one customer check it with `ensure_visible` (outside the scope the customer does not
exist, as far as the caller can tell); services that list or count narrow with the bitmap.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
from pyroaring import FrozenBitMap

from touchpoint.core.errors import NotFoundError
from touchpoint.governance import Principal
from touchpoint.governance.masking import PiiMask
from touchpoint.identity import repo
from touchpoint.identity.service import IdentityEnv, id_tables, show

_CACHE_SIZE = 64
_SCOPES: OrderedDict[tuple[Any, ...], FrozenBitMap] = OrderedDict()


class ScopeEnv(IdentityEnv, Protocol):
    """The identity environment and the analytical store the customers snapshot is in."""

    analytics: Any


def scope_for(env: ScopeEnv, *, branches: tuple[str, ...], advisor_id: str | None) -> FrozenBitMap:
    """The uids of the customers the limits allow (an empty bitmap when there is no customer snapshot)."""
    partitions = env.analytics.partitions("customers")
    if not partitions:
        return FrozenBitMap()
    newest = partitions[-1]
    with env.ops.begin() as connection:
        graph = repo.graph_marker(connection)
    key = (env.ops.url, newest.dt, newest.file, graph, tuple(sorted(branches)), advisor_id)
    found = _SCOPES.get(key)
    if found is None:
        uid_table, _ = id_tables(env=env)
        found = _build(env.analytics.read_partition("customers", newest.dt), uid_table, branches, advisor_id)
        _SCOPES[key] = found
        while len(_SCOPES) > _CACHE_SIZE:
            _SCOPES.popitem(last=False)
    else:
        _SCOPES.move_to_end(key)
    return found


def _build(
    customers: pa.Table | None, uid_table: pa.Table, branches: tuple[str, ...], advisor_id: str | None
) -> FrozenBitMap:
    if customers is None or customers.num_rows == 0:
        return FrozenBitMap()
    keep = pa.array([True] * customers.num_rows)
    if branches:
        keep = pc.and_(keep, pc.fill_null(pc.is_in(customers["branch_id"], pa.array(branches)), False))
    if advisor_id is not None:
        keep = pc.and_(keep, pc.fill_null(pc.equal(customers["advisor_id"], advisor_id), False))
    numbers = customers.filter(keep)["customer_no"]
    uids = uid_table.filter(pc.is_in(uid_table["customer_no"], numbers))["uid"]
    return FrozenBitMap(uids.to_numpy().astype("uint32"))


def uid_of_customer(env: IdentityEnv, customer_no: str) -> int | None:
    """The uid One ID gives a customer number, or None."""
    uid_table, _ = id_tables(env=env)
    found = uid_table.filter(pc.equal(uid_table["customer_no"], customer_no))["uid"]
    return int(found[0].as_py()) if len(found) else None


def ensure_visible(env: IdentityEnv, principal: Principal, customer_no: str) -> None:
    """Refuse a customer outside the caller's scope as if it did not exist (HTTP 404): a user of one branch
    cannot even learn that a number belongs to a customer of another."""
    if principal.scope is None:
        return
    uid = uid_of_customer(env, customer_no)
    if uid is None or uid not in principal.scope:
        raise NotFoundError(f"no customer {customer_no!r}")


def scope_numbers(env: IdentityEnv, scope: FrozenBitMap) -> list[str]:
    """Every customer number whose One ID person is in `scope` (to filter operational rows, which name
    customers by number)."""
    uid_table, _ = id_tables(env=env)
    inside = pc.is_in(uid_table["uid"], pa.array(scope.to_array(), type=uid_table["uid"].type))
    return [str(n) for n in uid_table.filter(inside)["customer_no"].to_pylist()]


def visible_numbers(env: IdentityEnv, principal: Principal, numbers: list[str]) -> list[str]:
    """The customer numbers of the list the caller may see, in the list's order."""
    if principal.scope is None:
        return numbers
    uid_table, _ = id_tables(env=env)
    wanted = uid_table.filter(pc.is_in(uid_table["customer_no"], pa.array(numbers, pa.string())))
    allowed = {
        n
        for n, uid in zip(wanted["customer_no"].to_pylist(), wanted["uid"].to_pylist(), strict=True)
        if uid in principal.scope
    }
    return [n for n in numbers if n in allowed]


def show_for(
    env: IdentityEnv, *, principal: Principal, value: str, id_type: str | None = None
) -> dict[str, Any]:
    """`identity.show` as this caller may see it: a person outside their scope is unknown, and phone and
    email identifiers and personal profile values are masked without `pii:view` (in the merge log and the
    separations too, which name identifiers as `type:value`)."""
    body = show(env=env, value=value, id_type=id_type)
    if principal.scope is not None and body["uid"] not in principal.scope:
        raise NotFoundError(f"no customer is known by {value!r}")
    mask = PiiMask(principal, env.pii_attributes)
    if not mask.active:
        return body

    return {
        **body,
        "identifiers": [
            {**i, "id_value": mask.identifier(i["id_type"], i["id_value"])} for i in body["identifiers"]
        ],
        "profile": mask.record(body["profile"]),
        "log": [{**e, "ids": [mask.label(i) for i in e["ids"]]} for e in body["log"]],
        "separations": [
            {**s, "left": mask.label(s["left"]), "right": mask.label(s["right"])} for s in body["separations"]
        ],
        "shared": [mask.label(s) for s in body["shared"]],
    }
