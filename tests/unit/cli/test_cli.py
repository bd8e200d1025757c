"""The CLI as a user drives it: init, import (good and bad), status --json, calendar."""

import json
from pathlib import Path

from typer.testing import CliRunner

import touchpoint.store
from touchpoint.cli.main import app

RUNNER = CliRunner()
VERSIONS = Path(touchpoint.store.__file__).parent / "migrations" / "versions"
TRADES = (
    "trade_id,customer_no,time,product_code,side,quantity,amount\n"
    "T1,C1,2026-03-02 09:31:00,600000,buy,100,12.5\n"
)


def _run(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return RUNNER.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def test_init_creates_the_data_directory(tmp_path: Path) -> None:
    result = _run(tmp_path / "h", "init")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "h" / "touchpoint.db").exists()
    newest = max(p.stem for p in VERSIONS.glob("0*.py"))
    assert f"revision {newest}" in result.output


def test_import_then_status_json(tmp_path: Path) -> None:
    home = tmp_path / "h"
    path = tmp_path / "t.csv"
    path.write_text(TRADES)
    result = _run(home, "import", "trades", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows_imported"] == 1
    status = json.loads(_run(home, "status", "--json").output)
    assert status["home"] == str(home.resolve())
    assert status["operational_store"]["url"].startswith("sqlite:///")
    assert status["tables"]["trades"]["dates"] == {"2026-03-02": 1}
    assert status["tables"]["customers"]["rows"] == 0


def test_rejected_import_exits_1_and_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(TRADES.replace(",buy,", ",hold,"))
    result = _run(tmp_path / "h", "import", "trades", str(path))
    assert result.exit_code == 1
    assert "side" in result.output
    assert "hold" in result.output
    assert "nothing was imported" in result.output


def test_unknown_table_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(TRADES)
    result = RUNNER.invoke(app, ["--home", str(tmp_path / "h"), "import", "orders", str(path)])
    assert result.exit_code != 0
    assert "unknown table 'orders'" in str(result.exception) + result.output


def test_calendar_check_json(tmp_path: Path) -> None:
    result = _run(tmp_path / "h", "calendar", "check", "2025-09-30", "--add", "1", "--json")
    body = json.loads(result.output)
    assert body["is_trading_day"] is True
    assert body["trading_day_at_offset"] == "2025-10-09"
