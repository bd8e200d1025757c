"""Publishing checks what a journey's actions need from the settings: a `webhook` action is refused while
`[channels.webhook]` is not configured (it could only fail at run time), over the CLI and the API alike, and
is published once the provider is there."""

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
from touchpoint.cli import main as cli_main
from touchpoint.cli.main import app
from touchpoint.config import Settings, load_settings
from touchpoint.core.clock import VirtualClock

CLOCK = datetime(2026, 3, 31, 2, tzinfo=UTC)
WEBHOOK = {"provider": "webhook", "url": "https://crm.example.test/hooks", "secret": "hook-secret"}


def _hooked(name: str) -> dict[str, Any]:
    """An API-entry journey that notes, then posts to the CRM: the webhook is its second node."""
    return {
        "name": name,
        "title": name,
        "entry": {"type": "api"},
        "start": "note",
        "nodes": [
            {
                "id": "note",
                "type": "action",
                "action": {"kind": "send", "channel": "log", "text": "hi"},
                "next": "tell_crm",
            },
            {
                "id": "tell_crm",
                "type": "action",
                "action": {"kind": "webhook", "url": "https://crm.example/h"},
            },
        ],
    }


def _world(home: Path, **settings: Any) -> Iterator[tuple[Container, TestClient, Path]]:
    """A container on `home` shared by the API and every CLI command run meanwhile."""
    container = build(load_settings(home, **settings), clock=VirtualClock(CLOCK))

    def same_container(_settings: Settings) -> Container:
        return container

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli_main, "build", same_container)
        yield container, api_client(container), home
    container.close()


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[tuple[Container, TestClient, Path]]:
    """No [channels.webhook] in the settings."""
    yield from _world(tmp_path / "bare")


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[tuple[Container, TestClient, Path]]:
    """[channels.webhook] configured."""
    yield from _world(tmp_path / "wired", channels={"webhook": WEBHOOK})


def _assert_names_the_node_and_the_setting(message: str) -> None:
    assert "nodes.tell_crm.action" in message
    assert "channels.webhook" in message
    assert "not configured" in message
    assert "未配置 webhook 渠道" in message


def test_the_api_refuses_to_publish_a_webhook_action_without_the_provider(
    bare: tuple[Container, TestClient, Path],
) -> None:
    _, client, _ = bare
    assert (
        client.put("/api/v1/journeys/hooked", json=_hooked("hooked")).status_code == 200
    )  # a draft may wait
    refused = client.post("/api/v1/journeys/hooked/publish")
    assert refused.status_code == 400
    _assert_names_the_node_and_the_setting(refused.json()["error"]["message"])
    [row] = client.get("/api/v1/journeys").json()
    assert row["status"] == "draft"


def test_the_cli_refuses_to_publish_a_webhook_action_without_the_provider(
    bare: tuple[Container, TestClient, Path], tmp_path: Path
) -> None:
    _, client, home = bare
    path = tmp_path / "hooked.json"
    path.write_text(json.dumps(_hooked("hooked")), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["--home", str(home), "journey", "save", str(path)]).exit_code == 0
    refused = runner.invoke(app, ["--home", str(home), "journey", "publish", "hooked"])
    assert refused.exit_code == 1
    assert "Traceback" not in refused.output
    _assert_names_the_node_and_the_setting(" ".join(refused.output.split()))
    [row] = client.get("/api/v1/journeys").json()
    assert row["status"] == "draft"


def test_a_webhook_action_is_published_once_the_provider_is_configured(
    wired: tuple[Container, TestClient, Path], tmp_path: Path
) -> None:
    _, client, home = wired
    assert client.put("/api/v1/journeys/over_api", json=_hooked("over_api")).status_code == 200
    published = client.post("/api/v1/journeys/over_api/publish")
    assert published.status_code == 200, published.json()
    assert published.json()["status"] == "live"
    path = tmp_path / "over_cli.json"
    path.write_text(json.dumps(_hooked("over_cli")), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["--home", str(home), "journey", "save", str(path)]).exit_code == 0
    outcome = runner.invoke(app, ["--home", str(home), "journey", "publish", "over_cli", "--json"])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.output)["status"] == "live"
