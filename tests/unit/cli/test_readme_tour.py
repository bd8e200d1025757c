"""The README tour's import commands work as written on a fresh clone (issue 14, item 9): every file they
name ships in examples/, and each command ends as its comment says (the file with bad rows is refused whole,
then imported with --skip-bad-rows)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from touchpoint.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
RUNNER = CliRunner()


def _tour_import_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip().startswith("touchpoint import ")]


def test_the_tour_imports_name_only_shipped_files() -> None:
    lines = _tour_import_lines()
    assert len(lines) >= 7
    for line in lines:
        for word in shlex.split(line, comments=True):
            if "/" in word or word.endswith((".csv", ".parquet", ".jsonl")):
                assert (ROOT / word).is_file(), f"{line}: {word} is not in the repository"


def test_the_tour_imports_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the tour is run from the clone's root
    home = tmp_path / "h"
    for line in _tour_import_lines():
        argv = shlex.split(line, comments=True)[1:]
        result = RUNNER.invoke(app, ["--home", str(home), *argv])
        expected = 1 if "refused whole" in line else 0
        assert result.exit_code == expected, (line, result.output)
        assert "Traceback" not in result.output
        if "refused whole" in line:
            assert "side" in result.output, result.output
            assert "amount" in result.output, result.output
