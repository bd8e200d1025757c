"""kill -9 of journey workers at random moments, then restarts: every step's message is sent exactly once.

Workers are real processes advancing runs and draining the outbox in small batches; the test kills them
mid-flight again and again (one worker on SQLite; two at once on PostgreSQL, as SKIP LOCKED must keep them
off each other's runs), then lets a last worker finish and counts what the log channel received.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from touchpoint.bootstrap import build
from touchpoint.config import CONFIG_FILE_NAME, load_settings
from touchpoint.core.clock import SystemClock
from touchpoint.governance import SYSTEM
from touchpoint.journeys.runtime import admit
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.store.operational.schema import channel_log, journey_outbox, journey_runs, journey_steps

CUSTOMERS = 400
WORKER = """
import sys, time
from pathlib import Path
from touchpoint.bootstrap import build
from touchpoint.config import CONFIG_FILE_NAME, load_settings
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.runtime import tick
container = build(load_settings(Path(sys.argv[1]), database_url=sys.argv[2]), migrate=False)
env = container
steps, sends = int(sys.argv[3]), int(sys.argv[4])
print("ready", flush=True)
sys.stdin.readline()  # loaded while the previous round runs; starts work when told
while True:
    moved = tick(env=env, limit=steps)
    sent = dispatch(env=env, limit=sends)
    if not moved and not sent:
        time.sleep(0.02)
"""
JOURNEY = {
    "name": "twice",
    "title": "two messages",
    "entry": {"type": "api"},
    "start": "hello",
    "nodes": [
        {
            "id": "hello",
            "type": "action",
            "action": {"kind": "send", "channel": "log", "text": "你好"},
            "next": "bye",
        },
        {"id": "bye", "type": "action", "action": {"kind": "send", "channel": "log", "text": "再见"}},
    ],
}


def _spawn(home: Path, url: str, steps: int = 15, sends: int = 7) -> subprocess.Popen[str]:
    """A worker advancing `steps` runs and sending `sends` messages per call (small batches, so that a kill
    lands mid-flight), once `_go` tells it to: a process takes seconds to import and build its container,
    so the next round's workers load while the current round's run."""
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(home), url, str(steps), str(sends)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _go(children: list[subprocess.Popen[str]]) -> None:
    """Start loaded workers' work (after each has said it is ready)."""
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()


@pytest.mark.slow
def test_kill_9_between_steps_and_sends_never_sends_twice(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # A killed worker's claimed effects wait for its lease to run out: a short one keeps the test short.
    (home / CONFIG_FILE_NAME).write_text("dispatch_lease_seconds = 2\n")
    container = build(load_settings(home, database_url=database_url), clock=SystemClock())
    env = container
    save_journey(env=env, principal=SYSTEM, journey=parse_journey(JOURNEY))
    publish(env=env, principal=SYSTEM, name="twice")
    admit(env=env, name="twice", customers=[f"C{i:06d}" for i in range(CUSTOMERS)])
    workers = 2 if container.ops.dialect == "postgresql" else 1
    rng = random.Random(7)
    children = [_spawn(home, database_url) for _ in range(workers)]
    for round_ in range(6):
        _go(children)
        killed = children
        if round_ < 5:  # the next round loads meanwhile
            children = [_spawn(home, database_url) for _ in range(workers)]
        else:  # and after the last, the finisher: nobody kills it, so it takes whole batches
            finisher = _spawn(home, database_url, steps=200, sends=100)
        time.sleep(rng.uniform(0.2, 0.8))
        for child in killed:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
    _go([finisher])
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            with container.ops.begin() as connection:
                active = connection.execute(
                    select(func.count()).select_from(journey_runs).where(journey_runs.c.status != "done")
                ).scalar_one()
                pending = connection.execute(
                    select(func.count()).select_from(journey_outbox).where(journey_outbox.c.status != "sent")
                ).scalar_one()
            if not active and not pending:
                break
            time.sleep(0.2)
    finally:
        os.kill(finisher.pid, signal.SIGKILL)
        finisher.wait()
    with container.ops.begin() as connection:
        sends = connection.execute(select(func.count()).select_from(channel_log)).scalar_one()
        per_run = connection.execute(
            select(journey_outbox.c.run_id, func.count()).group_by(journey_outbox.c.run_id)
        ).all()
        repeated_steps = connection.execute(
            select(journey_steps.c.run_id, journey_steps.c.step)
            .group_by(journey_steps.c.run_id, journey_steps.c.step)
            .having(func.count() > 1)
        ).all()
    container.close()
    assert sends == 2 * CUSTOMERS
    assert len(per_run) == CUSTOMERS
    assert {n for _, n in per_run} == {2}
    assert repeated_steps == []
