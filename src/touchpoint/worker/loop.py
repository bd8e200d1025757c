"""The worker loop: drain the identity consumer, compact events to Parquet, forget old dedupe keys, and
compute indicators and tags when the data or the definitions have changed (or a day has passed)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from touchpoint.bootstrap import Container
from touchpoint.channels.feedback import forward_events, match_pending_receipts
from touchpoint.governance import SYSTEM
from touchpoint.identity.service import CONSUMER as IDENTITY
from touchpoint.identity.service import process_log, sync_customers, sync_imported_events
from touchpoint.ingest.compactor import CONSUMER as COMPACTOR
from touchpoint.ingest.compactor import compact
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.runtime import CONSUMER as JOURNEYS
from touchpoint.journeys.runtime import admit_segments, route_events, tick
from touchpoint.segments.service import refresh_segment, refreshes_due
from touchpoint.store.operational.offsets import all_offsets
from touchpoint.tags.service import compute, compute_due

log = logging.getLogger("touchpoint.worker")
REQUIRED_CONSUMERS = (COMPACTOR, IDENTITY, JOURNEYS)


@dataclass(frozen=True)
class PassResult:
    """What one pass of the worker did."""

    identity_events: int
    compacted_records: int
    customers_linked: int
    computed: str | None = None
    segments_refreshed: int = 0
    journey_steps: int = 0
    effects_done: int = 0


def run_pass(container: Container) -> PassResult:
    """One full pass: everything pending is processed before it returns."""
    linked = sync_customers(env=container.identity_env, analytics=container.analytics)
    linked += sync_imported_events(env=container.identity_env, analytics=container.analytics)
    identity_events = 0
    while (n := process_log(env=container.identity_env, log=container.log)) > 0:
        identity_events += n
    compacted = 0
    while (
        step := compact(
            log=container.log,
            ops=container.ops,
            analytics=container.analytics,
            clock=container.clock,
            calendar=container.calendar,
        )
    ).records > 0:
        compacted += step.records
    computed = _scheduled_compute(container)
    refreshed = _scheduled_refreshes(container)
    steps, effects = _journeys(container)
    _housekeeping(container)
    return PassResult(
        identity_events=identity_events,
        compacted_records=compacted,
        customers_linked=linked,
        computed=computed,
        segments_refreshed=refreshed,
        journey_steps=steps,
        effects_done=effects,
    )


def _journeys(container: Container, rounds: int = 50) -> tuple[int, int]:
    """Route new events to journeys, admit due segment entries, advance due runs, carry out due effects."""
    env = container.journey_env
    while route_events(env=env) > 0:
        pass
    try:
        admit_segments(env=env)
    except Exception:  # e.g. no tag snapshot yet: admission is retried next pass
        log.exception("admitting segment members to journeys failed")
    steps = effects = 0
    for _ in range(rounds):  # bounded, so one pass never starves the rest of the loop
        taken = tick(env=env)
        steps += taken
        if not taken:
            break
    for _ in range(rounds):
        done = dispatch(env=env)
        effects += done
        if not done:
            break
    match_pending_receipts(env=container.channel_env)  # receipts that beat their send's commit
    while forward_events(env=container.channel_env) > 0:  # message events join the event log
        pass
    return steps, effects


def _scheduled_refreshes(container: Container) -> int:
    if not container.analytics.partitions("tag_values"):
        return 0
    refreshed = 0
    for name in refreshes_due(env=container.tag_env):
        try:
            refresh_segment(env=container.tag_env, principal=SYSTEM, name=name)
            refreshed += 1
        except Exception:
            # Recorded on the segment with its error and the time of the next attempt (back-off).
            log.exception("refreshing segment %s failed", name)
    return refreshed


def _scheduled_compute(container: Container) -> str | None:
    settings = container.settings
    day = compute_due(
        env=container.tag_env,
        refresh=timedelta(hours=settings.compute_refresh_hours),
        retry=timedelta(minutes=settings.compute_retry_minutes),
    )
    if day is None:
        return None
    try:
        compute(env=container.tag_env, principal=SYSTEM, day=day)
    except Exception:
        # The run is recorded as failed with its error; the next attempt waits for the retry interval.
        log.exception("scheduled computation for %s failed", day)
        return None
    return day.isoformat()


def _housekeeping(container: Container) -> None:
    settings, now = container.settings, container.clock.now()
    container.log.forget_dedupe_keys(older_than=now - timedelta(days=settings.collector_dedupe_days))
    with container.ops.begin() as connection:
        offsets = all_offsets(connection)
    # Only what every consumer (compactor, One ID, and any later one) has processed may go.
    consumed = min([offsets.get(name, 0) for name in REQUIRED_CONSUMERS] + list(offsets.values()))
    container.log.trim(up_to=consumed, older_than=now - timedelta(days=settings.event_log_retention_days))


class BackgroundWorker:
    """Runs `run_pass` every few seconds in a daemon thread until stopped; errors are logged, not fatal."""

    def __init__(self, container: Container, interval: float | None = None) -> None:
        self.container = container
        self.interval = interval if interval is not None else container.settings.worker_interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="touchpoint-worker", daemon=True)

    def start(self) -> None:
        """Start the loop."""
        self._thread.start()

    def wait(self) -> None:
        """Block until the worker is stopped (Ctrl-C in the foreground)."""
        while self._thread.is_alive():
            self._thread.join(1.0)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to finish its pass and wait for it."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                run_pass(self.container)
            except Exception:  # a failing pass leaves everything in place and is retried next time
                log.exception("worker pass failed; retrying in %.0f s", self.interval)
            self._stop.wait(self.interval)
