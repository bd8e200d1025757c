"""CLI tables: headers always, never cut when piped, numbers rounded by one rule (issue 14, item 9)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import typer
from typer.testing import CliRunner

from touchpoint.cli.output import fmt, fmt_change, fmt_money, fmt_share, fmt_utc, new_table, print_table


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1234567, "1,234,567"),
        (1234567.891, "1,234,567.89"),
        (0.5, "0.5"),
        (2.0, "2"),
        (-3.14159, "-3.14"),
        (None, "-"),
        (True, "yes"),
        (date(2026, 3, 2), "2026-03-02"),
        (datetime(2026, 3, 2, 9, 31, 5), "2026-03-02 09:31"),
        ("C1000001", "C1000001"),
    ],
)
def test_one_rule_formats_every_cell(value: object, shown: str) -> None:
    assert fmt(value) == shown


def test_shares_are_percentages_with_one_decimal() -> None:
    assert fmt_share(0.12345) == "12.3%"
    assert fmt_share(None) == "-"


def test_a_piped_table_keeps_its_headers_and_every_character() -> None:
    """Under CliRunner stdout is not a terminal, as when piped to `grep` or a file."""
    long_reason = "column amount: must be at least 0 " * 10
    table = new_table("row", "reason", numeric=("row",))
    table.add_row(fmt(12), long_reason.strip())

    def show() -> None:
        print_table(table)

    command = typer.Typer()
    command.command()(show)
    output = CliRunner().invoke(command, [], env={"COLUMNS": "40"}).output
    assert "row" in output
    assert "reason" in output
    assert long_reason.strip() in output  # on one line, not wrapped, folded or cut with …
    assert "…" not in output


def test_amounts_changes_and_utc_instants() -> None:
    assert fmt_money(1234.5) == "1,234.50"  # an amount keeps its fen
    assert fmt_money(None) == "-"
    assert fmt_change(0.25) == "+25.0%"
    assert fmt_change(-0.0333) == "-3.3%"
    assert fmt_change(None) == "-"
    assert fmt_utc("2026-03-31T10:00:00+08:00") == "2026-03-31 02:00"
    assert fmt_utc("2026-03-31T02:00:59") == "2026-03-31 02:00"  # no offset: UTC as stored
    assert fmt_utc(None) == "-"
