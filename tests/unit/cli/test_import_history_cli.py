"""`touchpoint import history TABLE [--date D] [--json]`: the versions imports wrote: who, when, what."""

import getpass
import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from touchpoint.cli.main import app

RUNNER = CliRunner()
CUSTOMERS = "customer_no,name,risk_level\nC001,张三,C2\nC002,李四,C3\n"


OS_ACTOR = f"os:{getpass.getuser()}"  # the CLI records the operating-system user


def _run(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return RUNNER.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def test_history_lists_each_import_of_a_date_and_a_resend_is_reported_truthfully(tmp_path: Path) -> None:
    home = tmp_path / "h"
    first, second = tmp_path / "c1.csv", tmp_path / "c2.csv"
    first.write_text(CUSTOMERS)
    second.write_text(CUSTOMERS.replace("C001,张三,C2", "C001,张三,C5"))
    runs = []
    for path in (first, second):
        result = _run(home, "import", "customers", str(path), "--date", "2026-03-02", "--json")
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.output)["run_id"])
    _run(home, "import", "customers", str(first), "--date", "2026-03-03")

    listed = json.loads(_run(home, "import", "history", "customers", "--date", "2026-03-02", "--json").output)
    assert [(v["run_id"], v["sha256"], v["rows"], v["current"], v["actor"]) for v in listed] == [
        (runs[0], hashlib.sha256(first.read_bytes()).hexdigest(), 2, False, OS_ACTOR),
        (runs[1], hashlib.sha256(second.read_bytes()).hexdigest(), 2, True, OS_ACTOR),
    ]
    every_date = json.loads(_run(home, "import", "history", "customers", "--json").output)
    assert [v["date"] for v in every_date] == ["2026-03-02", "2026-03-02", "2026-03-03"]

    shown = _run(home, "import", "history", "customers", "--date", "2026-03-02")
    assert shown.exit_code == 0
    lines = [line for line in shown.output.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].startswith(f"2026-03-02  v1  replaced by v2  2 rows  by {OS_ACTOR}")
    assert runs[0] in lines[0]
    assert hashlib.sha256(first.read_bytes()).hexdigest() in lines[0]

    again = _run(home, "import", "customers", str(second), "--date", "2026-03-02")
    assert "already_imported" in again.output
    assert "imported 0" in again.output
    assert "nothing was read or written" in again.output
