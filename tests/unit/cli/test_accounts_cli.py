"""`touchpoint audit verify`: exit code 0 on an intact log, 1 naming each broken entry on a tampered one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from touchpoint.bootstrap import build
from touchpoint.cli.main import app
from touchpoint.config import load_settings
from touchpoint.governance import Principal
from touchpoint.governance.audit import record
from touchpoint.store.operational.schema import audit_log

RUNNER = CliRunner()


def _run(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return RUNNER.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def _two_entries_the_second_edited(home: Path) -> None:
    container = build(load_settings(home))
    try:
        for target in ("s1", "s2"):
            record(
                container.ops,
                clock=container.clock,
                principal=Principal(user="alice", source="api:10.0.0.7"),
                action="segment.export",
                target_type="segment",
                target_id=target,
                after={"rows": 1},
            )
        with container.ops.begin() as connection:
            connection.execute(update(audit_log).where(audit_log.c.seq == 2).values(after={"rows": 999}))
    finally:
        container.close()


def test_verify_exits_1_on_a_tampered_log_and_names_the_entry_in_plain_text(tmp_path: Path) -> None:
    home = tmp_path / "h"
    intact = _run(home, "audit", "verify")
    assert intact.exit_code == 0, intact.output
    assert "audit log intact" in intact.output

    _two_entries_the_second_edited(home)
    shown = _run(home, "audit", "verify")

    assert shown.exit_code == 1, shown.output
    assert "entry 2: its content does not match its hash (the entry was edited)" in shown.output
    assert "[red]" not in shown.output
    assert "[/" not in shown.output
