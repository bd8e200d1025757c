"""Segment: `/v1/batch` and the single-call routes, write key from Basic auth or the body."""

from __future__ import annotations

import base64
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

SINGLE_ROUTES = {
    "t": "track",
    "track": "track",
    "i": "identify",
    "identify": "identify",
    "p": "page",
    "page": "page",
    "s": "screen",
    "screen": "screen",
    "g": "group",
    "group": "group",
    "a": "alias",
    "alias": "alias",
}
KINDS = set(SINGLE_ROUTES.values())


def decode(
    body: bytes,
    authorization: str | None,
    route: str,
    *,
    limits: CollectorLimits = DEFAULT_LIMITS,
    inflate_limit: int | None = None,
) -> Batch:
    """A Segment request as a batch; `route` is `batch` or a single-call name such as `track` or `t`."""
    limits = limits.inflating_at_most(inflate_limit)
    document = limits.parse(body)
    if not isinstance(document, dict):
        raise PayloadError("bad_json", "the body must be a JSON object")
    if route == "batch":
        messages = document.get("batch")
        if not isinstance(messages, list):
            raise PayloadError("bad_json", "a batch body needs a `batch` array")
    else:
        messages = [{"type": SINGLE_ROUTES[route], **document}]
    limits.check_batch(messages)
    key = _basic_user(authorization) or text_or_none(document.get("writeKey"))
    sent_at = _sent_at(document.get("sentAt"))
    return Batch(source="segment", project=str(key or "default"), messages=messages, sent_at=sent_at, key=key)


def _basic_user(authorization: str | None) -> str | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0] or None


def _sent_at(value: Any) -> datetime | None:
    try:
        return from_iso(value, "sentAt") if value else None
    except EventProblem:
        return None


def normalise(message: Any, batch: Batch, received: datetime, window: TimeWindow) -> Normalised:
    """Check one Segment message and put it in Touchpoint's shape."""
    if not isinstance(message, dict):
        raise EventProblem("bad_json", "each message must be a JSON object")
    kind = message.get("type")
    if kind not in KINDS:
        raise EventProblem("bad_type", f"unknown Segment type {kind!r}")
    user_id = require_id(message.get("userId"), "userId", required=False)
    anonymous_id = require_id(message.get("anonymousId"), "anonymousId", required=False)
    if user_id is None and anonymous_id is None:
        raise EventProblem("missing_id", "userId or anonymousId is required")
    client_time = from_iso(message["timestamp"]) if message.get("timestamp") else received
    event_time = corrected(client_time, batch.sent_at, received)
    window.check(event_time, received, historical=False)
    message_id = message.get("messageId")
    key = f"seg|{batch.key}|{message_id}" if message_id else None
    traits = require_object(message.get("traits"), "traits")
    return Normalised(
        dedupe_key=key,
        payload=payload(
            event_id=event_id_for(key),
            source="segment",
            project=batch.project,
            kind=str(kind),
            event=_event_name(message, kind),
            time=to_millis(event_time),
            client_time=to_millis(client_time),
            received_at=to_millis(received),
            distinct_id=user_id or anonymous_id,
            properties=_properties(message, kind),
            ids={
                "login_id": user_id,
                "anonymous_id": anonymous_id,
                "original_id": check_hint(message.get("previousId"), "previousId")
                if kind == "alias"
                else None,
                "is_login": user_id is not None,
            },
            profile={"op": "profile_set", "values": traits} if kind == "identify" and traits else None,
        ),
    )


def _event_name(message: dict[str, Any], kind: str) -> str | None:
    if kind == "track":
        name = message.get("event")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise EventProblem("bad_name", f"event name {name!r} must be a non-empty string")
        return name
    return {"page": "$pageview", "screen": "$screen"}.get(kind)


def _properties(message: dict[str, Any], kind: str) -> dict[str, Any]:
    properties = dict(require_object(message.get("properties"), "properties"))
    for field in ("name", "category"):
        if kind in ("page", "screen") and message.get(field) is not None:
            properties.setdefault(field, message[field])
    return properties
