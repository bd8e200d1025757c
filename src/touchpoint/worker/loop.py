"""The worker: its jobs (worker/jobs.py) each in its own thread on its own cadence, or one synchronous pass
of all of them (`run_pass`, for tests, `touchpoint worker --once` and the virtual clock)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from touchpoint.bootstrap import Container
from touchpoint.worker.jobs import (
    JOB_NAMES,
    JOBS,
    REQUIRED_CONSUMERS,
    Advanced,
    Consumed,
    advance_timers,
    cadence,
    compute_scheduled,
    consume,
    housekeep,
    moments_due,
    refresh_segments,
    send_due,
)

__all__ = ["REQUIRED_CONSUMERS", "BackgroundWorker", "PassResult", "run_pass"]
log = logging.getLogger("touchpoint.worker")
T = TypeVar("T")


@dataclass(frozen=True)
class PassResult:
    """What one pass of the worker did."""

    identity_events: int
    compacted_records: int
    customers_linked: int
    computed: str | None = None
    segments_refreshed: int = 0
    moments_fired: int = 0
    journey_steps: int = 0
    effects_done: int = 0


def run_pass(container: Container, jobs: Sequence[str] = JOB_NAMES) -> PassResult:
    """One full pass of the named jobs (all by default), one after another: everything pending is processed
    before it returns. A failing job is logged and the others still run."""
    consumed = _guarded(container, "consumers", jobs, consume, Consumed())
    computed = _guarded(container, "compute", jobs, compute_scheduled, None)
    refreshed = _guarded(container, "segments", jobs, refresh_segments, 0)
    fired = _guarded(container, "moments", jobs, moments_due, 0)
    advanced = _guarded(container, "timers", jobs, advance_timers, Advanced())
    effects = _guarded(container, "dispatch", jobs, send_due, 0)
    _guarded(container, "housekeeping", jobs, housekeep, None)
    return PassResult(
        identity_events=consumed.identity_events,
        compacted_records=consumed.compacted_records,
        customers_linked=consumed.customers_linked,
        computed=computed,
        segments_refreshed=refreshed,
        moments_fired=fired,
        journey_steps=advanced.steps,
        effects_done=effects,
    )


def _guarded(
    container: Container, name: str, jobs: Sequence[str], job: Callable[[Container], T], default: T
) -> T:
    """Run one job of a pass if it was asked for; its failure is logged and `default` stands in."""
    if name not in jobs:
        return default
    try:
        result = job(container)
    except Exception:
        log.exception("worker job %s failed; it runs again on the next pass", name)
        return default
    return result


@dataclass
class JobState:
    """How a job of the background worker has fared: runs, failures, the last error and when it last ran."""

    runs: int = 0
    failures: int = 0
    last_error: str | None = None
    last_seconds: float | None = None


class BackgroundWorker:
    """Runs each job in its own daemon thread on its own cadence until stopped. A job's error is logged and
    the job runs again at its next tick; a slow or failing job never holds up the others."""

    def __init__(
        self,
        container: Container,
        jobs: Sequence[str] = JOB_NAMES,
        cadences: Mapping[str, float] | None = None,
    ) -> None:
        self.container = container
        self.jobs = tuple(name for name in JOB_NAMES if name in jobs)
        chosen = dict(cadences or {})
        self.cadences = {name: chosen.get(name, cadence(container.settings, name)) for name in self.jobs}
        self.states = {name: JobState() for name in self.jobs}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(name,), name=f"touchpoint-{name}", daemon=True)
            for name in self.jobs
        ]

    def start(self) -> None:
        """Start every job's thread."""
        for thread in self._threads:
            thread.start()

    def wait(self) -> None:
        """Block until the worker is stopped (Ctrl-C in the foreground)."""
        while any(thread.is_alive() for thread in self._threads):
            for thread in self._threads:
                thread.join(1.0)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every job to finish its current run and wait for them (at most `timeout` seconds in all)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, name: str) -> None:
        every, state = self.cadences[name], self.states[name]
        while not self._stop.is_set():
            # Pacing is wall time (how often a thread wakes), not business time: it never reads the clock.
            started = time.monotonic()
            try:
                JOBS[name](self.container)
                state.last_error = None
            except Exception as exc:  # the job runs again at its next tick; the other jobs go on meanwhile
                state.failures += 1
                state.last_error = str(exc)[:300]
                log.exception("worker job %s failed; retrying in %.0f s", name, every)
            state.runs += 1
            state.last_seconds = time.monotonic() - started
            self._stop.wait(max(0.0, every - state.last_seconds))
