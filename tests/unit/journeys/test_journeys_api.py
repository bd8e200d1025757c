"""Journey routes have typed contracts: hostile bodies and parameters never cause a server error and always
answer the one error shape; a journey's runs are listed in bulk, paged, with masked customer numbers (API and
CLI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from support import api_client
from touchpoint.bootstrap import Container, build
from touchpoint.cli.main import app
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.segments.service import mask_customer_no

JOURNEY = {
    "name": "welcome",
    "title": "welcome",
    "entry": {"type": "api"},
    "start": "wait",
    "nodes": [
        {"id": "wait", "type": "wait", "duration": "1d", "next": "note"},
        {"id": "note", "type": "action", "action": {"kind": "send", "channel": "log", "text": "hi"}},
    ],
}
CUSTOMERS = [f"C{1000000 + i}" for i in range(7)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, TestClient, Path]]:
    home = tmp_path_factory.mktemp("journeys-api") / "home"
    container = build(load_settings(home), clock=VirtualClock(datetime(2026, 3, 31, 2, tzinfo=UTC)))
    client = api_client(container)
    assert client.put("/api/v1/journeys/welcome", json=JOURNEY).status_code == 200
    assert client.post("/api/v1/journeys/welcome/publish").status_code == 200
    entered = client.post("/api/v1/journeys/welcome/enter", json={"customers": CUSTOMERS})
    assert entered.json() == {"admitted": 7, "holdout": 0, "refused_by_reentry": 0, "refused_by_cap": 0}
    yield container, client, home
    container.close()


def _shape(body: Any) -> None:
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}
    for detail in body["error"]["details"]:
        assert set(detail) == {"loc", "msg"}


def test_runs_are_listed_in_pages_with_masked_customer_numbers(
    world: tuple[Container, TestClient, Path],
) -> None:
    _, client, _ = world
    first = client.get("/api/v1/journeys/welcome/runs", params={"limit": 4}).json()
    assert len(first["runs"]) == 4
    assert first["next_cursor"] == first["runs"][-1]["run"]
    second = client.get("/api/v1/journeys/welcome/runs", params={"limit": 4, "cursor": first["next_cursor"]})
    rest = second.json()
    assert len(rest["runs"]) == 3
    assert rest["next_cursor"] is None
    shown = sorted(r["customer_no"] for r in first["runs"] + rest["runs"])
    assert shown == sorted(mask_customer_no(c) for c in CUSTOMERS)
    assert not set(shown) & set(CUSTOMERS)
    ready = client.get("/api/v1/journeys/welcome/runs", params={"status": "active"}).json()["runs"]
    assert len(ready) == 7
    assert client.get("/api/v1/journeys/welcome/runs", params={"status": "done"}).json()["runs"] == []
    assert client.get("/api/v1/journeys/welcome/runs", params={"node": "note"}).json()["runs"] == []
    missing = client.get("/api/v1/journeys/nope/runs")
    assert missing.status_code == 404
    _shape(missing.json())
    bad = client.get("/api/v1/journeys/welcome/runs", params={"status": "sideways", "limit": 0})
    assert bad.status_code == 422
    assert {tuple(d["loc"]) for d in bad.json()["error"]["details"]} == {
        ("query", "status"),
        ("query", "limit"),
    }


def test_journey_runs_on_the_command_line(world: tuple[Container, TestClient, Path]) -> None:
    _, _, home = world
    outcome = CliRunner().invoke(
        app, ["--home", str(home), "journey", "runs", "welcome", "--limit", "5", "--json"]
    )
    assert outcome.exit_code == 0, outcome.output
    page = json.loads(outcome.output)
    assert len(page["runs"]) == 5
    assert {r["customer_no"] for r in page["runs"]} <= {mask_customer_no(c) for c in CUSTOMERS}
    table = CliRunner().invoke(
        app, ["--home", str(home), "journey", "runs", "welcome", "--status", "waiting"]
    )
    assert table.exit_code == 0, table.output
    assert "customer" in table.output  # a table with headers


HOSTILE_BODIES: list[Any] = [
    None,
    "not json",
    b"\x00\xff\xfe",
    [],
    [1, 2],
    "x" * 10_000,
    1e308,
    {"customers": "C1"},
    {"customers": [None]},
    {"customers": ["\x00"] * 3, "payload": {"a": [[[[[]]]]]}},
    {"customers": ["C1"] * 10_001},
    {"in_flight": "sideways"},
    {"node_map": {"a": 1}},
    {"entry": {"type": "rocket"}},
    {"nodes": "many"},
    dict(JOURNEY, nodes=[{"id": "x" * 70, "type": "exit"}]),
    dict(JOURNEY, name="Other"),
    dict(JOURNEY, name="other_name"),
    dict(JOURNEY, holdout_percent=float("1e400") if False else 1e300),
    {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {}}}}}}}}},
]
ROUTES = [
    ("put", "/api/v1/journeys/welcome"),
    ("put", "/api/v1/journeys/%00"),
    ("post", "/api/v1/journeys/welcome/publish"),
    ("post", "/api/v1/journeys/welcome/enter"),
    ("post", "/api/v1/journeys/welcome/pause"),
    ("post", "/api/v1/journeys/welcome/explode"),
    ("post", "/api/v1/journeys/nope/stop"),
    ("post", "/api/v1/journey-runs/nope/stop"),
    ("post", "/api/v1/journey-runs/nope/fly"),
    ("get", "/api/v1/journeys/welcome?version=-1"),
    ("get", "/api/v1/journeys/welcome?version=99999999999999999999"),
    ("get", "/api/v1/journeys/welcome/stats"),
    ("get", "/api/v1/journeys/nope/stats"),
    ("get", "/api/v1/journeys/welcome/runs?limit=99999999999999999999&cursor=%00"),
    ("get", "/api/v1/journeys/welcome/runs?node=%27%3B%20drop%20table%20x%3B%20--"),
    ("get", "/api/v1/customers/%00%27/journeys"),
    ("get", "/api/v1/journeys/stuck"),
    ("get", "/api/v1/journeys/schema"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_hostile_input_never_causes_a_server_error(
    world: tuple[Container, TestClient, Path], method: str, path: str
) -> None:
    _, client, _ = world
    for body in HOSTILE_BODIES if method != "get" else [None]:
        if isinstance(body, bytes | str):
            answer = client.request(method, path, content=body, headers={"Content-Type": "application/json"})
        else:
            answer = client.request(method, path, json=body)
        assert answer.status_code < 500, (path, body, answer.text)
        if answer.status_code >= 400:
            _shape(answer.json())
    # Whatever was thrown at them, the routes still work.
    assert client.get("/api/v1/journeys/welcome").json()["name"] == "welcome"


def test_another_method_on_a_read_route_is_405_not_an_unknown_action(
    world: tuple[Container, TestClient, Path],
) -> None:
    _, client, _ = world
    for path in ("/api/v1/journeys/welcome/stats", "/api/v1/journeys/welcome/runs"):
        answer = client.post(path)
        assert answer.status_code == 405, (path, answer.text)
        assert answer.headers["allow"] == "GET"
        assert answer.json()["error"]["code"] == "method_not_allowed"
    assert client.post("/api/v1/journeys/welcome/explode").status_code in (404, 405)


def test_a_journey_name_outside_the_pattern_is_422_naming_the_path(
    world: tuple[Container, TestClient, Path],
) -> None:
    _, client, _ = world
    answer = client.put("/api/v1/journeys/0", json=dict(JOURNEY, name=None))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["loc"] == ["path", "name"]


# The canvas's routes: a check that places each fault on its node, positions kept, one run's path ------------


def test_the_check_places_each_fault_on_the_node_it_concerns_and_saves_nothing(
    world: tuple[Container, TestClient, Path],
) -> None:
    _, client, _ = world
    draft = {
        "name": "draft_one",
        "title": "draft",
        "entry": {"type": "event", "event": "no_such_event"},
        "start": "wait",
        "nodes": [
            {"id": "wait", "type": "wait", "duration": "1d", "next": "gone"},
            {"id": "hook", "type": "action", "action": {"kind": "webhook", "url": "https://crm.example/x"}},
        ],
    }
    found = client.post("/api/v1/journeys/check", json=draft)
    assert found.status_code == 200, found.text
    faults = {(f["node"], f["place"]) for f in found.json()["faults"]}
    # The dangling edge is on its node, the unknown event on none; an unreachable node is judged only once
    # every edge lands.
    assert faults == {("wait", "nodes[0] (wait).next"), (None, "entry.event")}
    draft["nodes"][0]["next"] = "hook"  # type: ignore[index]
    body = client.post("/api/v1/journeys/check", json=draft).json()
    assert [(f["node"], f["place"]) for f in body["faults"]] == [(None, "entry.event")]
    assert "no_such_event" in body["faults"][0]["message"]
    # The webhook would stop publication, not a save: no provider signs it here.
    assert [(f["node"], f["place"]) for f in body["not_ready"]] == [("hook", "nodes.hook.action")]
    assert client.get("/api/v1/journeys/draft_one").status_code == 404


def test_an_unfinished_node_is_a_fault_on_that_node(world: tuple[Container, TestClient, Path]) -> None:
    _, client, _ = world
    draft = dict(JOURNEY, nodes=[{"id": "wait", "type": "wait", "next": "note"}, JOURNEY["nodes"][1]])
    faults = client.post("/api/v1/journeys/check", json=draft).json()["faults"]
    assert [f["node"] for f in faults] == ["wait"]
    assert "exactly one of duration, until_time, until_field" in faults[0]["message"]
    # A body that is no journey at all is still answered with faults, never a server error.
    for hostile in ({}, {"nodes": "x"}, {"nodes": [1, {"id": 5}]}, {"entry": {"type": "nope"}}):
        answer = client.post("/api/v1/journeys/check", json=hostile)
        assert answer.status_code == 200, (hostile, answer.text)
        assert answer.json()["faults"]
    assert client.post("/api/v1/journeys/check", json=JOURNEY).json() == {"faults": [], "not_ready": []}


def test_positions_on_the_canvas_are_kept_with_the_version(world: tuple[Container, TestClient, Path]) -> None:
    _, client, _ = world
    layout = {"entry": {"x": 0.0, "y": -120.0}, "wait": {"x": 0.0, "y": 0.0}, "note": {"x": 40.5, "y": 130.0}}
    saved = client.put("/api/v1/journeys/placed", json=dict(JOURNEY, name="placed", layout=layout))
    assert saved.status_code == 200, saved.text
    assert client.get("/api/v1/journeys/placed").json()["layout"] == layout
    bad = client.put("/api/v1/journeys/placed", json=dict(JOURNEY, layout={"wait": {"x": "far", "y": 0}}))
    assert bad.status_code == 422


def test_one_runs_path_is_read_by_its_id(world: tuple[Container, TestClient, Path]) -> None:
    _, client, _ = world
    run = client.get("/api/v1/journeys/welcome/runs", params={"limit": 1}).json()["runs"][0]
    path = client.get(f"/api/v1/journey-runs/{run['run']}")
    assert path.status_code == 200, path.text
    body = path.json()
    assert (body["run"], body["journey"], body["node"]) == (run["run"], "welcome", run["node"])
    assert (body["status"], body["steps"]) == (run["status"], [])  # admitted, not yet stepped
    assert client.get("/api/v1/journey-runs/run_nope").status_code == 404
