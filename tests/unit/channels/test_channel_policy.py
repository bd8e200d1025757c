"""The channel policy as a registry definition (issue 15 item 5): `channel_policy/default` replaces the
settings' [channel_policy] for every send, travels through export → plan → apply, is refused naming the
faulty field, audited, and seen by another process within seconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from support import api_client
from touchpoint.bootstrap import Container, build
from touchpoint.channels import channel_policy as policy_module
from touchpoint.channels.channel_policy import save_policy
from touchpoint.config import ChannelPolicy, load_settings
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM, audit
from touchpoint.governance.registry import read_directory, write_directory
from unit.channels import test_dispatch
from unit.channels.test_dispatch import _journey, _outbox, _phones, _run

world = test_dispatch.world  # the dispatcher's brokerage and SMS gateway
EARLY_QUIET = {"quiet_start": "20:00:00", "quiet_end": "08:00:00"}


def test_quiet_hours_moved_through_the_registry_hold_a_2030_send(world: Any) -> None:
    container, clock, gateway = world
    _journey(container, "evening_promo", "fund_promo")
    clock.set(datetime(2026, 3, 31, 12, 30, tzinfo=UTC))  # 20:30 Beijing: outside the settings' 21:00
    _run(container, "evening_promo", ["C4OK"], {"fund_code": "F002"})
    assert _phones(gateway) == ["13800000002"]

    done = container.registry.apply(SYSTEM, {"channel_policy": {"default": EARLY_QUIET}})
    assert done.applied
    assert container.effective_channel_policy().source == "registry"
    _run(container, "evening_promo", ["C2OK"], {"fund_code": "F002"})
    assert _phones(gateway) == ["13800000002"]  # held now
    [held] = [o for o in _outbox(container) if o["status"] == "pending"]
    assert held["last_error"] == "delayed: quiet hours until 08:00"
    assert held["next_attempt_at"] == datetime(2026, 4, 1, 0, 0, tzinfo=UTC)

    container.registry.delete(SYSTEM, "channel_policy", "default")  # back to the settings' policy
    assert container.channel_policy.quiet_start.hour == 21
    assert container.effective_channel_policy().source == "settings"


def test_the_policy_survives_export_plan_and_apply_to_another_installation(
    container: Container, tmp_path: Path
) -> None:
    assert container.effective_channel_policy().source == "settings"
    policy = ChannelPolicy.model_validate(
        {**EARLY_QUIET, "banned_words": ["稳赚"], "risk_test_valid_days": 365}
    )
    saved = save_policy(registry=container.registry, principal=SYSTEM, policy=policy)
    assert (saved.changed, saved.version) == (True, 1)
    assert container.channel_policy == policy
    folder = tmp_path / "config"
    write_directory(folder, container.registry.export())
    assert (folder / "channel_policy" / "default.yaml").is_file()
    plan = container.registry.plan(read_directory(folder))
    assert plan.changes == 0
    assert [i.action for i in plan.items if i.kind == "channel_policy"] == ["unchanged"]

    other = build(load_settings(tmp_path / "other"))
    try:
        assert other.registry.apply(SYSTEM, read_directory(folder)).applied
        assert other.channel_policy == policy
        assert other.registry.plan(read_directory(folder)).changes == 0
    finally:
        other.close()


def test_a_bad_policy_is_refused_naming_the_field(container: Container) -> None:
    with pytest.raises(ValidationError, match="quiet_start"):
        container.registry.plan({"channel_policy": {"default": {"quiet_start": "25:00"}}})
    with pytest.raises(ValidationError, match="risk_test_valid_days"):
        container.registry.save(SYSTEM, "channel_policy", "default", {"risk_test_valid_days": 0})
    with pytest.raises(ValidationError, match="unknown_rule"):
        container.registry.save(SYSTEM, "channel_policy", "default", {"unknown_rule": 1})
    with pytest.raises(ValidationError, match="one definition, named 'default'"):
        container.registry.save(SYSTEM, "channel_policy", "evening", {})
    assert container.registry.list("channel_policy") == {}


def test_a_change_is_audited_with_before_and_after(container: Container) -> None:
    container.registry.save(SYSTEM, "channel_policy", "default", EARLY_QUIET)
    [entry] = audit.search(container.ops, action="channel_policy.save")
    assert (entry.target_type, entry.target_id) == ("channel_policy", "default")
    assert entry.before is None
    assert entry.after is not None
    assert entry.after["quiet_start"] == "20:00:00"


def test_another_process_sees_the_change_within_seconds(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = build(container.settings, clock=container.clock, migrate=False)
    try:
        assert other.channel_policy.quiet_start.hour == 21
        container.registry.save(SYSTEM, "channel_policy", "default", EARLY_QUIET)
        assert container.channel_policy.quiet_start.hour == 20  # this process: at once
        assert other.channel_policy.quiet_start.hour == 21  # the other: its version checked seconds ago
        later = policy_module.time.monotonic() + policy_module.RECHECK_SECONDS + 1
        monkeypatch.setattr(policy_module.time, "monotonic", lambda: later)
        assert other.channel_policy.quiet_start.hour == 20
    finally:
        other.close()


def test_the_api_reads_and_puts_the_effective_policy(container: Container) -> None:
    client = api_client(container, roles=("operator",))
    read = client.get("/api/v1/channels/policy")
    assert read.status_code == 200
    assert (read.json()["source"], read.json()["version"]) == ("settings", 0)
    body = {**read.json()["policy"], "quiet_start": "20:00:00"}
    put = client.put("/api/v1/channels/policy", json=body)
    assert put.status_code == 200, put.text
    assert (put.json()["source"], put.json()["version"], put.json()["changed"]) == ("registry", 1, True)
    assert client.get("/api/v1/channels/policy").json()["policy"]["quiet_start"] == "20:00:00"
    bad = client.put("/api/v1/channels/policy", json={**body, "quiet_end": "later"})
    assert bad.status_code == 422
    assert "quiet_end" in bad.text
    listed = client.get("/api/v1/registry/channel_policy")
    assert listed.status_code == 200
    assert listed.json()["default"]["quiet_start"] == "20:00:00"

    analyst = api_client(container, roles=("analyst",))  # reads channels, writes no channel settings
    assert analyst.get("/api/v1/registry/channel_policy").status_code == 200
    assert analyst.put("/api/v1/channels/policy", json=body).status_code == 403
    advisor = api_client(container, roles=("data_engineer",))
    assert advisor.get("/api/v1/registry/mot_rule").status_code == 403  # moment:read, not mot_rule:read


def test_the_cli_shows_and_sets_the_policy(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from touchpoint.cli.main import app

    runner, home = CliRunner(), str(tmp_path / "home")
    shown = runner.invoke(app, ["--home", home, "channel", "policy", "show"])
    assert shown.exit_code == 0, shown.output
    assert "settings [channel_policy]" in shown.output
    good, bad = tmp_path / "policy.yaml", tmp_path / "bad.yaml"
    good.write_text('quiet_start: "20:00"\n', encoding="utf-8")
    bad.write_text('quiet_start: "26:00"\n', encoding="utf-8")
    assert (
        "saved as version 1"
        in runner.invoke(app, ["--home", home, "channel", "policy", "set", str(good)]).output
    )
    refused = runner.invoke(app, ["--home", home, "channel", "policy", "set", str(bad)])
    assert refused.exit_code != 0
    assert "quiet_start" in refused.output + str(refused.stderr_bytes or b"", "utf-8")
    shown = runner.invoke(app, ["--home", home, "channel", "policy", "show", "--json"])
    assert (json.loads(shown.output)["source"], json.loads(shown.output)["version"]) == ("registry", 1)
