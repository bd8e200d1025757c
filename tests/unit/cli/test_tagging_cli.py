"""The tag-management CLI on a small demo: every reporting command answers --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from touchpoint.cli.main import app
from touchpoint.tags.definitions_io import default_library

RUNNER = CliRunner()


def _run(home: Path, *args: str) -> str:
    result = RUNNER.invoke(app, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _json(home: Path, *args: str) -> object:
    return json.loads(_run(home, *args, "--json"))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "home"
    summary = _json(path, "demo", "--no-serve", "--customers", "200", "--days", "15", "--seed", "5")
    assert isinstance(summary, dict)
    assert summary["computed"]["tags"] >= 30
    return path


def test_lists_and_details(home: Path) -> None:
    indicators = _json(home, "indicator", "list")
    tags = _json(home, "tag", "list")
    assert isinstance(indicators, list)
    assert isinstance(tags, list)
    assert len(indicators) >= 40
    assert len(tags) >= 30
    detail = _json(home, "tag", "show", "asset_tier")
    assert isinstance(detail, dict)
    assert detail["population"] == 200
    assert detail["lineage"]["indicators"] == ["total_assets"]
    shown = _json(home, "indicator", "show", "total_assets")
    assert isinstance(shown, dict)
    assert "tag asset_tier" in shown["read_by"]
    members = _json(home, "tag", "members", "asset_tier", "大众", "--limit", "3")
    assert isinstance(members, dict)
    assert len(members["customers"]) == min(3, members["count"])
    runs = _json(home, "compute", "--runs")
    assert isinstance(runs, list)
    assert runs[0]["status"] == "succeeded"
    tree = _json(home, "tag", "tree")
    assert isinstance(tree, list)
    assert [node["name"] for node in tree][:3] == ["基础属性", "资产", "交易行为"]
    view = _json(home, "customer", "show", "C1000000")
    assert isinstance(view, dict)
    assert view["tags"]["values"]["asset_tier"] in ("高净值", "富裕", "大众", "长尾")


def test_export_plan_dry_run_and_refusal(home: Path, tmp_path: Path) -> None:
    exported = tmp_path / "config"
    _run(home, "definitions", "export", str(exported))
    kinds = {p.name for p in exported.iterdir()}
    assert {"indicator", "tag", "segment", "template", "journey"} <= kinds
    plan = _json(home, "definitions", "plan", str(exported))
    assert isinstance(plan, dict)
    assert plan["changes"] == 0
    assert {i["action"] for i in plan["items"]} == {"unchanged"}
    tier = exported / "tag" / "asset_tier.yaml"
    tier.write_text(tier.read_text(encoding="utf-8").replace("high_net_worth: 6000000", "high_net_worth: 1"))
    plan = _json(home, "definitions", "plan", str(exported))
    assert isinstance(plan, dict)
    assert [(i["kind"], i["name"]) for i in plan["items"] if i["action"] == "update"] == [
        ("tag", "asset_tier")
    ]
    diff = next(i["diff"] for i in plan["items"] if i["action"] == "update")
    assert "-  high_net_worth: 6000000\n+  high_net_worth: 1\n" in diff
    # The demo requires approval of a definitions apply, as `touchpoint init` does: nothing changes yet.
    held = _json(home, "definitions", "apply", str(exported))
    assert isinstance(held, dict)
    assert held["applied"] is False
    assert held["pending_approval"]["action"] == "definitions.apply"
    assert "high_net_worth: 6000000" in _run(home, "definitions", "get", "tag", "asset_tier")
    request = str(held["pending_approval"]["id"])
    refused = RUNNER.invoke(app, ["--home", str(home), "approval", "approve", request, "--reason", "ok"])
    assert refused.exit_code != 0
    assert "四眼原则" in refused.output
    _run(home, "approval", "withdraw", request)
    library = tmp_path / "lib.yaml"
    library.write_text(default_library().replace("high_net_worth: 6000000", "high_net_worth: 1"))
    dry = _json(home, "definitions", "dry-run", str(library), "--sample", "50")
    assert isinstance(dry, dict)
    assert dry["tags"]["asset_tier"]["distribution"].get("高净值", 0) == dry["sample"] == 50
    refused = RUNNER.invoke(app, ["--home", str(home), "indicator", "delete", "total_assets"])
    assert refused.exit_code != 0
    # A domain error is one line on stderr, not an exception (issue 14: no traceback for bad input).
    assert "is read by" in refused.output
    assert "tag asset_tier" in refused.output
    assert "Traceback" not in refused.output
