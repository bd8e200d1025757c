"""The channels CLI on a small demo, as a new user drives it: templates (list, check, preview, a faulty
template refused), consent, do-not-disturb, the inbox and the message report — each with --json.

The CLI runs on the wall clock; here every command it builds gets a clock frozen at one instant, so the
send-time rules (quiet hours 21:00–08:00 Beijing) take one known branch: 10:00 on a trading day for most
tests, 23:00 for the one about quiet hours."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner, Result

import touchpoint.demo
from touchpoint.bootstrap import Container, build
from touchpoint.cli import main as cli_main
from touchpoint.cli.main import app
from touchpoint.config import Settings, load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.store.operational.schema import journey_outbox

RUNNER = CliRunner()
DAYTIME = datetime(2026, 3, 31, 2, tzinfo=UTC)  # Tuesday 10:00 in Beijing, a session of the exchange
NIGHT = datetime(2026, 3, 31, 15, tzinfo=UTC)  # 23:00 in Beijing, inside the quiet hours


FROZEN_AT: dict[Path, datetime] = {}  # each demo home's instant


def _invoke(home: Path, *args: str) -> Result:
    """One CLI command on `home`, with the clock of every container it builds frozen at the home's instant."""
    instant = FROZEN_AT[home]

    def frozen_build(settings: Settings) -> Container:
        return build(settings, clock=VirtualClock(instant))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli_main, "build", frozen_build)
        return RUNNER.invoke(app, ["--home", str(home), *args])


def _run(home: Path, *args: str, code: int = 0) -> str:
    result = _invoke(home, *args)
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def _json(home: Path, *args: str) -> object:
    return json.loads(_run(home, *args, "--json"))


def _demo_at(instant: datetime, path: Path) -> Path:
    """A small demo made and worked once at `instant`."""
    FROZEN_AT[path] = instant
    _json(path, "demo", "--no-serve", "--customers", "150", "--days", "12", "--seed", "3")
    _run(path, "worker", "--once")
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _demo_at(DAYTIME, tmp_path_factory.mktemp("channels-cli") / "home")


@pytest.fixture(scope="module")
def night_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _demo_at(NIGHT, tmp_path_factory.mktemp("channels-cli-night") / "home")


def test_templates_from_the_cli(home: Path, tmp_path: Path) -> None:
    rows = _json(home, "template", "list")
    assert isinstance(rows, list)
    shipped = sorted(p.stem for p in (Path(touchpoint.demo.__file__).parent / "templates").glob("*.yaml"))
    assert {r["name"]: r["status"] for r in rows} == dict.fromkeys(shipped, "active")
    assert "market_morning_brief" in shipped
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
    result = _invoke(home, "template", "activate", "bad_promo")
    assert result.exit_code != 0
    message = result.output  # a domain error prints as one line, without a traceback
    assert "banned word '保本'" in message
    assert "risk disclosure" in message


def test_at_night_the_morning_brief_waits_for_the_end_of_quiet_hours(night_home: Path) -> None:
    customer, reason = _brief_effect(night_home, "pending")
    assert reason == "delayed: quiet hours until 08:00"
    inbox = _json(night_home, "channel", "inbox", customer)
    assert isinstance(inbox, dict)
    assert inbox["unread"] == 0
    assert _json(night_home, "channel", "messages", customer) == []


def test_consent_dnd_inbox_and_messages(home: Path) -> None:
    # At 10:00 the morning brief goes at once to a customer who consented.
    customer, reason = _brief_effect(home, "sent")
    assert reason is None
    inbox = _json(home, "channel", "inbox", customer)
    assert isinstance(inbox, dict)
    assert inbox["unread"] == 1
    messages = _json(home, "channel", "messages", customer)
    assert isinstance(messages, list)
    assert [m["template"] for m in messages] == ["market_morning_brief"]
    withdrawn = _json(home, "channel", "consent", customer, "--withdraw", "inbox")
    assert isinstance(withdrawn, dict)
    assert withdrawn["channels"]["inbox"] == "opted out of marketing on inbox"
    assert withdrawn["channels"]["sms"] == "marketing consent on the profile"  # the inbox went out on it
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
    trail = _json(home, "audit", "search", "--kind", "customer", "--target", customer)
    assert isinstance(trail, list)
    assert [(e["action"], e["source"]) for e in trail] == [  # newest first, each by the CLI's OS user
        ("do_not_disturb.add", "cli"),
        ("consent.withdraw", "cli"),
    ]
    assert all(e["actor"].startswith("os:") for e in trail)
    report = _json(home, "channel", "report", "--journey", "dormant_wakeup")
    assert isinstance(report, dict)
    assert all(r["channel"] == "inbox" for r in report["templates"])


def _brief_effect(home: Path, status: str) -> tuple[str, str | None]:
    """The first customer (by number) whose morning brief from the demo is in `status`, and its last error."""
    container = build(load_settings(home))
    try:
        with container.ops.begin() as connection:
            query = (
                select(journey_outbox.c.customer_no, journey_outbox.c.last_error)
                .where(journey_outbox.c.node == "content", journey_outbox.c.status == status)
                .order_by(journey_outbox.c.customer_no)
                .limit(1)
            )
            customer, reason = connection.execute(query).one()
        return str(customer), reason
    finally:
        container.close()
