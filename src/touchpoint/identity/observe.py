"""What an event says about identity (pure): the identifiers it names and the links it asserts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
