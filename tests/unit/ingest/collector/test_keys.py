"""Ingestion keys: a batch is taken only with a live key of its source, at most at its rate (issue 15)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from support import api_client, ingest_keys
from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.ingest.collector.keys import IngestKeyCreate, create_key, revoke_key
from touchpoint.store.operational.schema import ingest_keys as key_table


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with api_client(container) as test_client:
        yield test_client


def _ms(clock: VirtualClock) -> int:
    return int(clock.now().timestamp() * 1000)


def _sensors(client: TestClient, clock: VirtualClock, token: str | None) -> Any:
    data = base64.b64encode(
        orjson.dumps([{"type": "track", "event": "x", "distinct_id": "d1", "time": _ms(clock)}])
    ).decode()
    query = "/sa?project=default" + (f"&token={token}" if token else "")
    return client.post(query, data={"data_list": data, "gzip": "0"})


def _segment(client: TestClient, clock: VirtualClock, **auth: Any) -> Any:
    message = {
        "type": "track",
        "userId": "C1",
        "event": "x",
        "messageId": "m1",
        "timestamp": clock.now().isoformat(),
    }
    return client.post(
        "/v1/batch",
        content=orjson.dumps({"batch": [message], **auth.get("body", {})}),
        **auth.get("http", {}),
    )


def _posthog(client: TestClient, clock: VirtualClock, key: str | None) -> Any:
    body: dict[str, Any] = {
        "batch": [{"event": "x", "distinct_id": "d", "uuid": "u1", "timestamp": clock.now().isoformat()}]
    }
    if key is not None:
        body["api_key"] = key
    return client.post("/batch/", json=body)


def _native(client: TestClient, clock: VirtualClock, key: str | None) -> Any:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    events = {"events": [{"event": "x", "customer_no": "C1", "time": _ms(clock)}]}
    # the test client's own admin token must not stand in for an ingestion key
    return client.post(
        "/api/v1/events", content=orjson.dumps(events), headers=headers or {"Authorization": ""}
    )


def test_each_source_accepts_its_own_live_key(
    client: TestClient, container: Container, clock: VirtualClock
) -> None:
    keys = ingest_keys(container)
    assert _sensors(client, clock, keys["sensors"]).status_code == 200
    assert _segment(client, clock, http={"auth": (keys["segment"], "")}).status_code == 200
    assert _segment(client, clock, body={"writeKey": keys["segment"]}).status_code == 200
    assert _posthog(client, clock, keys["posthog"]).status_code == 200
    answer = _native(client, clock, keys["native"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1


def test_a_batch_without_a_key_is_refused_naming_where_the_key_goes(
    client: TestClient, clock: VirtualClock
) -> None:
    refusals = {
        "sensors": _sensors(client, clock, None),
        "segment": _segment(client, clock),
        "posthog": _posthog(client, clock, None),
        "native": _native(client, clock, None),
    }
    assert {source: r.status_code for source, r in refusals.items()} == dict.fromkeys(refusals, 401)
    assert "token parameter" in refusals["sensors"].json()["error"]["message"]
    assert "Authorization: Bearer" in refusals["native"].json()["error"]["message"]


def test_an_unknown_a_revoked_or_another_sources_key_is_refused_and_counted(
    client: TestClient, container: Container, clock: VirtualClock
) -> None:
    keys = ingest_keys(container)
    assert _posthog(client, clock, "tpk_forged").status_code == 401
    wrong = _posthog(client, clock, keys["segment"])
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "this ingestion key is for segment, not posthog"
    posthog_id = next(k.id for k in _listed(client) if k.source == "posthog")
    assert _posthog(client, clock, keys["posthog"]).status_code == 200
    revoke_key(container, principal=SYSTEM, key_id=posthog_id)
    assert _posthog(client, clock, keys["posthog"]).status_code == 401  # the very next batch
    stats = client.get("/api/v1/collector/stats").json()
    assert stats["rejected_batches"]["unknown_key"] == 3


def _listed(client: TestClient) -> list[Any]:
    from touchpoint.ingest.collector.keys import IngestKeyRead

    return [IngestKeyRead.model_validate(k) for k in client.get("/api/v1/collector/keys").json()]


def test_a_key_over_its_rate_gets_429_with_retry_after_and_loses_nothing(
    client: TestClient, container: Container, clock: VirtualClock
) -> None:
    key = create_key(
        container,
        principal=SYSTEM,
        key=IngestKeyCreate(name="slow", source="native", rate_per_second=1, burst=2),
    ).key
    assert [_native(client, clock, key).status_code for _ in range(2)] == [200, 200]
    limited = _native(client, clock, key)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert limited.json()["error"]["code"] == "rate_limited"
    clock.advance(timedelta(seconds=1))
    assert _native(client, clock, key).status_code == 200
    stats = client.get("/api/v1/collector/stats").json()
    assert stats["rejected_batches"].get("rate_limited", 0) == 0  # not refused for good: the SDK resends


def test_keys_are_shown_once_and_kept_only_as_digests(client: TestClient, container: Container) -> None:
    created = client.post("/api/v1/collector/keys", json={"name": "web", "source": "sensors"})
    assert created.status_code == 201
    secret = created.json()["key"]
    assert secret.startswith("tpk_")
    listed = client.get("/api/v1/collector/keys").json()
    assert [k["prefix"] for k in listed] == [secret[:10]]
    assert "key" not in listed[0]
    with container.ops.begin() as connection:
        stored = connection.execute(select(key_table)).mappings().one()
    assert secret not in str(dict(stored))
    revoked = client.delete(f"/api/v1/collector/keys/{created.json()['id']}")
    assert revoked.json()["revoked_at"] is not None
    assert client.delete("/api/v1/collector/keys/999").status_code == 404


def test_an_analyst_cannot_manage_keys(container: Container) -> None:
    with api_client(container, roles=("analyst",)) as analyst:
        assert analyst.get("/api/v1/collector/keys").status_code == 403
        assert (
            analyst.post("/api/v1/collector/keys", json={"name": "x", "source": "native"}).status_code == 403
        )


@pytest.mark.parametrize("settings_overrides", [{"collector_require_keys": False}])
def test_keys_can_be_switched_off_for_a_closed_network(client: TestClient, clock: VirtualClock) -> None:
    assert _native(client, clock, None).status_code == 200
    assert _posthog(client, clock, None).status_code == 200
