"""Touchpoint's own batch API (`POST /api/v1/events`) for the brokerage's back-end systems."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from touchpoint.ingest.collector.limits import DEFAULT_LIMITS, CollectorLimits
from touchpoint.ingest.collector.model import (
    SENSORS_NAME,
    Batch,
    EventProblem,
    Normalised,
    check_hint,
    event_id_for,
    payload,
    require_id,
    require_object,
)
from touchpoint.ingest.collector.payload import PayloadError
from touchpoint.ingest.collector.timing import TimeWindow, any_time, to_millis


def decode(
    body: bytes,
    *,
    limits: CollectorLimits = DEFAULT_LIMITS,
    inflate_limit: int | None = None,
    project: str = "default",
) -> Batch:
    """`{"events": [...]}` or a bare array of events."""
    limits = limits.inflating_at_most(inflate_limit)
    document = limits.parse(body)
    messages = document.get("events") if isinstance(document, dict) else document
    if not isinstance(messages, list):
        raise PayloadError("bad_json", 'the body must be {"events": [...]} or an array of events')
    limits.check_batch(messages)
    return Batch(source="native", project=project, messages=messages)


def normalise(message: Any, batch: Batch, received: datetime, window: TimeWindow) -> Normalised:
    """Check one native event: event, customer_no or distinct_id, time (ISO 8601 with offset or epoch ms)."""
    if not isinstance(message, dict):
        raise EventProblem("bad_json", "each event must be a JSON object")
    name = message.get("event")
    if not isinstance(name, str) or not SENSORS_NAME.match(name):
        raise EventProblem("bad_name", f"event name {name!r} must match [a-zA-Z_$][a-zA-Z0-9_$]{{0,99}}")
    customer_no = require_id(message.get("customer_no"), "customer_no", required=False)
    distinct_id = require_id(message.get("distinct_id"), "distinct_id", required=False) or customer_no
    if distinct_id is None:
        raise EventProblem("missing_id", "customer_no or distinct_id is required")
    if message.get("time") is None:
        raise EventProblem("bad_time", "time is required")
    event_time = any_time(message.get("time"))
    window.check(event_time, received, historical=bool(message.get("historical")))
    given_id = require_id(message.get("event_id"), "event_id", required=False)
    key = f"native|{given_id}" if given_id else None
    return Normalised(
        dedupe_key=key,
        payload=payload(
            event_id=event_id_for(key),
            source="native",
            project=batch.project,
            kind="track",
            event=name,
            time=to_millis(event_time),
            client_time=to_millis(event_time),
            received_at=to_millis(received),
            distinct_id=distinct_id,
            properties=dict(require_object(message.get("properties"), "properties")),
            ids={
                "customer_no": customer_no,
                "login_id": check_hint(message.get("login_id"), "login_id"),
                "anonymous_id": check_hint(message.get("anonymous_id"), "anonymous_id"),
                "is_login": customer_no is not None and customer_no == distinct_id,
            },
        ),
    )
