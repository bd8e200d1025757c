"""Every reporting command prints a table with headers, whole when piped, numbers rounded by one rule, and
keeps its --json raw (issue 14, item 9): analytics, journeys, the collector, status, the demo summary,
do-not-disturb.

Under CliRunner stdout is not a terminal, as when a command is piped to `grep` or a file; COLUMNS=40 would
squeeze a table that followed the terminal's width, so a line longer than 80 characters shows it does not."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import touchpoint.demo
from touchpoint.bootstrap import Container, build
from touchpoint.cli import main as cli_main
from touchpoint.cli.main import app
from touchpoint.cli.output import fmt, fmt_money, fmt_share
from touchpoint.config import Settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance.masking import mask_customer_no

RUNNER = CliRunner()
DAYTIME = datetime(2026, 3, 31, 2, tzinfo=UTC)  # Tuesday 10:00 in Beijing
FIRST, LAST = "2026-03-20", "2026-03-31"  # the demo's 12 days
JOURNEYS = Path(touchpoint.demo.__file__).parent / "journeys"
CUT = re.compile(r"…\s*([│┃]|$)", re.MULTILINE)  # how Rich ends a cell it cut
SHARE = re.compile(r"\b\d{1,3}\.\d%")  # a share: a percentage with one decimal


def _invoke(home: Path, *args: str, at: datetime = DAYTIME) -> Result:
    """One CLI command on `home` with every container it builds on a clock frozen at `at`."""

    def frozen_build(settings: Settings) -> Container:
        return build(settings, clock=VirtualClock(at))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli_main, "build", frozen_build)
        return RUNNER.invoke(app, ["--home", str(home), *args], env={"COLUMNS": "40"})


def _run(home: Path, *args: str, at: datetime = DAYTIME) -> str:
    result = _invoke(home, *args, at=at)
    assert result.exit_code == 0, (result.output, result.exception)
    assert not CUT.search(result.output), result.output  # no cell cut short
    return result.output


def _json(home: Path, *args: str, at: datetime = DAYTIME) -> Any:
    return json.loads(_run(home, *args, "--json", at=at))


def _header(output: str, *headers: str) -> str:
    """The line holding every header (they head one table), which must exist."""
    lines = [line for line in output.splitlines() if all(h in line for h in headers)]
    assert lines, f"no header line with {headers} in:\n{output}"
    return lines[0]


def _row(output: str, first: str) -> list[str]:
    """The cells of the table row whose first cell is `first`."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{output}")


def _widest(output: str) -> int:
    return max(len(line) for line in output.splitlines())


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo, its journeys worked once (runs waiting for a login, sends queued)."""
    path = tmp_path_factory.mktemp("report-tables") / "home"
    _json(path, "demo", "--no-serve", "--customers", "150", "--days", "12", "--seed", "3")
    _run(path, "worker", "--once")
    return path


# Analytics -------------------------------------------------------------------------------------------------


def test_event_trend_is_a_table_with_a_total_and_rounded_measures(home: Path) -> None:
    logins = ("analytics", "events", "--event", "login", "--from", FIRST, "--to", LAST)
    shown = _run(home, *logins)
    _header(shown, "日期 date", "事件 events", "客户 customers", "人均 per customer")
    raw = _json(home, *logins)["total"]
    assert isinstance(raw["per_customer"], float)  # --json keeps the raw number
    assert raw["per_customer"] == round(raw["count"] / raw["customers"], 4)
    assert _row(shown, "合计 total")[1:] == [
        fmt(raw["count"]),
        fmt(raw["customers"]),
        fmt(raw["per_customer"]),
    ]
    assert len(fmt(raw["per_customer"]).partition(".")[2]) <= 2
    subscribed = ("analytics", "events", "--event", "fund_subscribe", "--from", FIRST, "--to", LAST)
    measured = _run(home, *subscribed, "--measure", "avg:amount", "--by", "channel")
    _header(measured, "分组 group", "avg:amount")
    value = _json(home, *subscribed, "--measure", "avg:amount")["total"]["value"]
    assert isinstance(value, float)
    assert _row(_run(home, *subscribed, "--measure", "avg:amount"), "合计 total")[-1] == fmt_money(value)


def test_distribution_shows_customers_and_their_share(home: Path) -> None:
    args = ("analytics", "distribution", "--event", "login", "--from", FIRST, "--to", LAST)
    shown = _run(home, *args)
    _header(shown, "次数 times", "客户 customers", "占比 share")
    buckets = _json(home, *args)["buckets"]
    assert all(isinstance(b["customers"], int) for b in buckets)
    total = sum(b["customers"] for b in buckets)
    for bucket in buckets:
        share = fmt_share(bucket["customers"] / total)
        assert _row(shown, bucket["times"])[1:] == [fmt(bucket["customers"]), share]


def test_paths_retention_and_funnel_have_headers_and_percentages(home: Path) -> None:
    paths = ("analytics", "paths", "--from", FIRST, "--to", LAST, "--from-event", "login", "--steps", "3")
    shown = _run(home, *paths)
    _header(shown, "从 from", "到 to", "会话 sessions")
    [link, *_] = _json(home, *paths)["links"]
    assert any(link["source"] in line and link["target"] in line for line in shown.splitlines())
    retention = ("analytics", "retention", "--start-event", "login", "--return-event", "login")
    shown = _run(home, *retention, "--from", FIRST, "--to", "2026-03-25", "--periods", "3")
    _header(shown, "批次 cohort", "人数 size", "+1", "+3")
    assert SHARE.search(shown)
    funnel = ("analytics", "funnel", "--steps", "fund_detail_view,fund_compare,fund_subscribe")
    shown = _run(home, *funnel, "--window", "7d", "--from", FIRST, "--to", LAST)
    _header(shown, "步骤 step", "客户 customers", "环比 vs prev", "总体 vs first")
    assert "100.0%" in shown


# Journeys --------------------------------------------------------------------------------------------------


def test_journey_list_is_a_table_of_whole_rows(home: Path) -> None:
    shown = _run(home, "journey", "list")
    _header(shown, "name", "title", "status", "live", "latest")
    row = next(line for line in shown.splitlines() if "ipo_payment_reminder" in line)
    assert "新股中签缴款提醒" in row  # the title on the journey's own line, not wrapped under it
    assert "v1" in row


def test_journey_stats_per_node_with_the_goal_as_percentages(home: Path) -> None:
    shown = _run(home, "journey", "stats", "dormant_wakeup")
    _header(shown, "node", "type", "entered", "waiting", "outcomes", "actions")
    assert _widest(shown) > 80  # as wide as its rows, not the 80 columns Rich gives a pipe
    goal = _json(home, "journey", "stats", "dormant_wakeup")["goal"]
    assert isinstance(goal["treated"]["rate"], float)  # raw in --json
    line = next(line for line in shown.splitlines() if line.startswith("goal"))
    assert f"treated {fmt_share(goal['treated']['rate'])} " in line


def test_journey_runs_in_bulk_and_of_one_customer(home: Path) -> None:
    page = _json(home, "journey", "runs", "dormant_wakeup", "--limit", "3")
    shown = _run(home, "journey", "runs", "dormant_wakeup", "--limit", "3")
    _header(shown, "run", "customer", "status", "entered (UTC)", "wake at (UTC)")
    first = page["runs"][0]
    assert "*" in first["customer_no"]
    row = next(line for line in shown.splitlines() if first["run"] in line)
    assert first["customer_no"] in row
    assert first["entered_at"][:16].replace("T", " ") in row
    # The bulk list is masked; `runs --customer` is one customer asked for by number.
    candidates = [
        c for c in (f"C{1000000 + i}" for i in range(150)) if mask_customer_no(c) == first["customer_no"]
    ]
    customer = next(
        c
        for c in candidates
        if first["run"] in {r["run"] for r in _json(home, "journey", "runs", "--customer", c)}
    )
    shown = _run(home, "journey", "runs", "--customer", customer)
    _header(shown, "run", "journey", "status", "node", "last step", "wake at (UTC)")
    assert first["run"] in shown


def test_stuck_runs_are_listed_by_run_without_customer_numbers(home: Path) -> None:
    later = DAYTIME + timedelta(days=9)  # past the wake-at of runs waiting a week for a login
    found = _json(home, "journey", "stuck", at=later)["stuck"]
    assert found
    shown = _run(home, "journey", "stuck", at=later)
    assert f"{fmt(len(found))} stuck run(s)" in shown
    _header(shown, "run", "journey", "node", "wake at (UTC)", "errors")
    assert found[0]["run"] in shown
    assert not any(run["customer_no"] in shown for run in found)


def test_a_simulation_prints_tables_and_masks_its_sample_paths(home: Path) -> None:
    args = ("journey", "simulate", str(JOURNEYS / "ipo_payment_reminder.yaml"), "--from", FIRST, "--to", LAST)
    result = _json(home, *args)
    assert result["paths"]
    shown = _run(home, *args)
    _header(shown, "node", "type", "entered", "waiting", "outcomes", "actions")
    _header(shown, "at", "node", "what", "detail")
    for path in result["paths"]:
        assert re.fullmatch(r"C10\*\*\*\d\d", path["customer_no"]), path["customer_no"]
        assert f"{path['customer_no']} · {path['status']}" in shown
    assert not re.search(r"C1\d{6}", shown)  # no whole customer number anywhere in the printed report
    goal = result["goal"]["treated"]
    assert f"treated {fmt_share(goal['rate'])} ({fmt(goal['converted'])} of {fmt(goal['runs'])})" in shown


def test_a_saved_journey_is_simulated_by_name_as_its_file_is(home: Path) -> None:
    """The demo journeys are saved: `journey simulate NAME` replays the newest version without a file."""
    by_file = _json(
        home,
        "journey",
        "simulate",
        str(JOURNEYS / "ipo_payment_reminder.yaml"),
        "--from",
        FIRST,
        "--to",
        LAST,
    )
    by_name = _json(home, "journey", "simulate", "ipo_payment_reminder", "--from", FIRST, "--to", LAST)
    assert by_name["entered"] == by_file["entered"]
    assert by_name["runs"] == by_file["runs"]
    missing = _invoke(home, "journey", "simulate", "no_such_journey", "--from", FIRST, "--to", LAST)
    assert missing.exit_code == 1
    assert "no such file, and no saved journey of that name" in missing.output
    assert "Traceback" not in missing.output


# Elsewhere -------------------------------------------------------------------------------------------------


def test_status_and_the_demo_summary_count_rows_with_thousands_separators(home: Path) -> None:
    rows = _json(home, "status")["tables"]["holdings"]["rows"]
    assert isinstance(rows, int)
    assert rows >= 1_000
    shown = _run(home, "status")
    _header(shown, "table", "rows", "dates", "first", "last")
    assert f" {fmt(rows)} " in next(line for line in shown.splitlines() if "holdings" in line)
    summary = _run(home, "demo", "--no-serve", "--customers", "150", "--days", "12", "--seed", "3")
    _header(summary, "table · 表", "rows · 行数")
    assert f"{rows:,}" in summary
    _header(_run(home, "collector", "stats"), "metric", "label", "value")


def test_a_long_value_is_printed_whole_on_its_row(home: Path) -> None:
    reason = (
        "客户来电要求暂停一切营销联系，直至其本人另行书面通知为止 · asked by phone to stop all marketing " * 3
    )
    _run(home, "channel", "dnd", "C1000007", "--reason", reason.strip())
    shown = _run(home, "channel", "dnd")
    _header(shown, "customer", "reason · 原因", "until (UTC)", "added by")
    row = next(line for line in shown.splitlines() if "C1000007" in line)
    assert reason.strip() in row
    assert _widest(shown) > 80
    _run(home, "channel", "dnd", "C1000007", "--remove")
