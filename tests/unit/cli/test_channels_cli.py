"""The channels CLI on a small demo, as a new user drives it: templates (list, check, preview, a faulty
template refused), consent, do-not-disturb, the inbox and the message report — each with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from touchpoint.bootstrap import build
from touchpoint.cli.main import app
from touchpoint.config import load_settings
from touchpoint.store.operational.schema import journey_outbox

RUNNER = CliRunner()


def _run(home: Path, *args: str, code: int = 0) -> str:
    result = RUNNER.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def _json(home: Path, *args: str) -> object:
    return json.loads(_run(home, *args, "--json"))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("channels-cli") / "home"
    _json(path, "demo", "--no-serve", "--customers", "150", "--days", "12", "--seed", "3")
    _run(path, "worker", "--once")
    return path


def test_templates_from_the_cli(home: Path, tmp_path: Path) -> None:
    rows = _json(home, "template", "list")
    assert isinstance(rows, list)
    assert {r["name"]: r["status"] for r in rows} == {
        "fund_autoinvest_offer": "active",
        "ipo_payment_due": "active",
        "market_morning_brief": "active",
    }
    checked = _json(home, "template", "check", "market_morning_brief")
    assert checked == {"name": "market_morning_brief", "ok": True, "faults": []}
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "name": "bad_promo",
                "title": "违规",
                "channel": "inbox",
                "classification": "marketing",
                "body": "{{ product.name }} 保本保收益",
                "product": "payload.fund_code",
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    saved = _json(home, "template", "save", str(bad))
    assert isinstance(saved, dict)
    assert saved["version"] == 1
    result = RUNNER.invoke(app, ["--home", str(home), "template", "activate", "bad_promo"])
    assert result.exit_code != 0
    message = str(result.exception or result.output)
    assert "banned word '保本'" in message
    assert "risk disclosure" in message


def test_consent_dnd_inbox_and_messages(home: Path) -> None:
    # The demo runs on the wall clock: in Beijing quiet hours (21:00-08:00) the morning brief waits for 08:00.
    customer, status, reason = _brief_effect(home)
    inbox = _json(home, "channel", "inbox", customer)
    assert isinstance(inbox, dict)
    if status == "pending":
        assert reason == "delayed: quiet hours until 08:00"
        assert inbox["unread"] == 0
    else:
        assert status in ("sent", "skipped")
        messages = _json(home, "channel", "messages", customer)
        assert isinstance(messages, list)
        assert messages[0]["template"] == "market_morning_brief"
        assert inbox["unread"] == (status == "sent")
    withdrawn = _json(home, "channel", "consent", customer, "--withdraw", "inbox")
    assert isinstance(withdrawn, dict)
    assert withdrawn["channels"]["inbox"] == "opted out of marketing on inbox"
    assert withdrawn["channels"]["sms"] in ("marketing consent on the profile", "no marketing consent")
    added = _json(home, "channel", "dnd", customer, "--reason", "客户投诉")
    assert isinstance(added, dict)
    assert added["reason"] == "客户投诉"
    listed = _json(home, "channel", "dnd")
    assert isinstance(listed, list)
    assert [r["customer_no"] for r in listed] == [customer]
    numbers = home.parent / "refusals.txt"
    numbers.write_text("C1000001\nC1000002\n\nC1000002\n", encoding="utf-8")
    bulk = _json(home, "channel", "dnd", "--file", str(numbers), "--reason", "谢绝营销名单", "--days", "90")
    assert isinstance(bulk, dict)
    assert bulk["added"] == 2
    assert len(_json(home, "channel", "dnd")) == len({customer, "C1000001", "C1000002"})  # type: ignore[arg-type]
    report = _json(home, "channel", "report", "--journey", "dormant_wakeup")
    assert isinstance(report, dict)
    assert all(r["channel"] == "inbox" for r in report["templates"])


def _brief_effect(home: Path) -> tuple[str, str, str | None]:
    """A customer the demo queued the morning brief for, with that effect's status and last error."""
    container = build(load_settings(home))
    try:
        with container.ops.begin() as connection:
            query = (
                select(journey_outbox.c.customer_no, journey_outbox.c.status, journey_outbox.c.last_error)
                .where(journey_outbox.c.node == "content")
                .order_by(journey_outbox.c.status.desc())
                .limit(1)
            )
            customer, status, reason = connection.execute(query).one()
        return str(customer), str(status), reason
    finally:
        container.close()
