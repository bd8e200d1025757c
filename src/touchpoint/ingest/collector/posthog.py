"""PostHog: `/batch/`, `/capture/`, `/e/`, `/i/v0/e/`, `/track/` with `api_key` (or `token`) in the body."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from touchpoint.ingest.collector.limits import DEFAULT_LIMITS, CollectorLimits
from touchpoint.ingest.collector.model import (
    Batch,
    EventProblem,
    Normalised,
    check_hint,
    event_id_for,
    payload,
    require_id,
    require_object,
    text_or_none,
)
from touchpoint.ingest.collector.payload import PayloadError
from touchpoint.ingest.collector.timing import TimeWindow, corrected, from_iso, to_millis


def decode(
    body: bytes, *, limits: CollectorLimits = DEFAULT_LIMITS, inflate_limit: int | None = None
) -> Batch:
    """A PostHog request (a batch, a list or one event) as a batch."""
    limits = limits.inflating_at_most(inflate_limit)
    document = limits.parse(body)
    if isinstance(document, list):
        document = {"batch": document}
    if not isinstance(document, dict):
        raise PayloadError("bad_json", "the body must be a JSON object or array")
    messages = document.get("batch") if "batch" in document else [document]
    if not isinstance(messages, list):
        raise PayloadError("bad_json", "`batch` must be an array")
    limits.check_batch(messages)
    key = (
        text_or_none(document.get("api_key")) or text_or_none(document.get("token")) or _first_token(messages)
    )
    sent_raw = document.get("sent_at")
    try:
        sent_at = from_iso(sent_raw, "sent_at") if sent_raw else None
    except EventProblem:
        sent_at = None
    historical = bool(document.get("historical_migration"))
    return Batch(
        source="posthog",
        project=str(key or "default"),
        messages=messages,
        sent_at=sent_at,
        historical=historical,
        key=key,
    )


def _first_token(messages: list[Any]) -> str | None:
    for message in messages:
        if isinstance(message, dict):
            properties = message.get("properties")
            token = text_or_none(message.get("api_key")) or (
                text_or_none(properties.get("token")) if isinstance(properties, dict) else None
            )
            if token:
                return token
    return None


def normalise(message: Any, batch: Batch, received: datetime, window: TimeWindow) -> Normalised:
    """Check one PostHog event and put it in Touchpoint's shape."""
    if not isinstance(message, dict):
        raise EventProblem("bad_json", "each event must be a JSON object")
    name = message.get("event")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise EventProblem("bad_name", f"event name {name!r} must be a non-empty string")
    properties = dict(require_object(message.get("properties"), "properties"))
    distinct_id = require_id(message.get("distinct_id") or properties.get("distinct_id"), "distinct_id")
    client_time = from_iso(message["timestamp"]) if message.get("timestamp") else received
    event_time = corrected(client_time, batch.sent_at, received)
    window.check(event_time, received, historical=batch.historical)
    key = f"ph|{batch.key}|{message['uuid']}" if message.get("uuid") else None
    return Normalised(
        dedupe_key=key,
        payload=payload(
            event_id=event_id_for(key),
            source="posthog",
            project=batch.project,
            kind=_kind(name),
            event=None if name in ("$set", "$create_alias", "$groupidentify") else name,
            time=to_millis(event_time),
            client_time=to_millis(client_time),
            received_at=to_millis(received),
            distinct_id=distinct_id,
            properties=properties,
            ids=_identity_hints(name, properties, distinct_id),
            profile=_profile(message, properties),
        ),
    )


def _kind(name: str) -> str:
    return {"$identify": "identify", "$create_alias": "alias", "$set": "profile_set"}.get(name, "track")


def _identity_hints(name: str, properties: dict[str, Any], distinct_id: str | None) -> dict[str, Any]:
    if name == "$identify":
        anon = check_hint(properties.get("$anon_distinct_id"), "$anon_distinct_id")
        return {"login_id": distinct_id, "anonymous_id": anon, "is_login": True}
    if name == "$create_alias":
        return {
            "login_id": check_hint(properties.get("alias"), "alias"),
            "anonymous_id": distinct_id,
            "is_login": False,
        }
    return {"is_login": False}


def _profile(message: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any] | None:
    sets = message.get("$set") or properties.get("$set")
    once = message.get("$set_once") or properties.get("$set_once")
    if not sets and not once:
        return None
    return {
        "op": "profile_set",
        "values": sets if isinstance(sets, dict) else {},
        "once": once if isinstance(once, dict) else {},
    }
