"""The worker's jobs: each a function of the container that does what is due now and returns.

Jobs are independent: the consumers drain the event log (One ID, compaction, journey routing), the timers
admit segment entries and advance due journey runs, dispatch carries out due effects, compute builds the
indicators and tags when they are due, segments refreshes due segments, housekeeping trims the log. The
background worker runs each in its own thread on its own cadence, so a minute-long computation never delays a
due journey step or a send; `run_pass` runs them one after another (tests, `touchpoint worker --once`, the
virtual clock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from touchpoint.bootstrap import Container
from touchpoint.channels.feedback import forward_events, match_pending_receipts
from touchpoint.config import Settings
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.identity.service import CONSUMER as IDENTITY
from touchpoint.identity.service import process_log, sync_customers, sync_imported_events
from touchpoint.ingest.compactor import CONSUMER as COMPACTOR
from touchpoint.ingest.compactor import compact
from touchpoint.ingest.derived import forward_derived
from touchpoint.ingest.ports import RoutedLog
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.routing import log_routing_offsets, partition_place, reads_routed_stream
from touchpoint.journeys.runtime import admit_segments, republish, route_events, tick
from touchpoint.moments.service import CONSUMER as MOMENTS
from touchpoint.moments.service import evaluate_due
from touchpoint.moments.service import route_events as route_moments
from touchpoint.segments.service import refresh_segment, refreshes_due
from touchpoint.store.operational.offsets import all_offsets
from touchpoint.tags.service import compute, compute_due
from touchpoint.tasks.notices import notify_urgent
from touchpoint.tasks.service import escalate_due

log = logging.getLogger("touchpoint.worker")
# The log's consumers that must have processed a record before it may be trimmed, with journey routing
# (whichever of its consumers read the log: `log_routing_offsets`).
REQUIRED_CONSUMERS = (COMPACTOR, IDENTITY, MOMENTS)
ROUNDS = 50  # batches one run of a job takes at most, so a flood never keeps one run going for ever
JOB_NAMES = ("consumers", "timers", "dispatch", "compute", "segments", "moments", "housekeeping")


@dataclass(frozen=True)
class Consumed:
    """What one run of the consumers did."""

    customers_linked: int = 0
    identity_events: int = 0
    compacted_records: int = 0
    journey_records: int = 0
    moment_records: int = 0
    republished_records: int = 0


@dataclass(frozen=True)
class Advanced:
    """What one run of the timers did."""

    admitted: int = 0
    steps: int = 0


def consume(container: Container) -> Consumed:
    """Drain the event log: customers and imported events linked by One ID, the log's events identified,
    compacted to Parquet, routed to journeys (event entries, waits, goals, exits) and to the MOT event
    rules."""
    linked = sync_customers(env=container, analytics=container.analytics)
    linked += sync_imported_events(env=container, analytics=container.analytics)
    # Consumers drain the log whole: each runs in its own thread, and a stopped drain only adds lag.
    identity_events = _drain(lambda: process_log(env=container, log=container.log), None)
    compacted = _drain(
        lambda: (
            compact(
                log=container.log,
                ops=container.ops,
                analytics=container.analytics,
                clock=container.clock,
                calendar=container.calendar,
            ).records
        ),
        None,
    )
    try:
        republished = _drain(lambda: republish(env=container), None)
    except Exception:  # the routed stream unavailable: retried next run; the consumers after it go on
        log.exception("republishing to the routed stream failed; retrying on the next run")
        republished = 0
    routed = _drain(lambda: route_events(env=container), None)
    moments = _drain(lambda: route_moments(env=container), None)
    return Consumed(linked, identity_events, compacted, routed, moments, republished)


def advance_timers(container: Container) -> Advanced:
    """Admit the members of segment-entry journeys that are due, then advance the journey runs that are due
    (waits over, time-outs, newly admitted or woken runs)."""
    env = container
    admitted = 0
    try:
        admitted = admit_segments(env=env)
    except Exception:  # e.g. no tag snapshot yet: admission is retried on the next run; the steps go on
        log.exception("admitting segment members to journeys failed")
    return Advanced(admitted=admitted, steps=_drain(lambda: tick(env=env)))


def send_due(container: Container) -> int:
    """Carry out the due effects (sends, tags, attributes, webhooks, advisor tasks), match receipts that beat
    their send's commit, and forward message events and derived events (mot_*, advisor_task_completed) to
    the event log. Returns how many effects concluded."""
    env = container
    done = _drain(lambda: dispatch(env=env))
    match_pending_receipts(env=container)
    _drain(lambda: forward_events(env=container))
    _drain(lambda: forward_derived(env=container))
    return done


def compute_scheduled(container: Container) -> str | None:
    """Compute indicators and tags when the data or definitions changed or the refresh interval passed;
    returns the business date computed, or None."""
    settings = container.settings
    day = compute_due(
        env=container,
        refresh=timedelta(hours=settings.compute_refresh_hours),
        retry=timedelta(minutes=settings.compute_retry_minutes),
    )
    if day is None:
        return None
    try:
        compute(env=container, principal=SYSTEM, day=day, range_rows=settings.compute_range_rows)
    except Exception:
        # The run is recorded as failed with its error; the next attempt waits for the retry interval.
        log.exception("scheduled computation for %s failed", day)
        return None
    return day.isoformat()


def refresh_segments(container: Container) -> int:
    """Refresh the dynamic segments that have no snapshot for today yet; returns how many were refreshed."""
    if not container.analytics.partitions("tag_values"):
        return 0
    refreshed = 0
    for name in refreshes_due(env=container):
        try:
            refresh_segment(env=container, principal=SYSTEM, name=name)
            refreshed += 1
        except Exception:
            # Recorded on the segment with its error and the time of the next attempt (back-off).
            log.exception("refreshing segment %s failed", name)
    return refreshed


def moments_due(container: Container) -> int:
    """Evaluate the MOT condition and calendar rules whose times have come (or whose data changed since),
    escalate overdue or long-unclaimed advisor tasks and announce urgent ones on WeCom; returns how many
    firings were recorded."""
    evaluated = evaluate_due(env=container)
    escalate_due(env=container, claim_hours=container.settings.task_claim_hours)
    notify_urgent(env=container)
    return sum(evaluated["fired"].values())


def housekeep(container: Container) -> None:
    """Forget dedupe keys past their window and trim what every consumer has processed from the log (and
    from the routed stream, what every routing partition has passed)."""
    settings, now = container.settings, container.clock.now()
    container.log.forget_dedupe_keys(older_than=now - timedelta(days=settings.collector_dedupe_days))
    with container.ops.begin() as connection:
        offsets = all_offsets(connection)
    in_log = {name: offset for name, offset in offsets.items() if not reads_routed_stream(name)}
    routing = log_routing_offsets(in_log)
    # Only what every consumer (compactor, One ID, MOT, journey routing, and any later one) has processed
    # may go; before routing has begun, nothing.
    required = [in_log.get(name, 0) for name in REQUIRED_CONSUMERS] + [min(routing, default=0)]
    consumed = min(required + list(in_log.values()))
    container.log.trim(up_to=consumed, older_than=now - timedelta(days=settings.event_log_retention_days))
    if container.routed is not None:
        _trim_routed(container.routed, {n: o for n, o in offsets.items() if reads_routed_stream(n)})


def _trim_routed(routed: RoutedLog, partitions: dict[str, int]) -> None:
    """Purge the routed records every routing partition has passed: each has passed everything before its
    next record (all, when it has none), however sparse its records are."""
    if not partitions:
        return
    head = routed.head()
    passed = []
    for name, offset in partitions.items():
        place = partition_place(name)
        assert place is not None
        following = routed.next_offset(offset, index=place[1], count=place[2])
        passed.append(head if following is None else following - 1)
    routed.trim(up_to=min(passed))


JOBS: dict[str, Callable[[Container], object]] = {
    "consumers": consume,
    "timers": advance_timers,
    "dispatch": send_due,
    "compute": compute_scheduled,
    "segments": refresh_segments,
    "moments": moments_due,
    "housekeeping": housekeep,
}


def cadence(settings: Settings, job: str) -> float:
    """Seconds between the starts of two runs of `job` (setting `worker_<job>_seconds`)."""
    seconds: float = getattr(settings, f"worker_{job}_seconds")
    return seconds


def parse_jobs(text: str | None) -> tuple[str, ...]:
    """Job names from `consumers,timers,dispatch` (every job when empty), unknown names refused."""
    if text is None or not text.strip():
        return JOB_NAMES
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in wanted if name not in JOBS]
    if unknown:
        raise ValidationError(f"unknown worker job {unknown[0]!r}: choose from {', '.join(JOB_NAMES)}")
    return tuple(name for name in JOB_NAMES if name in wanted)


def run_jobs(container: Container, jobs: Sequence[str]) -> None:
    """Run the named jobs once each, in the order of JOB_NAMES; a failing job is logged and the others run."""
    for name in JOB_NAMES:
        if name in jobs:
            run_job(container, name)


def run_job(container: Container, name: str) -> bool:
    """Run one job once; its error is logged (it is retried on its next run). Returns whether it succeeded."""
    try:
        JOBS[name](container)
    except Exception:
        log.exception("worker job %s failed; retrying on its next run", name)
        return False
    return True


def _drain(work: Callable[[], int], rounds: int | None = ROUNDS) -> int:
    """Call `work` until a call does nothing (at most `rounds` calls; None: no bound); returns the sum of
    what it did."""
    total = calls = 0
    while rounds is None or calls < rounds:
        done = work()
        calls += 1
        total += done
        if not done:
            break
    return total
