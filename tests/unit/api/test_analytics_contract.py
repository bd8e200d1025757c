"""The analytics API under hostile bodies: objects where scalars go, huge numbers, empty bodies, far dates,
long windows, property names that look like JSON paths — never a server error, always the one error shape, a
422 naming the field for a body that breaks the schema; and the typed contract in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import api_client, import_events
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock

BASE = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2026-03-02 00:00 Beijing
RANGE = {"from": "2026-03-02", "to": "2026-03-03"}
FUNNEL = {"steps": [{"event": "view"}, {"event": "buy"}], "window": "1d"} | RANGE
RETENTION = {"start_event": "view", "return_event": "view"} | RANGE
GOOD: dict[str, dict[str, Any]] = {
    "funnel": FUNNEL,
    "funnel/segment": FUNNEL | {"save": {"segment": "hostile_funnel", "step": 2}},
    "retention": RETENTION,
    "retention/segment": RETENTION
    | {"save": {"segment": "hostile_cell", "cohort": "2026-03-02", "offset": 0}},
    "events": {"event": "view"} | RANGE,
    "distribution": {"event": "view"} | RANGE,
    "paths": {"from_event": "view"} | RANGE,
}
ROUTES = list(GOOD)
WHERE: dict[str, tuple[Any, ...]] = {  # where each route takes property filters
    "funnel": ("steps", 0, "where"),
    "funnel/segment": ("steps", 0, "where"),
    "retention": ("start_where",),
    "retention/segment": ("return_where",),
    "events": ("where",),
    "distribution": ("where",),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("hostile") / "home"
    container: Container = build(load_settings(home), clock=VirtualClock(BASE + timedelta(days=1, hours=12)))
    frame = pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4"],
            "distinct_id": ["P1", "P1", "P2", "P2"],
            "event": ["view", "buy", "view", "view"],
            "time": [BASE + timedelta(minutes=m) for m in (10, 40, 20, 1500)],
            "properties": [
                '{"$os": "iOS", "fund.type": "股票型"}',
                "{}",
                '{"fund_type": "x"}',
                '{"$os": "Android"}',
            ],
        }
    )
    import_events(container, frame)
    with api_client(container) as test_client:
        yield test_client
    container.close()


def _post(client: TestClient, route: str, body: object) -> Any:
    return client.post(f"/api/v1/analytics/{route}", json=body)


def _assert_error_shape(answer: Any) -> dict[str, Any]:
    assert answer.status_code < 500, answer.text
    body = answer.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["message"]
    assert all(set(d) == {"loc", "msg"} for d in error["details"])
    return dict(error)


def _with(body: dict[str, Any], path: tuple[Any, ...], value: object) -> dict[str, Any]:
    """A deep copy of `body` with the value at `path` replaced."""
    copied = _copy(body)
    node: Any = copied
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copied


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@pytest.mark.parametrize("route", ROUTES)
def test_a_good_body_runs(client: TestClient, route: str) -> None:
    """A well-formed query runs; saving a segment of people who are not (yet) customers is a 400 saying so."""
    answer = _post(client, route, GOOD[route])
    if route.endswith("segment"):
        assert answer.status_code == 400, answer.text
        assert "no customer numbers" in _assert_error_shape(answer)["message"]
        return
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("route", ROUTES)
def test_hostile_bodies_never_answer_a_server_error(client: TestClient, route: str) -> None:
    good = GOOD[route]
    hostile: list[tuple[object, tuple[Any, ...] | None]] = [  # body, the field a 422 must name (None: any)
        ({}, None),
        ([], None),
        ("text", None),
        (None, None),
        (_with(good, ("from",), {"a": 1}), ("body", "from")),
        (_with(good, ("to",), "9999-12-31"), ("body", "to")),
        (_with(good, ("to",), "2101-01-01"), ("body", "to")),
        (_with(good, ("from",), "-99999999999d"), ("body", "from")),
        (_with(good, ("from",), 10**30), ("body", "from")),
        (_with(good, ("to",), "²"), ("body", "to")),
        (good | {"unknown_field": 1}, ("body", "unknown_field")),
    ]
    if "event" in good:
        hostile += [
            (_with(good, ("event",), {"$..x": 1}), ("body", "event")),
            (_with(good, ("event",), ""), None),
        ]
    if "window" in good:
        hostile += [
            (_with(good, ("window",), "99999999999d"), ("body", "window")),
            (_with(good, ("window",), "9" * 5000 + "d"), ("body", "window")),
            (_with(good, ("window",), {"n": 1}), ("body", "window")),
            (_with(good, ("window",), "3654d"), ("body", "window")),
        ]
    if "periods" in good or route.startswith("retention"):
        hostile += [
            (good | {"periods": 10**30}, ("body", "periods")),
            (good | {"periods": 1e308}, ("body", "periods")),
        ]
    if route in ("events",):
        hostile += [
            (good | {"top": 10**30}, ("body", "top")),
            (good | {"compare_from": "9999-12-31"}, ("body", "compare_from")),
            (good | {"measure": "sum:$..x", "by": "$..x"}, None),
            (good | {"unit": "trading_day", "from": "1990-01-01", "to": "1990-01-05"}, None),
        ]
    if route in WHERE:
        path = WHERE[route]
        hostile += [
            (
                _with(good, path, [{"property": "p", "op": "=", "value": {"a": 1}}]),
                ("body", *path, 0, "value"),
            ),
            (
                _with(good, path, [{"property": "p", "op": "in", "value": [{"a": 1}]}]),
                ("body", *path, 0, "value"),
            ),
            (
                _with(good, path, [{"property": "p", "op": "=", "value": 10**400}]),
                ("body", *path, 0, "value"),
            ),
            (_with(good, path, [{"property": "p", "op": "=", "value": [1, 2]}]), None),
            (_with(good, path, [{"property": "$..x", "op": "=", "value": "x"}]), None),
            (_with(good, path, [{"property": "nobody_sends_this", "op": "exists"}]), None),
            (_with(good, path, [{"property": "p", "op": "=", "value": "\x00'; drop table x; --"}]), None),
            (_with(good, path, {"property": "p"}), ("body", *path)),
        ]
    if "save" in good:
        hostile += [
            (_with(good, ("save",), {}), None),
            (_with(good, ("save", "segment"), {"a": 1}), ("body", "save", "segment")),
        ]
    for body, field in hostile:
        answer = _post(client, route, body)
        if answer.status_code == 200:
            assert field is None, (body, answer.text)
            continue
        error = _assert_error_shape(answer)
        if field is not None:
            assert answer.status_code == 422, (str(body)[:200], answer.text[:500])
            assert list(field) in [d["loc"] for d in error["details"]], (str(body)[:200], error)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.parametrize("route", ROUTES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_values_in_every_field_never_answer_a_server_error(
    client: TestClient, route: str, data: st.DataObject
) -> None:
    good = GOOD[route]
    key = data.draw(st.sampled_from(sorted(good)))
    body = good | {key: data.draw(_json)}
    answer = _post(client, route, body)
    if answer.status_code != 200:
        _assert_error_shape(answer)


def test_the_api_reads_relative_days_as_the_command_line_does(client: TestClient) -> None:
    """Today is 2026-03-03 on the clock: `-1d` … `today` is 03-02 … 03-03, as the dates would be."""
    relative = _post(client, "events", {"event": "view", "from": "-1d", "to": "today"}).json()
    absolute = _post(client, "events", {"event": "view", "from": "2026-03-02", "to": "2026-03-03"}).json()
    assert relative == absolute
    assert (relative["from"], relative["to"]) == ("2026-03-02", "2026-03-03")
    funnel = _post(client, "funnel", GOOD["funnel"] | {"from": "-1td", "to": "today"})
    assert funnel.status_code == 200
    assert funnel.json()["from"] == "2026-03-02"


def test_sensors_preset_properties_match_over_http(client: TestClient) -> None:
    """`$os` is the key "$os", `/fund_type` is not `fund_type`."""
    where = {"event": "view", "from": "2026-03-01", "to": "2026-03-03"}
    ios = _post(client, "events", where | {"where": [{"property": "$os", "value": "iOS"}]}).json()
    assert ios["total"]["count"] == 1
    dotted = _post(client, "events", where | {"where": [{"property": "fund.type", "value": "股票型"}]}).json()
    assert dotted["total"]["count"] == 1
    slash = _post(client, "events", where | {"where": [{"property": "/fund_type", "value": "x"}]}).json()
    assert slash["total"]["count"] == 0


def test_every_analytics_route_has_a_typed_body_and_answer(client: TestClient) -> None:
    """No free-form objects in the contract: each body and each 200 answer refers to a named schema."""
    spec = client.get("/api/v1/openapi.json")
    if spec.status_code == 404:
        spec = client.get("/openapi.json")
    paths = spec.json()["paths"]
    for route in ROUTES:
        operation = paths[f"/api/v1/analytics/{route}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert "$ref" in body, (route, body)
        responses = operation["responses"]
        answer = responses["200"]["content"]["application/json"]["schema"]
        assert "$ref" in answer, (route, answer)
        assert {"400", "422"} <= set(responses), route
