"""kill -9 of a collector between (and during) requests loses no acknowledged event; resends add nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.ingest.collector.model import event_id_for
from touchpoint.ingest.collector.stats import collector_stats
from touchpoint.store.operational.schema import event_log

from .conftest import free_port

BATCHES = 60
PER_BATCH = 50


def _start(home: Path, database_url: str, port: int) -> subprocess.Popen[bytes]:
    # What is measured is durability across a crash, not admission: keys are off (test_keys.py covers them).
    env = {
        **os.environ,
        "TOUCHPOINT_DATABASE_URL": database_url,
        "TOUCHPOINT_COLLECTOR_REQUIRE_KEYS": "false",
    }
    command = [sys.executable, "-m", "touchpoint", "--home", str(home), "collect", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("collector did not start")


def _stored_ids(home: Path, database_url: str) -> list[str]:
    """The event ids in the log."""
    container = build(load_settings(home, database_url=database_url))
    with container.ops.begin() as connection:
        ids = [row.event_id for row in connection.execute(event_log.select())]
    container.close()
    return ids


def _expected_id(n: int, i: int) -> str:
    return event_id_for(f"native|b{n}-{i}", "")


def _batch(n: int) -> dict[str, object]:
    now = int(time.time() * 1000)
    return {
        "events": [
            {"event_id": f"b{n}-{i}", "event": "trade_confirmed", "customer_no": f"C{i}", "time": now}
            for i in range(PER_BATCH)
        ]
    }


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_event(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    port = free_port()
    server = _start(home, database_url, port)
    acknowledged: list[int] = []
    killer = threading.Timer(0.8, lambda: os.kill(server.pid, signal.SIGKILL))
    killer.start()
    for n in range(BATCHES):
        try:
            response = httpx.post(f"http://127.0.0.1:{port}/api/v1/events", json=_batch(n), timeout=5)
        except httpx.TransportError:
            continue  # not acknowledged: the sender keeps it and resends
        if response.status_code == 200:
            acknowledged.append(n)
    killer.join()
    server.wait()
    assert acknowledged, "no batch was acknowledged before the kill"
    stored = set(_stored_ids(home, database_url))
    assert {_expected_id(n, i) for n in acknowledged for i in range(PER_BATCH)} <= stored

    server = _start(home, database_url, port)
    try:
        for n in range(BATCHES):  # the senders resend everything, acknowledged or not
            assert (
                httpx.post(f"http://127.0.0.1:{port}/api/v1/events", json=_batch(n), timeout=5).status_code
                == 200
            )
    finally:
        server.terminate()
        server.wait(10)

    ids = _stored_ids(home, database_url)
    assert len(ids) == len(set(ids)) == BATCHES * PER_BATCH
    container = build(load_settings(home, database_url=database_url))
    stats = collector_stats(log=container.log, ops=container.ops, clock=container.clock)
    assert stats["duplicates"]["native"] >= len(acknowledged) * PER_BATCH
    container.close()
