"""Worker jobs that do not wait for each other: each in its own thread on its own cadence; a failing or slow
job never holds up a due journey step; `--jobs` picks a subset."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.journeys.runtime import admit
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.store.operational.schema import journey_runs
from touchpoint.worker import jobs
from touchpoint.worker.jobs import JOB_NAMES, parse_jobs
from touchpoint.worker.loop import BackgroundWorker, run_pass

FAST = dict.fromkeys(JOB_NAMES, 0.05)


def _waiting_journey(container: Container) -> None:
    """A live API-entry journey: wait an hour, then note it in the log channel; C1 is admitted and waiting."""
    body = {
        "name": "hour_later",
        "title": "an hour later",
        "entry": {"type": "api"},
        "start": "wait",
        "nodes": [
            {"id": "wait", "type": "wait", "duration": "1h", "next": "note"},
            {"id": "note", "type": "action", "action": {"kind": "send", "channel": "log", "text": "hi"}},
        ],
    }
    env = container
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(body))
    publish(env=env, principal=SYSTEM, name="hour_later")
    admit(env=env, name="hour_later", customers=["C1"])
    run_pass(container, jobs=("timers",))
    assert _status(container) == "waiting"


def _status(container: Container) -> str:
    with container.ops.begin() as connection:
        return str(connection.execute(select(journey_runs.c.status)).scalar_one())


def _eventually(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_a_due_step_is_taken_while_a_computation_is_still_running(
    sqlite_container: Container, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = sqlite_container
    _waiting_journey(container)
    computing, release = threading.Event(), threading.Event()

    def slow_compute(_: Container) -> None:
        computing.set()
        release.wait(30)  # a minute-long computation, as at a million customers

    monkeypatch.setitem(jobs.JOBS, "compute", slow_compute)
    worker = BackgroundWorker(container, cadences=FAST)
    worker.start()
    try:
        assert computing.wait(5), "the computation never started"
        clock.advance(timedelta(hours=1, minutes=1))  # the wait ends while the computation runs
        assert _eventually(lambda: _status(container) == "done", 2.0), "the due step waited for compute"
        assert worker.states["compute"].runs == 0  # the computation is indeed still running
    finally:
        release.set()
        worker.stop(5)


def test_a_failing_job_is_logged_and_retried_while_the_others_go_on(
    sqlite_container: Container, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = sqlite_container
    _waiting_journey(container)
    calls: list[int] = []

    def broken(_: Container) -> None:
        calls.append(1)
        raise RuntimeError("segment store unreachable")

    monkeypatch.setitem(jobs.JOBS, "segments", broken)
    worker = BackgroundWorker(container, cadences=FAST)
    worker.start()
    try:
        clock.advance(timedelta(hours=2))
        assert _eventually(lambda: _status(container) == "done", 2.0)
        assert _eventually(lambda: len(calls) >= 3, 2.0), "a failed job must run again on its next tick"
        assert worker.states["segments"].failures >= 3
        assert worker.states["segments"].last_error == "segment store unreachable"
    finally:
        worker.stop(5)


def test_a_pass_goes_on_when_one_job_fails(
    sqlite_container: Container, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = sqlite_container
    _waiting_journey(container)

    def broken(_: Container) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("touchpoint.worker.loop.consume", broken)
    clock.advance(timedelta(hours=2))
    result = run_pass(container)
    assert result.identity_events == 0
    assert _status(container) == "done"


def test_only_the_chosen_jobs_run(sqlite_container: Container, clock: VirtualClock) -> None:
    container = sqlite_container
    _waiting_journey(container)
    clock.advance(timedelta(hours=2))
    run_pass(container, jobs=("consumers", "dispatch"))
    assert _status(container) == "waiting"  # no timers job: the due step waits for a process that runs it
    worker = BackgroundWorker(container, jobs=parse_jobs("timers"), cadences=FAST)
    assert worker.jobs == ("timers",)
    worker.start()
    try:
        assert _eventually(lambda: _status(container) == "done", 2.0)
    finally:
        worker.stop(5)


def test_job_names_are_checked() -> None:
    assert parse_jobs(None) == JOB_NAMES
    assert parse_jobs(" dispatch, consumers ") == ("consumers", "dispatch")
    with pytest.raises(ValidationError, match="unknown worker job 'mailer'"):
        parse_jobs("consumers,mailer")
