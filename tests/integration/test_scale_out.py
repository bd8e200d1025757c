"""The reference deployment as processes (docs/deployment.md): two collectors, an API and two workers on
PostgreSQL and NATS JetStream, set up with the CLI as an operator would, running a journey end to end.

Events go to both collectors (one batch sent again to the other collector, as a client retrying through the
load balancer); a worker is killed with SIGKILL mid-stream and a new one started. Every customer who logged in
receives the journey's message exactly once; journey routing runs in four partitions of the routed stream,
shared by the workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, select

from support import postgres_schema_url
from touchpoint.store.operational.schema import channel_log, consumer_offsets, journey_runs

from .conftest import free_port

POSTGRES_ENV = "TOUCHPOINT_TEST_POSTGRES_URL"
NATS_ENV = "TOUCHPOINT_TEST_NATS_URL"
CUSTOMERS = 120
BATCH = 20
JOURNEY = {
    "title": "登录欢迎 · welcome on login",
    "entry": {"type": "event", "event": "login"},
    "start": "hello",
    "nodes": [
        {
            "id": "hello",
            "type": "action",
            "action": {"kind": "send", "channel": "log", "text": "欢迎回来 {{ customer_no }}"},
        }
    ],
}

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.nats]


@pytest.fixture
def services() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema and the NATS server's URL; skipped where either is not configured."""
    base, nats_url = os.environ.get(POSTGRES_ENV), os.environ.get(NATS_ENV)
    if not base or not nats_url:
        pytest.skip(f"{POSTGRES_ENV} and {NATS_ENV} are both needed")
    yield from ((url, nats_url) for url in postgres_schema_url(base))


class Deployment:
    """The processes of one deployment sharing a data directory, PostgreSQL and a JetStream stream."""

    def __init__(self, home: Path, database_url: str, nats_url: str) -> None:
        self.home = home
        self.stream = f"T_{uuid.uuid4().hex[:10]}"
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "TOUCHPOINT_HOME": str(home),
            "TOUCHPOINT_DATABASE_URL": database_url,
            "TOUCHPOINT_EVENT_LOG": "nats",
            "TOUCHPOINT_NATS_URL": nats_url,
            "TOUCHPOINT_NATS_STREAM": self.stream,
            "TOUCHPOINT_WORKER_CONSUMERS_SECONDS": "0.2",
            "TOUCHPOINT_WORKER_TIMERS_SECONDS": "0.2",
            "TOUCHPOINT_WORKER_DISPATCH_SECONDS": "0.2",
            # Journey routing split in four, read from the routed stream (ADR 0005): both workers republish
            # what One ID linked, and route partitions side by side, each reading only its own subjects.
            "TOUCHPOINT_JOURNEY_ROUTING_PARTITIONS": "4",
            "TOUCHPOINT_JOURNEY_ROUTING_SOURCE": "routed",
        }
        self.children: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def cli(self, *args: str) -> Any:
        """Run one `touchpoint … --json` command; its JSON answer."""
        done = subprocess.run(
            [sys.executable, "-m", "touchpoint", *args, "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """A long-running `touchpoint …` process, its output in a file named after it."""
        log = self.home.parent / f"{name}.log"
        with log.open("wb") as out:
            child = subprocess.Popen(
                [sys.executable, "-m", "touchpoint", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.children.append(child)
        self.logs.append(log)
        return child

    def serving(self, port: int, child: subprocess.Popen[bytes]) -> str:
        """The base URL once the process at `port` answers /healthz."""
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90  # a cold start imports the whole stack on a loaded machine
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                return base
            except httpx.TransportError:
                assert child.poll() is None, self.output()
                assert time.monotonic() < deadline, f"nothing answered on port {port}"
                time.sleep(0.2)

    def output(self) -> str:
        """Every process's output so far (for a failure's message)."""
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in self.logs)

    def stop(self) -> None:
        """Stop every process still running, and remove the stream."""
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        from touchpoint.store.backends.nats_log import NatsEventLog
        from touchpoint.store.backends.nats_routed import NatsRoutedLog

        log = NatsEventLog(
            self.env["TOUCHPOINT_NATS_URL"], dedupe_window=timedelta(minutes=1), stream=self.stream
        )
        NatsRoutedLog(log).delete_stream()
        log.delete_stream()
        log.close()


def _logins(first: int, count: int, key: str) -> tuple[dict[str, Any], dict[str, str]]:
    now = int(time.time() * 1000)
    events = [
        {"event_id": f"login-{n}", "event": "login", "customer_no": f"C{n:05d}", "time": now}
        for n in range(first, first + count)
    ]
    return {"events": events}, {"Authorization": f"Bearer {key}"}


def _missing(database: Engine) -> str:
    """Who got no message, and where each consumer stands (for a failure's message)."""
    with database.connect() as connection:
        got = {r.customer_no for r in connection.execute(select(channel_log.c.customer_no))}
        offsets = connection.execute(select(consumer_offsets)).all()
    missing = sorted({f"C{n:05d}" for n in range(CUSTOMERS)} - got)
    return f"no message: {missing}; offsets: {offsets}"


def _routing_offsets(database: Engine) -> list[str]:
    """The journey routing consumers that have an offset."""
    with database.connect() as connection:
        names = connection.execute(select(consumer_offsets.c.consumer)).scalars().all()
    return sorted(n for n in names if n.startswith("journeys") or n == "routed")


def _counts(database: Engine) -> tuple[int, int, list[tuple[str, int]]]:
    """Journey runs, messages in the log channel, and the customers who got more than one."""
    with database.connect() as connection:
        runs = connection.execute(select(func.count()).select_from(journey_runs)).scalar_one()
        sent = connection.execute(select(func.count()).select_from(channel_log)).scalar_one()
        repeated = connection.execute(
            select(channel_log.c.customer_no, func.count())
            .group_by(channel_log.c.customer_no)
            .having(func.count() > 1)
        ).all()
    return runs, sent, [(str(c), int(n)) for c, n in repeated]


def test_two_collectors_an_api_and_two_workers_run_a_journey_end_to_end(
    tmp_path: Path, services: tuple[str, str]
) -> None:
    database_url, nats_url = services
    deployment = Deployment(tmp_path / "home", database_url, nats_url)
    database = create_engine(database_url)  # the test's own reads of what the processes did
    try:
        # Set up with the CLI: the first administrator, a token for scripts, an ingestion key.
        created = deployment.cli("init")
        assert created["created"]["username"] == "admin"
        deployment.cli("approval", "policy", "off", "journey.publish")
        token = deployment.cli("user", "token", "create", "admin", "--name", "scale-out test")["token"]
        key = deployment.cli("collector", "key", "create", "native", "--name", "app")["key"]

        ports = [free_port() for _ in range(3)]
        collectors = [deployment.start(f"collector{i}", "collect", "--port", str(ports[i])) for i in (0, 1)]
        api_process = deployment.start("api", "serve", "--no-worker", "--port", str(ports[2]))
        jobs = ("worker", "--jobs", "consumers,timers,dispatch")
        workers = [deployment.start(f"worker{i}", *jobs) for i in (0, 1)]
        bases = [deployment.serving(port, c) for port, c in zip(ports[:2], collectors, strict=True)]
        api = deployment.serving(ports[2], api_process)

        # The administrator's first sign-in changes the one-time password; then the journey goes live
        # through the API process.
        headers = {"Authorization": f"Bearer {token}"}
        change = {"current": created["created"]["password"], "new": "scale-out-password-42"}
        changed = httpx.post(f"{api}/api/v1/auth/password", json=change, headers=headers, timeout=30)
        assert changed.status_code == 204, changed.text
        saved = httpx.put(f"{api}/api/v1/journeys/welcome", json=JOURNEY, headers=headers, timeout=30)
        assert saved.status_code == 200, saved.text
        published = httpx.post(f"{api}/api/v1/journeys/welcome/publish", headers=headers, timeout=30)
        assert published.status_code == 200, published.text

        # Logins through both collectors; one batch again through the other collector.
        for first in range(0, CUSTOMERS, BATCH):
            body, auth = _logins(first, BATCH, key)
            collector = bases[(first // BATCH) % 2]
            answer = httpx.post(f"{collector}/api/v1/events", json=body, headers=auth, timeout=30)
            assert answer.status_code == 200, answer.text
            if first == BATCH:
                again = httpx.post(f"{bases[0]}/api/v1/events", json=body, headers=auth, timeout=30)
                assert again.status_code == 200, again.text
            if first == CUSTOMERS // 2:
                # A worker dies mid-stream; another takes its place.
                os.kill(workers[0].pid, signal.SIGKILL)
                workers[0].wait()
                workers[0] = deployment.start("worker2", *jobs)

        deadline = time.monotonic() + 120
        while True:
            runs, sent, repeated = _counts(database)
            if sent >= CUSTOMERS or time.monotonic() > deadline:
                break
            for child in [*collectors, api_process, *workers]:
                assert child.poll() is None, deployment.output()
            time.sleep(0.5)
        time.sleep(2)  # anything sent twice would show now
        runs, sent, repeated = _counts(database)
        failure = _missing(database) + deployment.output()
        assert (runs, sent, repeated) == (CUSTOMERS, CUSTOMERS, []), failure
        assert _routing_offsets(database) == [*(f"journeys-routed:{i}/4" for i in range(4)), "routed"], (
            failure
        )

        # The API process reports what the workers did.
        stats = httpx.get(f"{api}/api/v1/journeys/welcome/stats", headers=headers, timeout=30)
        assert stats.status_code == 200, stats.text
        assert stats.json()["entered"] == CUSTOMERS, stats.text
    finally:
        deployment.stop()
        database.dispose()
