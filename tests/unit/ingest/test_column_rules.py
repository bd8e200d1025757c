"""Column rules of the canonical tables refuse values no core system can mean (issue 14, item 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, ImportRejected, import_file

HEADER = "trade_id,customer_no,time,product_code,side,quantity,amount\n"


def _import_trades(container: Container, tmp_path: Path, rows: str, **options: object):  # type: ignore[no-untyped-def]
    path = tmp_path / "trades.csv"
    path.write_text(HEADER + rows)
    return import_file(
        env=container,
        principal=SYSTEM,
        table="trades",
        path=path,
        options=ImportOptions(**options),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        ("T2,C1,2026-03-02 10:00:00,600000,buy,100,-1300\n", "amount", "-1300"),
        ("T2,C1,2026-03-02 10:00:00,600000,sell,-100,1300\n", "quantity", "-100"),
    ],
)
def test_a_negative_trade_amount_or_quantity_is_refused_naming_row_and_column(
    sqlite_container: Container, tmp_path: Path, row: str, column: str, value: str
) -> None:
    good = "T1,C1,2026-03-02 09:31:00,600000,buy,100,1234.5\n"
    with pytest.raises(ImportRejected) as refused:
        _import_trades(sqlite_container, tmp_path, good + row)
    errors = refused.value.report.errors
    assert [(e.row, e.column) for e in errors] == [(2, column)]
    assert "at least 0" in errors[0].reason
    assert float(errors[0].value or "nan") == float(value)


def test_with_skip_bad_rows_the_negative_trade_alone_is_set_aside(
    sqlite_container: Container, tmp_path: Path
) -> None:
    rows = "T1,C1,2026-03-02 09:31:00,600000,buy,100,1234.5\nT2,C1,2026-03-02 10:00:00,600000,buy,100,-5\n"
    report = _import_trades(sqlite_container, tmp_path, rows, skip_bad_rows=True)
    assert (report.rows_imported, report.rows_rejected) == (1, 1)


def test_a_zero_amount_trade_is_accepted(sqlite_container: Container, tmp_path: Path) -> None:
    # A bonus-share or zero-price allotment is recorded with amount 0.
    report = _import_trades(sqlite_container, tmp_path, "T1,C1,2026-03-02 09:31:00,600000,dividend,10,0\n")
    assert report.rows_imported == 1
