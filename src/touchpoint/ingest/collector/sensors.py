"""Sensors Analytics (神策): `/sa`, `/sa.gif`, `/debug` — form fields, base64, optional gzip, crc."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from touchpoint.ingest.collector.limits import DEFAULT_LIMITS, CollectorLimits
from touchpoint.ingest.collector.model import (
    SENSORS_NAME,
    SENSORS_RESERVED,
    Batch,
    EventProblem,
    Normalised,
    check_hint,
    check_hints,
    event_id_for,
    payload,
    require_id,
    require_object,
)
from touchpoint.ingest.collector.payload import PayloadError, decode_base64, java_string_hash
from touchpoint.ingest.collector.timing import TimeWindow, corrected, from_millis, to_millis

TRACK_KINDS = {"track", "track_signup", "track_id_bind", "track_id_unbind"}
PROFILE_KINDS = {
    "profile_set",
    "profile_set_once",
    "profile_increment",
    "profile_append",
    "profile_unset",
    "profile_delete",
}
ITEM_KINDS = {"item_set", "item_delete"}
# Keys that steer the protocol rather than describe anyone: read as identity hints, never stored as values.
LOGIN_FLAG = "$is_login_id"
IDENTITY_PREFIX = "$identity_"
PROTOCOL_KEYS = frozenset({LOGIN_FLAG, "$token"})
# The SDK's description of itself: kept on an event (Sensors' preset event properties), never on a profile.
LIBRARY_PREFIX = "$lib"


def decode(
    fields: dict[str, str],
    *,
    dry_run: bool,
    limits: CollectorLimits = DEFAULT_LIMITS,
    inflate_limit: int | None = None,
) -> Batch:
    """Turn the form fields of one request into a batch of raw Sensors messages."""
    encoded = fields.get("data_list") or fields.get("data")
    if not encoded:
        raise PayloadError("no_data", "the request has neither a data nor a data_list field")
    if fields.get("gzip") == "9":
        raise PayloadError("encrypted", "encrypted payloads (gzip=9) need the decryption plugin")
    _check_crc(fields, encoded)
    body = limits.inflating_at_most(inflate_limit).parse(decode_base64(encoded))
    messages = body if isinstance(body, list) else [body]
    if not all(isinstance(m, dict) for m in messages):
        raise PayloadError("bad_json", "each event must be a JSON object")
    limits.check_batch(messages)
    project = fields.get("project") or "default"
    return Batch(source="sensors", project=project, messages=messages, dry_run=dry_run)


def _check_crc(fields: dict[str, str], encoded: str) -> None:
    crc = fields.get("crc") or _crc_from_ext(fields.get("ext", ""))
    if not crc:
        return
    try:
        expected = int(crc)
    except ValueError as exc:
        raise PayloadError("bad_crc", f"crc {crc!r} is not a number") from exc
    if java_string_hash(encoded) != expected:
        raise PayloadError("bad_crc", "crc does not match the data (truncated or altered in transit)")


def _crc_from_ext(ext: str) -> str | None:
    for part in ext.split("&"):
        name, _, value = part.partition("=")
        if name == "crc":
            return value
    return None


def normalise(message: Any, batch: Batch, received: datetime, window: TimeWindow) -> Normalised:
    """Check one Sensors message and put it in Touchpoint's shape."""
    if not isinstance(message, dict):
        raise EventProblem("bad_json", "each event must be a JSON object")
    kind = message.get("type")
    if kind not in TRACK_KINDS | PROFILE_KINDS | ITEM_KINDS:
        raise EventProblem("bad_type", f"unknown Sensors type {kind!r}")
    if kind in ITEM_KINDS:
        raise EventProblem("unsupported", "item_* messages describe catalogue items, not customers")
    properties = _properties(message)
    hints = _protocol_hints(properties)
    distinct_id = require_id(message.get("distinct_id"), "distinct_id")
    event = _event_name(message, kind)
    project = str(message.get("project") or properties.pop("$project", None) or batch.project)
    client_time = _client_time(message, properties, received)
    flush = message.get("_flush_time")
    sent = from_millis(flush, "_flush_time") if isinstance(flush, int | float) else None
    event_time = corrected(client_time, sent, received)
    window.check(event_time, received, historical=message.get("time_free") is not None)
    key = _dedupe_key(message, project, distinct_id)
    return Normalised(
        dedupe_key=key,
        payload=payload(
            event_id=event_id_for(key),
            source="sensors",
            project=project,
            kind=str(kind),
            event=event,
            time=to_millis(event_time),
            client_time=to_millis(client_time),
            received_at=to_millis(received),
            distinct_id=distinct_id,
            properties=_library(properties) if kind in PROFILE_KINDS else properties,
            ids=_identity_hints(message, hints, distinct_id),
            profile={"op": kind, "values": _customer_values(properties)} if kind in PROFILE_KINDS else None,
        ),
    )


def _properties(message: dict[str, Any]) -> dict[str, Any]:
    properties = dict(require_object(message.get("properties"), "properties"))
    for key in properties:
        if not SENSORS_NAME.match(key) or key.lower() in SENSORS_RESERVED:
            raise EventProblem("bad_name", f"property name {key!r} is not allowed")
    return properties


def _protocol_hints(properties: dict[str, Any]) -> dict[str, Any]:
    """Take the protocol keys out of `properties` (in place) and return them."""
    taken = [k for k in properties if k in PROTOCOL_KEYS or k.startswith(IDENTITY_PREFIX)]
    return {k: properties.pop(k) for k in taken}


def _library(properties: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in properties.items() if k.startswith(LIBRARY_PREFIX)}


def _customer_values(properties: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in properties.items() if not k.startswith(LIBRARY_PREFIX)}


def _event_name(message: dict[str, Any], kind: Any) -> str | None:
    if kind not in TRACK_KINDS:
        return None
    name = message.get("event")
    if not isinstance(name, str) or not SENSORS_NAME.match(name):
        raise EventProblem("bad_name", f"event name {name!r} must match [a-zA-Z_$][a-zA-Z0-9_$]{{0,99}}")
    return name


def _client_time(message: dict[str, Any], properties: dict[str, Any], received: datetime) -> datetime:
    raw = properties.pop("$time", None) or message.get("time")
    return received if raw is None else from_millis(raw)


def _dedupe_key(message: dict[str, Any], project: str, distinct_id: str | None) -> str | None:
    track_id = message.get("_track_id")
    if track_id is None:
        return None
    return f"sa|{project}|{track_id}|{distinct_id}|{message.get('time')}"


def _identity_hints(
    message: dict[str, Any], hints: dict[str, Any], distinct_id: str | None
) -> dict[str, Any]:
    login_id = check_hint(message.get("login_id"), "login_id")
    # Only a JSON `true` marks a login, as the SDKs send it: a string such as "false" must not.
    is_login = hints.get(LOGIN_FLAG) is True or message.get("type") == "track_signup"
    is_login = is_login or (login_id is not None and login_id == distinct_id)
    given = check_hints(message.get("identities"), "identities")
    named = check_hints({k: v for k, v in hints.items() if k.startswith(IDENTITY_PREFIX)}, "properties")
    return {
        "login_id": login_id,
        "anonymous_id": check_hint(message.get("anonymous_id"), "anonymous_id"),
        "original_id": check_hint(message.get("original_id"), "original_id"),
        "is_login": is_login,
        # The top-level map is the protocol's place for identities; it wins over a property of the same key.
        "identities": {**named, **given} if isinstance(given, dict) else named,
    }
