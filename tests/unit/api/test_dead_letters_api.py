"""Dead letters over HTTP: list them, ask for a retry, see them in /metrics and /api/v1/status."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from support import api_client
from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.core.events import LogEntry
from touchpoint.identity.service import process_log
from touchpoint.ingest.collector.timing import to_millis
from touchpoint.store.operational.schema import dead_letters


def _payload(event_id: str, customer: str, at: int) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "kind": "track",
        "event": "login",
        "time": at,
        "distinct_id": customer,
        "properties": {},
        "ids": {"customer_no": customer},
        "source": "native",
        "project": "default",
    }


@pytest.fixture
def client(container: Container, clock: VirtualClock) -> Iterator[TestClient]:
    now = to_millis(clock.now())
    entries = [
        LogEntry(None, p["event_id"], p)
        for p in (_payload("bad", "C\x001", now), _payload("good", "C2", now))
    ]
    container.log.append(entries, received_at=clock.now())
    while process_log(env=container, log=container.log) > 0:
        pass
    with api_client(container) as test_client:
        yield test_client


def test_dead_letters_are_listed_retried_and_counted(client: TestClient, container: Container) -> None:
    page = client.get("/api/v1/collector/dead-letters").json()
    assert page["unresolved"] == 1
    assert page["counts"] == {"identity": {"open": 1}}
    (letter,) = page["items"]
    assert (letter["consumer"], letter["offset"], letter["status"]) == ("identity", 1, "open")
    assert letter["record"]["ids"]["customer_no"] == "C\x001"
    assert "control character" in letter["error"]
    assert client.get("/api/v1/collector/dead-letters", params={"consumer": "journeys"}).json()["items"] == []

    metrics = client.get("/metrics").text
    assert 'touchpoint_dead_letters{consumer="identity",status="open"} 1' in metrics
    assert client.get("/api/v1/status").json()["dead_letters"]["unresolved"] == 1

    retried = client.post(f"/api/v1/collector/dead-letters/{letter['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "retrying"
    assert client.post(f"/api/v1/collector/dead-letters/{letter['id']}/retry").json()["status"] == "retrying"

    process_log(env=container, log=container.log)  # the consumer tries it: still bad
    again = client.get("/api/v1/collector/dead-letters").json()["items"][0]
    assert (again["status"], again["attempts"]) == ("open", 2)


def test_retry_errors(client: TestClient, container: Container) -> None:
    missing = client.post("/api/v1/collector/dead-letters/999/retry")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert client.post(f"/api/v1/collector/dead-letters/{2**70}/retry").status_code == 422
    assert client.get("/api/v1/collector/dead-letters", params={"status": "lost"}).status_code == 422
    with container.ops.begin() as connection:
        connection.execute(update(dead_letters).values(status="resolved"))
    resolved = client.post("/api/v1/collector/dead-letters/1/retry")
    assert resolved.status_code == 409
    assert resolved.json()["error"]["code"] == "conflict"
