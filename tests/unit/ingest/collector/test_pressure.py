"""The collector under hostile input: no server error, one set of limits, any dedupe key, refusals kept.

Each test reproduces a fault of issue 14 (item 4) over HTTP, on SQLite and PostgreSQL where the store matters.
"""

from __future__ import annotations

import base64
import gzip
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient

from support import WIRE_FORMATS_ONLY, api_client
from touchpoint.bootstrap import Container
from touchpoint.core.clock import SystemClock
from touchpoint.ingest.collector import repo
from touchpoint.ingest.collector.stats import collector_stats
from touchpoint.worker.loop import run_pass


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return WIRE_FORMATS_ONLY


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with api_client(container) as test_client:
        yield test_client


def _now_ms() -> int:
    return int(time.time() * 1000)


def _native(client: TestClient, *events: dict[str, Any]) -> Any:
    return client.post("/api/v1/events", content=orjson.dumps({"events": list(events)}))


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _deep_json(depth: int) -> bytes:
    """An object nested `depth` levels, as JSON text (orjson itself refuses to write past 254)."""
    return b'{"a":' * depth + b"1" + b"}" * depth


def _with_deep(template: dict[str, Any], depth: int) -> bytes:
    """`template` as JSON with its "DEEP" placeholder replaced by an object nested `depth` levels."""
    return orjson.dumps(template).replace(b'"DEEP"', _deep_json(depth))


def _sensors_form(events: list[dict[str, Any]]) -> bytes:
    data = base64.b64encode(gzip.compress(orjson.dumps(events))).decode()
    return f"gzip=1&data_list={quote(data, safe='')}".encode()


def _quarantine(container: Container) -> list[dict[str, Any]]:
    with container.ops.begin() as connection:
        return repo.recent_quarantine(connection, 100)


def _counters(container: Container) -> dict[str, int]:
    with container.ops.begin() as connection:
        return repo.counters(connection)


# ---- native time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["²", "1" * 5_000, "٣٣٣", "9" * 30])
def test_native_time_that_is_no_number_is_quarantined_not_a_500(client: TestClient, raw: str) -> None:
    response = _native(client, {"event": "x", "customer_no": "C1", "time": raw})
    assert response.status_code == 200
    assert response.json()["reasons"] == {"bad_time": 1}


# ---- nesting depth -------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [255, 600, 1_020])
def test_deep_native_properties_are_refused_naming_the_limit(
    client: TestClient, container: Container, depth: int
) -> None:
    event = {"event": "x", "customer_no": "C1", "time": _now_ms(), "properties": "DEEP"}
    response = client.post("/api/v1/events", content=_with_deep({"events": [event]}, depth))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "too_deep"
    assert "collector_max_depth" in error["message"]
    assert _counters(container)["rejected_batches|too_deep"] == 1


@pytest.mark.parametrize("depth", [255, 1_000])
def test_deep_properties_on_every_sdk_are_refused(client: TestClient, depth: int) -> None:
    sensors = {"type": "track", "event": "x", "distinct_id": "d", "time": _now_ms(), "properties": "DEEP"}
    data = base64.b64encode(gzip.compress(_with_deep([sensors], depth))).decode()
    form = f"gzip=1&data_list={quote(data, safe='')}".encode()
    assert client.post("/sa", content=form).status_code == 400
    segment = {
        "batch": [{"type": "track", "event": "x", "userId": "u", "messageId": "m", "properties": "DEEP"}]
    }
    assert client.post("/v1/batch", content=_with_deep(segment, depth)).status_code == 400
    posthog = {"api_key": "k", "batch": [{"event": "x", "distinct_id": "d", "properties": "DEEP"}]}
    assert client.post("/batch/", content=_with_deep(posthog, depth)).status_code == 400


def test_properties_at_the_depth_limit_are_stored_and_compacted(
    client: TestClient, container: Container
) -> None:
    limit = container.collector_limits.max_depth
    # the event object is level 1: properties nested this far fill every level the limit allows
    properties = _nested(limit - 1)
    event = {
        "event_id": "deep",
        "event": "x",
        "customer_no": "C1",
        "time": _now_ms(),
        "properties": properties,
    }
    response = _native(client, event)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    run_pass(container)
    stored = container.analytics.table("events").to_pyarrow().to_pylist()
    assert orjson.loads(stored[0]["properties"]) == properties


# ---- per-event limits ----------------------------------------------------------------------------------


def test_too_many_properties_quarantines_the_event(client: TestClient, container: Container) -> None:
    limit = container.collector_limits.max_properties
    wide = {f"p{i}": i for i in range(limit + 1)}
    ok = {"event": "x", "customer_no": "C1", "time": _now_ms(), "properties": {"a": 1}}
    response = _native(client, {**ok, "properties": wide}, ok)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["reasons"] == {"too_many_properties": 1}


def test_a_string_value_over_the_limit_quarantines_the_event(
    client: TestClient, container: Container
) -> None:
    limit = container.collector_limits.max_value_chars
    event = {"event": "x", "customer_no": "C1", "time": _now_ms(), "properties": {"note": "x" * (limit + 1)}}
    response = _native(client, event)
    assert response.json()["reasons"] == {"value_too_long": 1}


def test_too_many_events_in_a_batch_is_413(client: TestClient, container: Container) -> None:
    limit = container.collector_limits.max_events
    event = {"event": "x", "customer_no": "C1", "time": _now_ms()}
    response = _native(client, *([event] * (limit + 1)))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_events"
    assert "collector_max_events" in response.json()["error"]["message"]


def test_a_million_properties_is_refused_before_parsing(client: TestClient, container: Container) -> None:
    props = b",".join(b'"p%d":%d' % (i, i) for i in range(1_000_000))
    body = b'{"events":[{"event":"x","customer_no":"C1","time":1,"properties":{' + props + b"}}]}"
    response = client.post(
        "/api/v1/events", content=gzip.compress(body), headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_values"
    assert "collector_max_values" in response.json()["error"]["message"]


# ---- identifiers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_no", "C\x00001"),
        ("customer_no", "C1\n"),
        ("distinct_id", "d\x1b[31m"),
        ("anonymous_id", "a" * 256),
        ("anonymous_id", "a\x00"),
        ("login_id", "l\x7f"),
    ],
)
def test_native_identifiers_with_control_characters_or_too_long_are_quarantined(
    client: TestClient, field: str, value: str
) -> None:
    event = {"event": "x", "customer_no": "C1", "time": _now_ms(), field: value}
    response = _native(client, event)
    assert response.status_code == 200
    assert response.json()["reasons"] == {"bad_id": 1}


def test_sdk_identifiers_with_control_characters_are_quarantined(
    client: TestClient, container: Container
) -> None:
    now = _now_ms()
    sensors = [
        {"type": "track", "event": "x", "distinct_id": "d\x00", "time": now},
        {"type": "track", "event": "x", "distinct_id": "d", "login_id": "l" * 300, "time": now},
        {"type": "track", "event": "x", "distinct_id": "d", "anonymous_id": "a\x01", "time": now},
        {
            "type": "track",
            "event": "x",
            "distinct_id": "d",
            "time": now,
            "identities": {"$identity_mobile": "1\x00"},
        },
        {"type": "track", "event": "ok", "distinct_id": "d", "time": now},
    ]
    assert client.post("/sa", content=_sensors_form(sensors)).status_code == 200
    segment = {
        "batch": [
            {"type": "track", "event": "x", "userId": "u\x00"},
            {"type": "alias", "userId": "u", "previousId": "p" * 256},
        ]
    }
    assert client.post("/v1/batch", content=orjson.dumps(segment)).status_code == 200
    posthog = {
        "api_key": "k",
        "batch": [
            {"event": "x", "distinct_id": "d\x00"},
            {"event": "$identify", "distinct_id": "d", "properties": {"$anon_distinct_id": "a" * 256}},
        ],
    }
    assert client.post("/batch/", content=orjson.dumps(posthog)).status_code == 200
    reasons = [row["reason"] for row in _quarantine(container)]
    assert reasons == ["bad_id"] * 8
    assert collector_stats(log=container.log, ops=container.ops, clock=container.clock)["accepted"] == {
        "sensors": 1
    }


# ---- dedupe keys ---------------------------------------------------------------------------------------


def test_a_400_character_segment_message_id_is_stored_and_deduplicated(
    client: TestClient, container: Container
) -> None:
    message = {"type": "track", "event": "x", "userId": "u", "messageId": "m" * 400}
    body = orjson.dumps({"batch": [message]})
    first = client.post("/v1/batch", content=body)
    assert first.status_code == 200, first.text
    assert client.post("/v1/batch", content=body).status_code == 200
    stats = collector_stats(log=container.log, ops=container.ops, clock=container.clock)
    assert stats["accepted"] == {"segment": 1}
    assert stats["duplicates"] == {"segment": 1}


def test_a_400_character_posthog_api_key_is_stored_and_deduplicated(
    client: TestClient, container: Container
) -> None:
    body = orjson.dumps({"api_key": "k" * 400, "batch": [{"event": "x", "distinct_id": "d", "uuid": "u1"}]})
    assert client.post("/batch/", content=body).status_code == 200
    assert client.post("/batch/", content=body).status_code == 200
    stats = collector_stats(log=container.log, ops=container.ops, clock=container.clock)
    assert (stats["accepted"], stats["duplicates"]) == ({"posthog": 1}, {"posthog": 1})


# ---- refused requests ----------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_counted_and_its_start_kept(
    client: TestClient, container: Container
) -> None:
    body = b'{"events": [' + b" " * (container.collector_limits.max_body + 10) + b"]}"
    response = client.post("/api/v1/events", content=body)
    assert response.status_code == 413
    assert "collector_max_body_mb" in response.json()["error"]["message"]
    assert _counters(container)["rejected_batches|too_large"] == 1
    [row] = _quarantine(container)
    assert (row["source"], row["reason"]) == ("native", "too_large")
    kept = repo.read_payload(row["payload"]).request
    assert kept is not None
    assert kept.startswith('{"events": [')
    assert len(kept) == 64 * 1024


def test_refusals_are_on_metrics_by_reason(client: TestClient) -> None:
    client.post("/api/v1/events", content=b"not json")
    client.post("/api/v1/events", content=b"not json")
    text = client.get("/metrics").text
    assert 'touchpoint_collector_rejected_batches_total{reason="bad_json"} 2' in text
