"""Collecting a decoded batch: check each message, append the good ones durably, quarantine the rest."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from touchpoint.core.clock import Clock
from touchpoint.core.errors import TouchpointError
from touchpoint.ingest.collector import native, posthog, repo, segment, sensors
from touchpoint.ingest.collector.limits import DEFAULT_LIMITS, CollectorLimits
from touchpoint.ingest.collector.model import Batch, Checked, EventProblem, Normalised, Quarantined, Source
from touchpoint.ingest.collector.timing import TimeWindow
from touchpoint.ingest.ports import AppendResult, EventLog, LogEntry, LogGroup
from touchpoint.store import OperationalStore

# How much of a refused request is kept: enough to see what was sent, never the whole of a large body.
REFUSED_SAMPLE_BYTES = 64 << 10
Normaliser = Callable[[Any, Batch, datetime, TimeWindow], Normalised]
NORMALISERS: dict[str, Normaliser] = {
    "sensors": sensors.normalise,
    "segment": segment.normalise,
    "posthog": posthog.normalise,
    "native": native.normalise,
}


class CollectorUnavailable(TouchpointError):
    """The event log cannot take the batch right now; the SDK should retry (HTTP 503)."""

    code = "unavailable"


class CollectorEnv(Protocol):
    """What the collector writes to, and its limits (the composition root's container provides it)."""

    log: EventLog
    ops: OperationalStore
    clock: Clock
    collector_window: TimeWindow
    collector_limits: CollectorLimits


@dataclass(frozen=True)
class CollectResult:
    """What happened to one batch."""

    accepted: int
    duplicates: int
    quarantined: int
    reasons: dict[str, int]


def check_batch(
    batch: Batch, received: datetime, window: TimeWindow, limits: CollectorLimits = DEFAULT_LIMITS
) -> Checked:
    """Split a batch into normalised events and quarantined messages (pure)."""
    checked = Checked()
    for message in batch.messages:
        try:
            checked.accepted.append(check_message(message, batch, received, window, limits))
        except EventProblem as problem:
            checked.quarantined.append(Quarantined(problem.reason, problem.detail, message))
    return checked


def check_message(
    message: Any, batch: Batch, received: datetime, window: TimeWindow, limits: CollectorLimits
) -> Normalised:
    """One message within the per-event limits, normalised by its SDK's rules; EventProblem otherwise."""
    limits.check_event(message)
    return NORMALISERS[batch.source](message, batch, received, window)


@dataclass(frozen=True)
class Prepared:
    """One request checked and ready to store: its entries for the log, its quarantined messages."""

    batch: Batch
    received: datetime
    checked: Checked
    entries: list[LogEntry]

    @property
    def reasons(self) -> dict[str, int]:
        """Quarantined messages by reason."""
        return dict(Counter(q.reason for q in self.checked.quarantined))

    def dry_result(self) -> CollectResult:
        """What storing it would report, for a dry run that stores nothing."""
        return CollectResult(len(self.entries), 0, len(self.checked.quarantined), self.reasons)


def prepare(*, env: CollectorEnv, batch: Batch) -> Prepared:
    """Check a batch against the limits and its SDK's rules (CPU only, nothing stored)."""
    received = env.clock.now()
    checked = check_batch(batch, received, env.collector_window, env.collector_limits)
    entries = [LogEntry(n.dedupe_key, n.payload["event_id"], n.payload) for n in checked.accepted]
    return Prepared(batch, received, checked, entries)


def collect(*, env: CollectorEnv, batch: Batch) -> CollectResult:
    """Check and store one batch; returns only once accepted events and quarantined ones are durable."""
    prepared = prepare(env=env, batch=batch)
    if batch.dry_run:
        return prepared.dry_result()
    return store(env=env, prepared=[prepared])[0]


def store(*, env: CollectorEnv, prepared: Sequence[Prepared]) -> list[CollectResult]:
    """Store checked requests together: their events, quarantined messages and counters in one durable write
    (one transaction on the SQL log), a result per request. Raises CollectorUnavailable when the log or the
    store fails: on the SQL log nothing of any of them was stored then; on NATS the events may have been
    published before the counters failed (a retry is then a duplicate, dropped by its key)."""
    groups = [LogGroup(p.entries, p.received) for p in prepared]

    def bookkeeping(connection: Connection, appended: Sequence[AppendResult]) -> None:
        counters: Counter[str] = Counter()
        for request, result in zip(prepared, appended, strict=True):
            batch = request.batch
            repo.quarantine(
                connection, batch.source, request.checked.quarantined, request.received, batch_context(batch)
            )
            counters.update(
                _counters(
                    batch.source, len(request.entries) - result.duplicates, result.duplicates, request.reasons
                )
            )
        repo.bump(connection, dict(counters))

    try:
        appended = env.log.append_groups(groups, bookkeeping=bookkeeping)
    except DBAPIError as exc:
        raise CollectorUnavailable(
            f"the event log is unavailable, retry later ({exc.__class__.__name__})"
        ) from exc
    return [
        CollectResult(
            len(request.entries) - result.duplicates,
            result.duplicates,
            len(request.checked.quarantined),
            request.reasons,
        )
        for request, result in zip(prepared, appended, strict=True)
    ]


def batch_context(batch: Batch) -> dict[str, Any]:
    """What a request said that its messages need to be checked again alone (kept with quarantined ones)."""
    return {
        "project": batch.project,
        "key": batch.key,
        "sent_at": batch.sent_at.isoformat() if batch.sent_at else None,
        "historical": batch.historical,
    }


def batch_of_one(source: str, message: Any, context: dict[str, Any]) -> Batch:
    """A batch holding one message and what its request said (the inverse of `batch_context`)."""
    sent_at = context.get("sent_at")
    return Batch(
        source=cast(Source, source),
        project=str(context.get("project") or "default"),
        messages=[message],
        sent_at=datetime.fromisoformat(sent_at) if isinstance(sent_at, str) else None,
        historical=bool(context.get("historical")),
        key=context.get("key"),
    )


def record_rejected_batch(*, env: CollectorEnv, source: str, reason: str, detail: str, raw: bytes) -> None:
    """Count a request refused whole by its reason and keep its first 64 KB in the quarantine, so nothing
    vanishes unseen. Best effort: when the store is down the refusal is still answered, uncounted."""
    text = raw[:REFUSED_SAMPLE_BYTES].decode("utf-8", errors="replace")
    try:
        with env.ops.begin() as connection:
            repo.quarantine_request(connection, source, reason, detail, text, env.clock.now())
            repo.bump(connection, {f"rejected_batches|{reason}": 1})
    except DBAPIError:
        return


def _counters(source: str, accepted: int, duplicates: int, reasons: dict[str, int]) -> dict[str, int]:
    counters = {f"accepted|{source}": accepted, f"duplicates|{source}": duplicates, f"batches|{source}": 1}
    counters.update({f"quarantined|{reason}": n for reason, n in reasons.items()})
    return {k: v for k, v in counters.items() if v}


def replay_sensors_log(
    *, env: CollectorEnv, lines: Iterable[bytes], project: str, historical: bool, batch_size: int = 500
) -> CollectResult:
    """Feed files written by the Sensors LoggingConsumer through the collector, a batch at a time.

    Lines that are not JSON objects are quarantined like any bad message; `historical` lifts the age limit.
    """
    totals = CollectResult(0, 0, 0, {})
    messages: list[Any] = []
    for line in lines:
        if line.strip():
            messages.append(_json_or_text(line, historical))
        if len(messages) >= batch_size:
            totals = _add(
                totals, collect(env=env, batch=Batch(source="sensors", project=project, messages=messages))
            )
            messages = []
    if messages:
        totals = _add(
            totals, collect(env=env, batch=Batch(source="sensors", project=project, messages=messages))
        )
    return totals


def _json_or_text(line: bytes, historical: bool) -> Any:
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line.decode("utf-8", errors="replace")
    if historical and isinstance(message, dict):
        message.setdefault("time_free", True)
    return message


def _add(a: CollectResult, b: CollectResult) -> CollectResult:
    reasons = Counter(a.reasons)
    reasons.update(b.reasons)
    return CollectResult(
        a.accepted + b.accepted, a.duplicates + b.duplicates, a.quarantined + b.quarantined, dict(reasons)
    )
