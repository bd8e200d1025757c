"""Journeys driven as a user would: a YAML file through the CLI, the same journey over HTTP, the worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from support import api_client, ingest_keys
from touchpoint.analytics.events import events_between
from touchpoint.bootstrap import Container, build
from touchpoint.cli.main import app
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo, ensure_demo_tags
from touchpoint.governance import SYSTEM
from touchpoint.governance.masking import mask_customer_no
from touchpoint.journeys.service import parse_journey
from touchpoint.journeys.simulate import simulate
from touchpoint.store.operational.schema import journey_runs
from touchpoint.worker.loop import run_pass

END = date(2026, 3, 31)
JOURNEY = {
    "name": "fund_followup",
    "title": "基金浏览跟进",
    "entry": {"type": "event", "event": "fund_detail_view"},
    "start": "wait",
    "nodes": [
        {"id": "wait", "type": "wait", "duration": "1h", "next": "bought"},
        {
            "id": "bought",
            "type": "wait_for_event",
            "event": "fund_subscribe",
            "timeout": "1d",
            "on_event": "done",
            "on_timeout": "nudge",
        },
        {
            "id": "nudge",
            "type": "action",
            "action": {
                "kind": "send",
                "channel": "log",
                "text": "您关注的 {{ payload.fund_code }} 还在等您",
            },
        },
        {"id": "done", "type": "exit"},
    ],
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, Path, VirtualClock]]:
    root = tmp_path_factory.mktemp("journey-cli") / "home"
    clock = VirtualClock(datetime(2026, 3, 31, 8, tzinfo=UTC))
    container = build(load_settings(root), clock=clock)
    params = DemoParams(customers=100, days=10, seed=4, end_date=END)
    ensure_demo(env=container, principal=SYSTEM, params=params)
    ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
    yield container, root, clock
    container.close()


def test_a_yaml_journey_through_the_cli(home: tuple[Container, Path, VirtualClock], tmp_path: Path) -> None:
    _, root, _ = home
    path = tmp_path / "journey.yaml"
    path.write_text(yaml.safe_dump(JOURNEY, allow_unicode=True), encoding="utf-8")
    runner = CliRunner()

    def cli(*args: str) -> dict[str, object]:
        outcome = runner.invoke(app, ["--home", str(root), "journey", *args, "--json"])
        assert outcome.exit_code == 0, outcome.output
        loaded: dict[str, object] = json.loads(outcome.output)
        return loaded

    assert cli("validate", str(path)) == {"name": "fund_followup", "valid": True}
    assert cli("save", str(path))["version"] == 1
    assert cli("publish", "fund_followup")["status"] == "live"
    assert cli("pause", "fund_followup")["status"] == "paused"
    assert cli("resume", "fund_followup")["status"] == "live"
    listed = json.loads(runner.invoke(app, ["--home", str(root), "journey", "list", "--json"]).output)
    assert [(j["name"], j["status"], j["live_version"]) for j in listed] == [("fund_followup", "live", 1)]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(dict(JOURNEY, start="nowhere")), encoding="utf-8")
    refused = runner.invoke(app, ["--home", str(root), "journey", "save", str(broken)])
    assert refused.exit_code != 0
    assert "start: unknown node 'nowhere'" in refused.output


def test_event_entry_over_http_and_the_worker(home: tuple[Container, Path, VirtualClock]) -> None:
    container, _, clock = home
    with api_client(container) as client:
        saved = client.put("/api/v1/journeys/fund_followup", json=JOURNEY)
        assert saved.status_code == 200, saved.text
        assert client.post("/api/v1/journeys/fund_followup/publish", json={}).json()["status"] == "live"
        assert "properties" in client.get("/api/v1/journeys/schema").json()
        bad = client.put("/api/v1/journeys/fund_followup", json=dict(JOURNEY, nodes=JOURNEY["nodes"][:3]))
        assert bad.status_code == 400
        assert "unknown node 'done'" in bad.text
        now = int(clock.now().timestamp() * 1000)
        events = [
            {
                "event_id": f"v{i}",
                "event": "fund_detail_view",
                "customer_no": c,
                "time": now,
                "properties": {"fund_code": "F001"},
            }
            for i, c in enumerate(["C1000001", "C1000002"])
        ]
        key = ingest_keys(container)["native"]
        sent = client.post(
            "/api/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {key}"}
        )
        assert sent.status_code == 200, sent.text
        run_pass(container)
        clock.advance(timedelta(hours=2))
        buy = {
            "event_id": "b1",
            "event": "fund_subscribe",
            "customer_no": "C1000001",
            "time": now + 3_600_000 * 2,
        }
        bought = client.post(
            "/api/v1/events", json={"events": [buy]}, headers={"Authorization": f"Bearer {key}"}
        )
        assert bought.status_code == 200, bought.text
        run_pass(container)
        clock.advance(timedelta(days=1))
        run_pass(container)
        stats = client.get("/api/v1/journeys/fund_followup/stats").json()
        by_node = {n["node"]: n for n in stats["nodes"]}
        assert by_node["bought"]["outcomes"] == {"on_event": 1, "on_timeout": 1}
        assert by_node["nudge"]["actions"] == {"sent": 1, "attempted": 1}
        runs = client.get("/api/v1/customers/C1000002/journeys").json()
        assert runs[0]["status"] == "done"
        assert [s["outcome"] for s in runs[0]["steps"]] == ["next", "on_timeout", "queued"]


def test_simulation_replays_recorded_events_without_touching_live_runs(
    home: tuple[Container, Path, VirtualClock], tmp_path: Path
) -> None:
    container, root, _ = home
    env = container
    first, last = date(2026, 3, 25), date(2026, 3, 29)
    journey = parse_journey(dict(JOURNEY, name="sim_followup"))
    with env.ops.begin() as connection:
        runs_before = connection.execute(select(func.count()).select_from(journey_runs)).scalar_one()
    result = simulate(env=env, journey=journey, start=first, end=last, sample=3)
    with env.ops.begin() as connection:
        assert connection.execute(select(func.count()).select_from(journey_runs)).scalar_one() == runs_before
    views = events_between(container, ["fund_detail_view"], first, last).to_pandas()
    viewers = views.loc[views["customer_no"].notna(), "customer_no"].nunique()
    nodes = {n["node"]: n for n in result["nodes"]}
    assert viewers > 0
    assert nodes["wait"]["entered"] == viewers  # re-entry `never`: each viewer once
    bought = nodes["bought"]
    assert (
        bought["outcomes"].get("on_event", 0)
        + bought["outcomes"].get("on_timeout", 0)
        + bought["waiting"]
        + nodes["wait"]["waiting"]
        == viewers
    )
    assert nodes["nudge"]["actions"].get("sent", 0) == bought["outcomes"].get("on_timeout", 0)
    assert result["paths"]
    assert all(p["steps"][0]["node"] == "wait" for p in result["paths"])
    # The sample's numbers are masked; with the demo's 100 customers (C1000000…C1000099) each mask is one's.
    masked = result["paths"][0]["customer_no"]
    [customer] = [c for c in views["customer_no"].dropna().unique() if mask_customer_no(c) == masked]
    path = tmp_path / "journey.json"
    path.write_text(json.dumps(dict(JOURNEY, name="sim_followup")), encoding="utf-8")
    walked = CliRunner().invoke(
        app,
        ["--home", str(root), "journey", "test", str(path), "--customer", customer,
         "--from", str(first), "--to", str(last), "--json"],
    )  # fmt: skip
    assert walked.exit_code == 0, walked.output
    assert json.loads(walked.output)["paths"][0]["steps"] == result["paths"][0]["steps"]
