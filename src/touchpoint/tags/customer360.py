"""The 360° view of one customer: attributes, identities, tags, indicators, assets, holdings, activity."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.governance import Principal
from touchpoint.governance.audit import record
from touchpoint.governance.masking import PiiMask
from touchpoint.identity.scopes import ensure_visible, visible_numbers
from touchpoint.identity.service import show as identity_show
from touchpoint.indicators.compile import resolve_customers
from touchpoint.indicators.service import event_id_map
from touchpoint.tags.service import TagEnv, list_tags

RECENT = 20
SEARCH_LIMIT = 50
MASKED_PHONE = re.compile(r"(\d{3})\*{1,8}(\d{4})")
PHONE_TAIL = re.compile(r"\d{4}")


MASK = "***"


def customer_view(*, env: TagEnv, principal: Principal, customer_no: str) -> dict[str, Any]:
    """Everything known about one customer, newest first where it is a history.

    Sensitive tags show as `***` unless the caller holds `tag:sensitive`; personal data is masked without
    `pii:view`; every view is in the audit log.
    """
    ensure_visible(env, principal, customer_no)
    analytics = env.analytics
    customers = analytics.table("customers")
    latest = customers.filter(customers.customer_no == customer_no).order_by(customers.dt.desc()).limit(1)
    rows = latest.to_pyarrow().to_pylist()
    if not rows:
        raise NotFoundError(f"no customer {customer_no!r}")
    try:
        identity = identity_show(env=env, value=customer_no, id_type="customer_no")
    except NotFoundError:
        identity = {"uid": None, "identifiers": [], "profile": {}, "log": []}
    pii = PiiMask(principal, env.pii_attributes)
    record(
        env.ops,
        clock=env.clock,
        principal=principal,
        action="customer.view",
        target_type="customer",
        target_id=customer_no,
    )
    return {
        "customer_no": customer_no,
        "uid": identity["uid"],
        "attributes": pii.record(_jsonable(rows[0])),
        "identities": [
            {**i, "id_value": pii.identifier(i["id_type"], i["id_value"])} for i in identity["identifiers"]
        ],
        "sdk_profile": pii.record(identity["profile"]),
        "tags": _latest_row(env, "tag_values", customer_no, masked=_masked_tags(env, principal)),
        "indicators": _latest_row(env, "indicator_values", customer_no, masked=set()),
        "assets": _history(env, "assets", customer_no, "date", 30),
        "holdings": _latest_rows(env, "holdings", customer_no),
        "trades": _history(env, "trades", customer_no, "time", RECENT),
        "events": _events(env, customer_no, RECENT),
    }


def search_customers(
    *, env: TagEnv, principal: Principal, text: str, limit: int = 20
) -> list[dict[str, Any]]:
    """Customers of the newest snapshot found by customer number (prefix), phone (its last 4 digits, or masked
    as `138****5678`; a full number only for a holder of `pii:view`) or name (any part), within the caller's
    scope, masked as the caller may see them, in customer-number order."""
    query = text.strip()
    if not query:
        raise ValidationError("q: give a customer number, a phone's last 4 digits (or 138****5678) or a name")
    partitions = env.analytics.partitions("customers")
    if not partitions:
        return []
    table = env.analytics.read_partition("customers", partitions[-1].dt)
    assert table is not None
    found = table.filter(_matching(table, query, env.pii_attributes, principal.can("pii:view")))
    numbers = sorted(str(n) for n in found["customer_no"].to_pylist())
    wanted = visible_numbers(env, principal, numbers)[: min(limit, SEARCH_LIMIT)]
    # Only the page shown becomes Python rows: a one-letter query can match every customer.
    page = found.filter(pc.is_in(pc.cast(found["customer_no"], pa.string()), pa.array(wanted, pa.string())))
    rows = {str(r["customer_no"]): r for r in page.to_pylist()}
    pii = PiiMask(principal, env.pii_attributes)
    return [_hit(pii.record(_jsonable(rows[n])), env.pii_attributes) for n in wanted]


def _matching(table: pa.Table, query: str, pii: Mapping[str, str], full_phone: bool) -> pa.ChunkedArray:
    """Which rows the query names: by number prefix, by a phone column, or by a name column."""
    number = pc.utf8_upper(pc.cast(table["customer_no"], pa.string()))
    hits = pc.starts_with(number, query.upper())
    for column, kind in pii.items():
        if column not in table.column_names:
            continue
        values = pc.cast(table[column], pa.string())
        found = None
        if kind == "phone":
            found = _phone_hits(values, query, full_phone)
        elif kind == "name":
            found = pc.match_substring(values, query, ignore_case=True)
        if found is not None:
            hits = pc.or_kleene(hits, pc.fill_null(found, False))
    return pc.fill_null(hits, False)


def _phone_hits(values: pa.ChunkedArray, query: str, full_phone: bool) -> pa.ChunkedArray | None:
    masked = MASKED_PHONE.fullmatch(query)
    if masked:
        return pc.and_(pc.starts_with(values, masked[1]), pc.ends_with(values, masked[2]))
    if PHONE_TAIL.fullmatch(query):
        return pc.ends_with(values, query)
    if full_phone and query.isdigit():
        return pc.equal(values, query)
    return None


def _hit(row: dict[str, Any], pii: Mapping[str, str]) -> dict[str, Any]:
    name = next((row.get(c) for c, kind in pii.items() if kind == "name" and c in row), None)
    phone = next((row.get(c) for c, kind in pii.items() if kind == "phone" and c in row), None)
    return {
        "customer_no": str(row["customer_no"]),
        "name": name,
        "phone": phone,
        "branch_id": row.get("branch_id"),
        "advisor_id": row.get("advisor_id"),
        "risk_level": row.get("risk_level"),
        "open_date": row.get("open_date"),
    }


def _events(env: TagEnv, customer_no: str, limit: int) -> list[dict[str, Any]]:
    """The person's newest events through One ID: SDK events under any of their device or login ids, not
    only those that name the customer number."""
    analytics = env.analytics
    if not analytics.partitions("events"):
        return []
    id_map = event_id_map(env)
    theirs = id_map.filter(pc.equal(id_map["customer_no"], customer_no))
    # Joined, not listed in the query: a customer may have thousands of cookies under many-to-one.
    resolved = resolve_customers(analytics.table("events"), ibis.memtable(theirs))
    mine = resolved.filter(resolved.customer_no == customer_no).drop("person_uid")
    rows = mine.order_by(mine.time.desc()).limit(limit).to_pyarrow()
    return [_jsonable(r) for r in rows.to_pylist()]


def _masked_tags(env: TagEnv, principal: Principal) -> set[str]:
    if principal.can("tag:sensitive"):
        return set()
    return {name for name, tag in list_tags(env=env).items() if tag.sensitive}


def _latest_row(env: TagEnv, table_name: str, customer_no: str, masked: set[str]) -> dict[str, Any]:
    analytics = env.analytics
    partitions = analytics.partitions(table_name)
    if not partitions:
        return {}
    table = analytics.read_partition(table_name, partitions[-1].dt)
    assert table is not None
    found = table.filter(pc.equal(table["customer_no"], customer_no)).to_pylist()
    if not found:
        return {}
    values = {
        k: (MASK if k in masked and v is not None else v)
        for k, v in found[0].items()
        if k not in ("uid", "customer_no")
    }
    return {
        "business_date": partitions[-1].dt.isoformat(),
        "values": _jsonable(values),
        "masked": sorted(masked & set(values)),
    }


def _latest_rows(env: TagEnv, table_name: str, customer_no: str) -> list[dict[str, Any]]:
    analytics = env.analytics
    partitions = analytics.partitions(table_name)
    if not partitions:
        return []
    table = analytics.table(table_name)
    rows = table.filter((table.customer_no == customer_no) & (table.dt == partitions[-1].dt)).to_pyarrow()
    return [_jsonable(r) for r in rows.to_pylist()]


def _history(env: TagEnv, table_name: str, customer_no: str, order: str, limit: int) -> list[dict[str, Any]]:
    analytics = env.analytics
    if not analytics.partitions(table_name):
        return []
    table = analytics.table(table_name)
    rows = (
        table.filter(table.customer_no == customer_no).order_by(table[order].desc()).limit(limit).to_pyarrow()
    )
    return [_jsonable(r) for r in rows.to_pylist()]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
