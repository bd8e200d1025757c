"""A decoded batch, the normalised event every consumer reads, and the problems that quarantine one."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["sensors", "segment", "posthog", "native"]
SENSORS_NAME = re.compile(r"^[a-zA-Z_$][a-zA-Z0-9_$]{0,99}$")
SENSORS_RESERVED = frozenset(
    {
        "distinct_id",
        "original_id",
        "time",
        "properties",
        "id",
        "first_id",
        "second_id",
        "users",
        "events",
        "event",
        "event_id",
        "device_id",
        "user_id",
        "date",
        "datetime",
    }
)
MAX_ID_LENGTH = 255
MAX_WHY = 500
# C0 controls (NUL, newline, escape…), DEL and C1: never part of an identifier, and they poison downstream.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class EventProblem(Exception):
    """One message inside a batch that cannot be stored as an event; it goes to the quarantine."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class Batch:
    """What one request carried, before each message is checked."""

    source: Source
    project: str
    messages: list[Any]
    sent_at: datetime | None = None
    historical: bool = False
    dry_run: bool = False
    key: str | None = None


@dataclass
class Normalised:
    """One accepted message in Touchpoint's own shape; `dedupe_key` as its SDK intends."""

    payload: dict[str, Any]
    dedupe_key: str | None


@dataclass
class Quarantined:
    """One message that failed its checks, with the reason."""

    reason: str
    detail: str
    message: Any


@dataclass
class Checked:
    """A batch split into what goes to the log and what goes to the quarantine."""

    accepted: list[Normalised] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)


class QuarantineEntry(BaseModel):
    """One quarantined message as an operator sees it."""

    id: int
    received_at: datetime
    source: str
    reason: str
    detail: str
    payload: Any = Field(description="the message as received, or the text of a refused request")
    context: dict[str, Any] = Field(description="what its request said: project, key, sent_at, historical")
    replayable: bool = Field(description="false for a refused request: it holds no single message")


class QuarantinePage(BaseModel):
    """Quarantined messages, newest first, and how many match in all."""

    total: int
    items: list[QuarantineEntry]


ReplayOutcomeKind = Literal["admitted", "quarantined", "not_found", "not_replayable"]


class ReplayOutcome(BaseModel):
    """What a replay did with one quarantined message.

    `admitted`: it left the quarantine and its event is in the log (once, even if it was already there);
    `quarantined`: another check still fails, `reason` and `detail` say which; `not_found`: no such message
    (never quarantined, or already replayed); `not_replayable`: a refused request, left as it is.
    """

    id: int
    outcome: ReplayOutcomeKind
    event_id: str | None = None
    reason: str | None = None
    detail: str | None = None


class ReplayReport(BaseModel):
    """The totals of one replay (`duplicates` counts admitted messages the log already held) and each
    message's outcome."""

    admitted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    not_found: int = 0
    not_replayable: int = 0
    outcomes: list[ReplayOutcome] = Field(default_factory=list)


def event_id_for(dedupe_key: str | None, fallback: str | None = None) -> str:
    """A stable event id from the dedupe key (so a resend maps to the same row), else the fallback, else a
    random one (drawn only then: a random id per event, most of them unused, showed in the profile)."""
    if dedupe_key is None:
        return uuid.uuid4().hex if fallback is None else fallback
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]


def require_id(value: Any, field_name: str, *, required: bool = True) -> str | None:
    """A present, non-empty identifier of at most 255 characters, as text."""
    if value is None or value == "":
        if required:
            raise EventProblem("missing_id", f"{field_name} is required")
        return None
    text = str(value) if isinstance(value, int | str) else None
    if text is None:
        raise EventProblem("bad_id", f"{field_name} must be a string")
    return _clean_id(text, field_name)


def _clean_id(text: str, field_name: str) -> str:
    if len(text) > MAX_ID_LENGTH:
        raise EventProblem("bad_id", f"{field_name} is longer than {MAX_ID_LENGTH} characters")
    if CONTROL_CHARACTERS.search(text):
        raise EventProblem("bad_id", f"{field_name} contains a control character")
    return text


def check_hint(value: Any, field_name: str) -> Any:
    """An identity hint as sent (any JSON value, as before), quarantined when it is text with a control
    character or longer than 255 characters."""
    if isinstance(value, str):
        _clean_id(value, field_name)
    return value


def check_hints(values: Any, field_name: str) -> Any:
    """A map of identity hints (Sensors `identities`) whose keys and text values are each `check_hint`ed."""
    if isinstance(values, dict):
        for key, value in values.items():
            check_hint(key, field_name)
            check_hint(value, f"{field_name}.{key}")
    return values


def text_or_none(value: Any) -> str | None:
    """A key or token as text; anything else (a number, an object) reads as absent."""
    return value if isinstance(value, str) and value else None


def require_object(value: Any, field_name: str) -> dict[str, Any]:
    """A JSON object (None reads as empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventProblem("bad_properties", f"{field_name} must be a JSON object")
    return value


def payload(
    *,
    event_id: str,
    source: Source,
    project: str,
    kind: str,
    event: str | None,
    time: int,
    client_time: int,
    received_at: int,
    distinct_id: str | None,
    properties: dict[str, Any],
    ids: dict[str, Any] | None = None,
    profile: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The normalised event every consumer reads (times in epoch ms).

    `kind` is the SDK's message type (track, track_signup, profile_set, identify, alias, …); `ids` holds the
    identity hints (login_id, anonymous_id, original_id, customer_no, identities, is_login); `profile`
    holds profile operations ({"op": ..., "values": {...}}).
    """
    return {
        "event_id": event_id,
        "source": source,
        "project": project,
        "kind": kind,
        "event": event,
        "time": time,
        "client_time": client_time,
        "received_at": received_at,
        "distinct_id": distinct_id,
        "properties": properties,
        "ids": ids or {},
        "profile": profile,
    }


class CollectResultRead(BaseModel):
    """What one batch came to: events taken into the log, resends dropped, messages quarantined by reason."""

    accepted: int = Field(description="events appended to the event log")
    duplicates: int = Field(description="resent events the log already held (dropped)")
    quarantined: int = Field(description="messages kept in the quarantine")
    reasons: dict[str, int] = Field(description="quarantined messages by reason, e.g. bad_time, bad_id")


class SegmentAck(BaseModel):
    """Segment's success answer."""

    success: bool = True


class PostHogAck(BaseModel):
    """PostHog's success answer (its SDKs check for exactly 200)."""

    status: int = 1


class FlagsRead(BaseModel):
    """No feature flags: the answer that keeps posthog-js quiet."""

    featureFlags: dict[str, Any] = Field(default_factory=dict)
    flags: dict[str, Any] = Field(default_factory=dict)
    errorsWhileComputingFlags: bool = False


class ConsumerLagRead(BaseModel):
    """How far one consumer of the event log is behind."""

    committed: int = Field(description="the last offset it processed")
    records: int = Field(description="events it has not processed")
    seconds: float = Field(description="age of the oldest event it has not processed")


class CollectorStatsRead(BaseModel):
    """The collector's counters (since the store was created) and each consumer's lag."""

    accepted: dict[str, int] = Field(description="events accepted, by source")
    duplicates: dict[str, int] = Field(description="resent events dropped, by source")
    batches: dict[str, int] = Field(description="requests that carried events, by source")
    rejected_batches: dict[str, int] = Field(
        description="requests refused whole (400/401/413/415), by reason"
    )
    quarantined: dict[str, int] = Field(description="messages in the quarantine now, by reason")
    replayed: dict[str, int] = Field(description="quarantined messages an operator let in, by reason")
    log_head: int = Field(description="offset of the newest event")
    consumers: dict[str, ConsumerLagRead]
    dead_letters: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="records a consumer could not process: consumer → status → count"
    )


class ReplayRequest(BaseModel):
    """Messages to check again with the age limit lifted: by id, or every message of one reason."""

    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(default_factory=list, max_length=10_000, description="quarantine ids")
    reason: str | None = Field(default=None, min_length=1, max_length=64, description="e.g. too_old")
    why: str = Field(min_length=1, max_length=MAX_WHY, description="kept in the audit log")


# ---- dead letters (records a consumer of the event log could not process) -------------------------------

DeadLetterStatus = Literal["open", "retrying", "resolved"]


class DeadLetterRead(BaseModel):
    """One event-log record a consumer could not process: kept, and moved past."""

    id: int
    consumer: str = Field(description="the consumer that could not process it: identity, compactor…")
    offset: int = Field(description="its offset in the event log")
    event_id: str | None
    received_at: datetime | None = Field(description="when the collector received the event")
    record: Any = Field(description="the normalised event as the log holds it")
    error: str = Field(description="why it could not be processed (the latest attempt)")
    status: DeadLetterStatus = Field(description="open; retrying (at the consumer's next pass); resolved")
    attempts: int
    created_at: datetime
    retried_at: datetime | None
    resolved_at: datetime | None


class DeadLetterPage(BaseModel):
    """Dead letters, newest first, with the count of each consumer's by status."""

    unresolved: int = Field(description="letters open or waiting for their retry")
    counts: dict[str, dict[str, int]] = Field(description="consumer → status → letters")
    items: list[DeadLetterRead]
