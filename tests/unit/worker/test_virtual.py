"""`touchpoint worker --clock virtual`: the live worker run through time on a staging data directory, stopping
at each scheduled instant instead of every minute; `--jobs` and bad options through the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from touchpoint.bootstrap import build
from touchpoint.cli.main import app
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.journeys.runtime import admit
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.store.operational.schema import channel_log, journey_runs

EVENING = {
    "name": "evening_note",
    "title": "evening note",
    "entry": {"type": "api"},
    "start": "evening",
    "nodes": [
        {"id": "evening", "type": "wait", "until_time": "22:30", "next": "later"},
        {"id": "later", "type": "wait", "duration": "3d", "next": "note"},
        {"id": "note", "type": "action", "action": {"kind": "send", "channel": "log", "text": "hello"}},
    ],
}


def _staging(home: Path) -> None:
    """A staging directory with a live journey and one customer admitted at 21:00 Beijing, 31 March."""
    container = build(load_settings(home), clock=VirtualClock(datetime(2026, 3, 31, 13, tzinfo=UTC)))
    try:
        env = container
        save_journey(env=env, principal=SYSTEM, journey=parse_journey(EVENING))
        publish(env=env, principal=SYSTEM, name="evening_note")
        admit(env=env, name="evening_note", customers=["C1"])
    finally:
        container.close()


def _worker(home: Path, *args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(app, ["--home", str(home), "worker", *args])
    return outcome.exit_code, outcome.output


def test_a_virtual_week_runs_in_a_few_passes_and_keeps_the_schedule(tmp_path: Path) -> None:
    home = tmp_path / "staging"
    _staging(home)
    code, output = _worker(
        home, "--clock", "virtual", "--start", "2026-03-31T21:00", "--until", "+7d", "--json"
    )
    assert code == 0, output
    summary = json.loads(output)
    assert summary["ended_at"] == "2026-04-07T21:00:00+08:00"
    assert summary["journey_runs_advanced"] >= 2
    # It stops where something is due (21:00, 22:30, 22:30 three days on) and at each Beijing midnight —
    # not at every minute of the week.
    assert summary["instants"] <= 12
    container = build(load_settings(home), clock=VirtualClock(datetime(2026, 4, 8, tzinfo=UTC)))
    try:
        with container.ops.begin() as connection:
            assert connection.execute(select(journey_runs.c.status)).scalar_one() == "done"
            [(content, at)] = connection.execute(select(channel_log.c.content, channel_log.c.at)).all()
    finally:
        container.close()
    assert content == "hello"
    assert at.replace(tzinfo=UTC) == datetime(2026, 4, 3, 14, 30, tzinfo=UTC)  # 22:30 Beijing, 3 days on


def test_a_step_bounds_each_jump(tmp_path: Path) -> None:
    home = tmp_path / "staging"
    _staging(home)
    code, output = _worker(
        home, "--clock", "virtual", "--start", "2026-03-31T21:00", "--until", "+1d", "--step", "1h", "--json"
    )
    assert code == 0, output
    assert json.loads(output)["instants"] >= 24


def test_only_the_chosen_jobs_run_on_the_virtual_clock(tmp_path: Path) -> None:
    home = tmp_path / "staging"
    _staging(home)
    code, output = _worker(
        home, "--jobs", "consumers,dispatch", "--clock", "virtual", "--start", "2026-03-31T21:00",
        "--until", "+7d", "--json",
    )  # fmt: skip
    assert code == 0, output
    assert json.loads(output)["journey_runs_advanced"] == 0  # no timers job: nothing advances


def test_bad_worker_options_are_refused_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "staging"
    for args, said in [
        (("--jobs", "mailer", "--once"), "unknown worker job 'mailer'"),
        (("--clock", "virtual"), "needs --until"),
        (("--clock", "virtual", "--start", "2026-03-31", "--until", "2026-03-30"), "is not after"),
        (("--clock", "virtual", "--until", "tomorrow"), "--until 'tomorrow'"),
        (("--clock", "warp", "--once"), "choose system or virtual"),
        (("--until", "+1d", "--once"), "need --clock virtual"),
    ]:
        code, output = _worker(home, *args)
        assert code != 0, args
        assert said in output, (args, output)
        assert "Traceback" not in output
