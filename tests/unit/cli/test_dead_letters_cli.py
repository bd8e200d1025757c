"""`touchpoint collector dead-letters [--retry ID] [--json]` and the line in `touchpoint status`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from touchpoint.bootstrap import build
from touchpoint.cli.main import app
from touchpoint.config import load_settings
from touchpoint.core.events import LogEntry
from touchpoint.identity.service import process_log
from touchpoint.ingest.collector.timing import to_millis

RUNNER = CliRunner()


def _run(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return RUNNER.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def _with_a_dead_letter(home: Path) -> None:
    container = build(load_settings(home))
    try:
        now = container.clock.now()
        body = {
            "event_id": "bad",
            "kind": "track",
            "event": "login",
            "time": to_millis(now),
            "distinct_id": "x" * 300,
            "ids": {"customer_no": "x" * 300},
            "source": "native",
        }
        container.log.append([LogEntry(None, "bad", body)], received_at=now)
        process_log(env=container, log=container.log)
    finally:
        container.close()


def test_dead_letters_listed_retried_and_counted_in_status(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert "dead letters     0 unresolved" in _run(home, "status").output
    _with_a_dead_letter(home)

    shown = _run(home, "collector", "dead-letters")
    assert shown.exit_code == 0, shown.output
    assert "identity" in shown.output
    assert "300 characters long" in shown.output
    assert "1 unresolved" in shown.output
    page = json.loads(_run(home, "collector", "dead-letters", "--json").output)
    (letter,) = page["items"]
    assert (letter["consumer"], letter["status"], letter["record"]["event_id"]) == ("identity", "open", "bad")

    retried = _run(home, "collector", "dead-letters", "--retry", str(letter["id"]), "--json")
    assert json.loads(retried.output)["status"] == "retrying"
    status = _run(home, "status")
    assert "dead letters     1 unresolved (identity 1) — touchpoint collector dead-letters" in status.output
    assert json.loads(_run(home, "status", "--json").output)["dead_letters"]["unresolved"] == 1


def test_bad_arguments_are_said_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "h"
    missing = RUNNER.invoke(app, ["--home", str(home), "collector", "dead-letters", "--retry", "42"])
    assert missing.exit_code != 0
    assert "no dead letter 42" in missing.output
    assert "Traceback" not in missing.output
    wrong = RUNNER.invoke(app, ["--home", str(home), "collector", "dead-letters", "--status", "lost"])
    assert wrong.exit_code == 2
    assert "open, retrying or resolved" in wrong.output
