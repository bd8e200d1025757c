"""What events say about identity (pure): the identifiers one names and the links it asserts, and the
(anonymous id, login) pairs a partition of imported history holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from touchpoint.identity.model import ANONYMOUS, SENSORS_IDENTITY_TYPES, Identifier

LOGIN_TYPE = "customer_no"


@dataclass
class Observation:
    """The identity content of one event."""

    subject: Identifier | None = None
    subject_is_loose: bool = False
    pairs: list[tuple[Identifier, Identifier]] = field(default_factory=list)
    group: list[Identifier] = field(default_factory=list)
    unbind: list[Identifier] = field(default_factory=list)


def observe(payload: dict[str, Any]) -> Observation:
    """Read the identity hints of a normalised event (see ingest.collector.model.payload)."""
    ids = payload.get("ids") or {}
    distinct = _text(payload.get("distinct_id"))
    login = _text(ids.get("customer_no")) or _text(ids.get("login_id"))
    anonymous = _text(ids.get("anonymous_id")) or _text(ids.get("original_id"))
    if login is None and ids.get("is_login"):
        login = distinct
    obs = Observation()
    if distinct is not None:
        if ids.get("is_login") or distinct == login:
            obs.subject = Identifier(LOGIN_TYPE, distinct)
        else:
            obs.subject, obs.subject_is_loose = Identifier(ANONYMOUS, distinct), True
    if login is not None and anonymous is not None and login != anonymous:
        obs.pairs.append((Identifier(ANONYMOUS, anonymous), Identifier(LOGIN_TYPE, login)))
    found = [_identity(k, v) for k, v in (ids.get("identities") or {}).items()]
    identities = [i for i in found if i is not None]
    if payload.get("kind") == "track_id_unbind":
        obs.unbind = identities
    elif len(identities) >= 2 or payload.get("kind") == "track_id_bind":
        obs.group = identities
    return obs


def _identity(key: str, value: Any) -> Identifier | None:
    text = _text(value)
    if text is None:
        return None
    return Identifier(SENSORS_IDENTITY_TYPES.get(key, key.removeprefix("$identity_")), text)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value)
    return text or None


def imported_pairs(table: pa.Table | None) -> list[tuple[str, str]]:
    """The distinct (anonymous id, login) pairs of imported events, sorted; the login is the login id, else
    the customer number. Computed in Arrow: a day of history holds hundreds of thousands of events."""
    if table is None or table.num_rows == 0:
        return []
    anonymous = table["anonymous_id"]
    login = pc.if_else(_present(table["login_id"]), table["login_id"], table["customer_no"])
    imported = pc.fill_null(pc.equal(table["source"], "import"), False)
    keep = pc.and_(imported, pc.and_(_present(anonymous), _present(login)))
    pairs = pa.table({"anonymous": anonymous, "login": login}).filter(keep)
    distinct = pairs.group_by(["anonymous", "login"]).aggregate([])
    return sorted(zip(distinct["anonymous"].to_pylist(), distinct["login"].to_pylist(), strict=True))


def _present(column: Any) -> Any:
    """Neither null nor empty (a value Python would call true)."""
    return pc.fill_null(pc.not_equal(column, ""), False)
