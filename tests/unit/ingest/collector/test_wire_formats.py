"""Replayed requests in the formats of the SDKs with no Python client: Android, iOS, JS; and bad payloads."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from support import WIRE_FORMATS_ONLY, api_client
from touchpoint.bootstrap import Container
from touchpoint.core.clock import SystemClock
from touchpoint.ingest.collector.payload import java_string_hash
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


def _event(name: str, distinct: str, **extra: object) -> dict[str, object]:
    return {
        "type": "track",
        "event": name,
        "distinct_id": distinct,
        "time": _now_ms(),
        "properties": {},
        **extra,
    }


def _b64(obj: object, *, gz: bool) -> str:
    raw = json.dumps(obj).encode()
    return base64.b64encode(gzip.compress(raw) if gz else raw).decode()


def _stored(container: Container) -> list[dict[str, object]]:
    run_pass(container)
    return container.analytics.table("events").to_pyarrow().to_pylist()


def test_android_batch_with_crc_and_gzip(client: TestClient, container: Container) -> None:
    events = [
        _event("$AppStart", "android-1", _track_id=11, _flush_time=_now_ms(), anonymous_id="android-1"),
        _event("login", "C100", _track_id=12, login_id="C100", anonymous_id="android-1"),
    ]
    data = _b64(events, gz=True)
    body = f"crc={java_string_hash(data)}&gzip=1&data_list={quote(data, safe='')}"
    response = client.post(
        "/sa?project=default", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200
    again = client.post(
        "/sa?project=default", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert again.status_code == 200
    stored = _stored(container)
    assert sorted(e["event"] for e in stored) == ["$AppStart", "login"]
    from touchpoint.identity.service import show

    ids = {i["id_value"] for i in show(env=container, value="C100")["identifiers"]}
    assert ids == {"C100", "android-1"}


def test_js_image_beacon_get_answers_a_gif(client: TestClient, container: Container) -> None:
    data = _b64(_event("$pageview", "cookie-1", _track_id=5), gz=False)
    ext = quote(f"crc={java_string_hash(data)}", safe="")
    response = client.get(f"/sa.gif?project=default&data={quote(data, safe='')}&ext={ext}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert [e["event"] for e in _stored(container)] == ["$pageview"]


def test_beacon_body_labelled_text_plain_and_unzipped_batch(client: TestClient, container: Container) -> None:
    data = _b64([_event("a_click", "cookie-2"), _event("b_click", "cookie-2")], gz=False)
    response = client.post(
        "/sa",
        content=f"data_list={quote(data, safe='')}",
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 200
    assert sorted(e["event"] for e in _stored(container)) == ["a_click", "b_click"]


def test_cors_for_browsers(client: TestClient) -> None:
    response = client.options(
        "/sa", headers={"Origin": "https://m.broker.cn", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "https://m.broker.cn")


def test_wrong_crc_truncated_base64_and_encrypted_are_400(client: TestClient, container: Container) -> None:
    data = _b64([_event("x", "d")], gz=True)
    wrong = client.post("/sa", data={"data_list": data, "crc": str(java_string_hash(data) + 1), "gzip": "1"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "bad_crc"
    truncated = client.post("/sa", data={"data_list": data[: len(data) // 2], "gzip": "1"})
    assert truncated.status_code == 400
    encrypted = client.post("/sa", data={"data_list": data, "gzip": "9"})
    assert encrypted.status_code == 400
    assert client.get("/healthz").status_code == 200
    stats = collector_stats(log=container.log, ops=container.ops, clock=container.clock)
    assert sum(stats["rejected_batches"].values()) == 3


def test_gzip_bomb_is_413_and_leaves_the_server_healthy(client: TestClient) -> None:
    bomb = base64.b64encode(gzip.compress(b"[" + b" " * (64 << 20) + b"]")).decode()
    response = client.post("/sa", data={"data_list": bomb, "gzip": "1"})
    assert response.status_code == 413
    assert client.get("/healthz").status_code == 200


def test_ten_megabyte_body_is_413(client: TestClient) -> None:
    response = client.post(
        "/api/v1/events",
        content=b"[" + b" " * (10 << 20) + b"]",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert client.get("/healthz").status_code == 200


def test_invalid_names_are_quarantined_not_dropped(client: TestClient, container: Container) -> None:
    events = [_event("ok_event", "d1"), _event("bad name!", "d1"), _event("x", "d1", properties={"time": 1})]
    response = client.post("/sa", data={"data_list": _b64(events, gz=True), "gzip": "1"})
    assert response.status_code == 200
    stats = collector_stats(log=container.log, ops=container.ops, clock=container.clock)
    assert stats["quarantined"] == {"bad_name": 2}
    assert [e["event"] for e in _stored(container)] == ["ok_event"]


def test_native_batch_reports_what_happened(client: TestClient, container: Container) -> None:
    body = {
        "events": [
            {
                "event_id": "e1",
                "event": "ipo_allotment",
                "customer_no": "C9",
                "time": _now_ms(),
                "properties": {"shares": 500},
            },
            {"event_id": "e1", "event": "ipo_allotment", "customer_no": "C9", "time": _now_ms()},
            {
                "event": "autoinvest_deduction_failed",
                "customer_no": "C9",
                "time": "2020-01-01T00:00:00+08:00",
            },
            {"event": "no_time", "customer_no": "C9"},
        ]
    }
    response = client.post("/api/v1/events", json=body)
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "duplicates": 1,
        "quarantined": 2,
        "reasons": {"too_old": 1, "bad_time": 1},
    }
    stored = _stored(container)
    assert [(e["event"], e["customer_no"]) for e in stored] == [("ipo_allotment", "C9")]


def test_posthog_answers_exactly_200(client: TestClient) -> None:
    body = {"api_key": "phc", "batch": [{"event": "e", "distinct_id": "d", "uuid": "u1"}]}
    assert client.post("/batch/", json=body).status_code == 200
    assert (
        client.post(
            "/i/v0/e/", content=gzip.compress(json.dumps(body).encode()), headers={"Content-Encoding": "gzip"}
        ).status_code
        == 200
    )


def test_metrics_in_prometheus_format(client: TestClient) -> None:
    client.post("/api/v1/events", json=[{"event": "x", "customer_no": "C1", "time": _now_ms()}])
    text = client.get("/metrics").text
    assert 'touchpoint_collector_accepted_total{source="native"} 1' in text
    assert 'touchpoint_consumer_lag_records{consumer="compactor"} 1' in text
