"""The quarantine as an operator sees it: list what is there, and replay messages with an override.

A replay checks each message again exactly as on arrival (its request's project and key, its reception time)
with one override: the age limit is lifted, as Sensors `time_free` or PostHog `historical_migration` would
have done. What passes goes to the event log under a stable dedupe key, and only once the log holds it
durably does it leave the quarantine, with an audit entry naming who, when and why. A crash in between is
harmless: the next replay finds the event already in the log and only releases the message. What fails
another check stays quarantined with the reason it fails now.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from touchpoint.core.errors import UnauthorizedError, ValidationError
from touchpoint.governance import Principal, record_operation
from touchpoint.ingest.collector import repo
from touchpoint.ingest.collector.limits import CollectorLimits
from touchpoint.ingest.collector.model import (
    MAX_WHY,
    EventProblem,
    QuarantineEntry,
    QuarantinePage,
    ReplayOutcome,
    ReplayReport,
    event_id_for,
)
from touchpoint.ingest.collector.service import (
    NORMALISERS,
    CollectorEnv,
    CollectorUnavailable,
    batch_of_one,
    check_message,
)
from touchpoint.ingest.collector.timing import TimeWindow
from touchpoint.ingest.ports import LogEntry

PAGE = 500
ACTION = "collector.quarantine.replay"


def list_quarantine(
    *, env: CollectorEnv, principal: Principal, reason: str | None = None, limit: int = 20
) -> QuarantinePage:
    """The newest quarantined messages (optionally of one reason) and how many there are in all.

    They are raw messages of any customer, so only a caller who sees every customer may read them; the
    write key their request carried is not shown."""
    if not principal.sees_everything:
        raise UnauthorizedError("the quarantine holds messages of every customer: the caller must see all")
    with env.ops.begin() as connection:
        rows = repo.recent_quarantine(connection, limit, reason)
        total = repo.count_quarantine(connection, reason)
    return QuarantinePage(total=total, items=[_entry(row) for row in rows])


def _entry(row: dict[str, Any]) -> QuarantineEntry:
    stored = repo.read_payload(row["payload"])
    return QuarantineEntry(
        id=row["id"],
        received_at=row["received_at"],
        source=row["source"],
        reason=row["reason"],
        detail=row["detail"],
        payload=stored.message if stored.replayable else stored.request,
        context={k: v for k, v in stored.context.items() if k != "key"},
        replayable=stored.replayable,
    )


def replay_quarantine(
    *,
    env: CollectorEnv,
    principal: Principal,
    why: str,
    ids: Sequence[int] = (),
    reason: str | None = None,
) -> ReplayReport:
    """Check the named messages (or every message of `reason`) again with the age limit lifted, and admit
    those that pass; returns once every admitted event is durable in the log and released."""
    why = _checked_request(principal, why, ids, reason)
    report = ReplayReport()
    window = env.collector_window.lifting_age_limit()
    for page, missing in _pages(env, ids, reason):
        report.outcomes += [ReplayOutcome(id=i, outcome="not_found") for i in missing]
        report.outcomes += _replay_page(env, principal, why, page, window, report)
    tally = Counter(o.outcome for o in report.outcomes)
    report.admitted, report.quarantined = tally["admitted"], tally["quarantined"]
    report.not_found, report.not_replayable = tally["not_found"], tally["not_replayable"]
    return report


def _checked_request(principal: Principal, why: str, ids: Sequence[int], reason: str | None) -> str:
    if not principal.sees_everything:
        raise UnauthorizedError(
            "replaying the quarantine admits events of every customer: the caller must see all"
        )
    why = why.strip()
    if not why or len(why) > MAX_WHY:
        raise ValidationError(f"say why the messages are replayed (1 to {MAX_WHY} characters)")
    if bool(ids) == (reason is not None):
        raise ValidationError("replay either messages by id or every message of one reason (not both)")
    return why


def _pages(
    env: CollectorEnv, ids: Sequence[int], reason: str | None
) -> Iterator[tuple[list[dict[str, Any]], list[int]]]:
    """Pages of quarantine rows, each with the asked-for ids it did not find; reads are short transactions."""
    if reason is None:
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), PAGE):
            chunk = wanted[start : start + PAGE]
            with env.ops.begin() as connection:
                rows = repo.quarantined_by_id(connection, chunk)
            found = {row["id"] for row in rows}
            yield rows, [i for i in chunk if i not in found]
        return
    after = 0
    while True:
        with env.ops.begin() as connection:
            rows = repo.quarantined_of_reason(connection, reason, after, PAGE)
        if not rows:
            return
        yield rows, []
        after = rows[-1]["id"]


@dataclass(frozen=True)
class _Recheck:
    """One row checked again: the entry to append, or the problem it still has, or neither (not a message)."""

    row: dict[str, Any]
    entry: LogEntry | None = None
    problem: EventProblem | None = None


def _recheck(row: dict[str, Any], window: TimeWindow, limits: CollectorLimits) -> _Recheck:
    stored = repo.read_payload(row["payload"])
    if not stored.replayable or row["source"] not in NORMALISERS:
        return _Recheck(row)
    batch = batch_of_one(row["source"], stored.message, stored.context)
    received: datetime = row["received_at"]
    try:
        normalised = check_message(stored.message, batch, received, window, limits)
    except EventProblem as problem:
        return _Recheck(row, problem=problem)
    key = normalised.dedupe_key or _row_key(row)
    body = {**normalised.payload, "event_id": event_id_for(key, "")}
    return _Recheck(row, entry=LogEntry(key, body["event_id"], body))


def _row_key(row: dict[str, Any]) -> str:
    """A dedupe key for an event its SDK gave none, so that replaying its row twice admits it once.

    The row id alone would not do: SQLite reuses the id of a deleted newest row for the next message.
    """
    identity = f"{row['id']}|{row['received_at'].isoformat()}|{row['payload']}"
    return "quarantine|" + hashlib.sha256(identity.encode()).hexdigest()[:32]


def _replay_page(
    env: CollectorEnv,
    principal: Principal,
    why: str,
    rows: list[dict[str, Any]],
    window: TimeWindow,
    report: ReplayReport,
) -> list[ReplayOutcome]:
    checks = [_recheck(row, window, env.collector_limits) for row in rows]
    try:
        fresh, duplicates = _append(env, [(c.row["source"], c.entry) for c in checks if c.entry is not None])
        with env.ops.begin() as connection:
            outcomes = _settle(connection, env, principal, why, checks)
            repo.bump(connection, _counters(fresh, duplicates, checks, outcomes))
    except DBAPIError as exc:
        raise CollectorUnavailable(
            f"the event log is unavailable; replaying again is safe ({exc.__class__.__name__})"
        ) from exc
    report.duplicates += sum(duplicates.values())
    return outcomes


def _append(env: CollectorEnv, admitted: list[tuple[str, LogEntry]]) -> tuple[Counter[str], Counter[str]]:
    """Append durably, one call per source so that the counters stay per source; (fresh, duplicates)."""
    by_source: dict[str, list[LogEntry]] = defaultdict(list)
    for source, entry in admitted:
        by_source[source].append(entry)
    fresh: Counter[str] = Counter()
    duplicates: Counter[str] = Counter()
    for source, entries in by_source.items():
        appended = env.log.append(entries, received_at=env.clock.now())
        fresh[source] += len(entries) - appended.duplicates
        duplicates[source] += appended.duplicates
    return fresh, duplicates


def _settle(
    connection: Connection, env: CollectorEnv, principal: Principal, why: str, checks: list[_Recheck]
) -> list[ReplayOutcome]:
    """Release what the log now holds, re-reason what still fails, and record each override."""
    released = repo.release(connection, [c.row["id"] for c in checks if c.entry is not None])
    outcomes: list[ReplayOutcome] = []
    for check in checks:
        outcome = _settle_one(connection, check, released)
        if outcome.outcome in ("admitted", "quarantined"):
            _record(connection, env, principal, why, check.row, outcome)
        outcomes.append(outcome)
    return outcomes


def _settle_one(connection: Connection, check: _Recheck, released: set[int]) -> ReplayOutcome:
    row_id = int(check.row["id"])
    if check.entry is not None:
        if row_id not in released:  # a concurrent replay released it first and recorded it
            return ReplayOutcome(id=row_id, outcome="not_found")
        return ReplayOutcome(id=row_id, outcome="admitted", event_id=check.entry.event_id)
    if check.problem is None:
        return ReplayOutcome(id=row_id, outcome="not_replayable", reason=check.row["reason"])
    problem = check.problem
    if not repo.requarantine(connection, row_id, problem.reason, problem.detail):
        return ReplayOutcome(id=row_id, outcome="not_found")
    return ReplayOutcome(id=row_id, outcome="quarantined", reason=problem.reason, detail=problem.detail)


def _record(
    connection: Connection,
    env: CollectorEnv,
    principal: Principal,
    why: str,
    row: dict[str, Any],
    outcome: ReplayOutcome,
) -> None:
    before = {
        "source": row["source"],
        "reason": row["reason"],
        "detail": row["detail"],
        "received_at": row["received_at"].isoformat(),
    }
    after = {
        "why": why,
        "override": "age_limit_lifted",
        **outcome.model_dump(exclude={"id"}, exclude_none=True),
    }
    record_operation(
        connection,
        clock=env.clock,
        principal=principal,
        action=ACTION,
        target_type="quarantined_event",
        target_id=str(row["id"]),
        before=before,
        after=after,
    )


def _counters(
    fresh: Counter[str], duplicates: Counter[str], checks: list[_Recheck], outcomes: list[ReplayOutcome]
) -> dict[str, int]:
    counters = {f"accepted|{source}": n for source, n in fresh.items()}
    counters.update({f"duplicates|{source}": n for source, n in duplicates.items()})
    released = Counter(
        c.row["reason"] for c, o in zip(checks, outcomes, strict=True) if o.outcome == "admitted"
    )
    counters.update({f"replayed|{reason}": n for reason, n in released.items()})
    return {k: v for k, v in counters.items() if v}
