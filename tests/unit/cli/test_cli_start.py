"""`touchpoint --help` and `touchpoint version` start without the heavy libraries (issue 14, item 9).

Importing the stores, pandas, DuckDB, ibis or scikit-learn costs seconds; the entry module registers every
subcommand lazily, so only the command that runs imports them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from touchpoint.cli.main import LAZY_ENTRIES, app, load_entry

HEAVY = (
    "sklearn",
    "scipy",
    "pandas",
    "pyarrow",
    "duckdb",
    "ibis",
    "exchange_calendars",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "sqlalchemy",
    "alembic",
)


def _heavy_modules_after(code: str) -> list[str]:
    """The heavy top-level packages in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    return sorted(loaded & set(HEAVY))


def test_the_entry_module_imports_no_heavy_library() -> None:
    assert _heavy_modules_after("import touchpoint.cli.main") == []


@pytest.mark.parametrize("args", [["--help"], ["version"]])
def test_help_and_version_import_no_heavy_library(args: list[str]) -> None:
    code = (
        "import sys\nfrom touchpoint.cli.main import app\n"
        f"sys.argv = ['touchpoint', *{args!r}]\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    assert _heavy_modules_after(code) == []


def test_every_lazy_command_is_listed_with_its_own_help() -> None:
    """The help shown by `touchpoint --help` is the first paragraph of the command's real help."""
    for entry in LAZY_ENTRIES:
        real = load_entry(entry)
        first_paragraph = " ".join((real.help or "").split("\n\n")[0].split())
        assert entry.help == first_paragraph, entry.name


def test_a_lazy_group_runs_its_subcommands() -> None:
    result = CliRunner().invoke(app, ["calendar", "check", "2026-10-01", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["is_trading_day"] is False


def test_top_level_help_lists_every_command_without_loading_it() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for entry in LAZY_ENTRIES:
        assert entry.name in result.output
