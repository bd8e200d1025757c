"""Import use cases on both operational stores: rejection, skipping, idempotency, nothing lost."""

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from touchpoint.bootstrap import Container
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, ImportRejected, import_file
from touchpoint.store.operational.schema import audit_log, import_runs

D = date(2026, 3, 2)
CUSTOMERS = """customer_no,name,gender,risk_level,open_date,consent_marketing,occupation
C001,张三,男,C3,2020-01-05,是,教师
C002,李四,F,C2,20200106,0,
C003,王五,M,c4,2020/01/07,yes,工程师
"""
TRADES = """trade_id,customer_no,time,product_code,side,quantity,amount
T1,C001,2026-03-02 09:31:00,600000,buy,100,1234.5
T2,C001,2026-03-02T23:31:00+08:00,600000,sell,100,1300
T3,C002,2026-03-03 10:00:00,000001,buy,200,2400
"""


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _import(container: Container, table: str, path: Path, **options: object):  # type: ignore[no-untyped-def]
    return import_file(
        env=container.import_env, principal=SYSTEM, table=table, path=path, options=ImportOptions(**options)
    )


def _frame(container: Container, table: str) -> pd.DataFrame:
    return container.analytics.table(table).to_pyarrow().to_pandas()


def test_customers_import_normalises_values_and_keeps_extra_columns(
    container: Container, tmp_path: Path
) -> None:
    report = _import(container, "customers", _write(tmp_path, "c.csv", CUSTOMERS), business_date=D)
    assert report.status == "imported"
    assert (report.rows_read, report.rows_imported, report.rows_rejected) == (3, 3, 0)
    assert report.extra_columns == ["occupation"]
    frame = _frame(container, "customers").set_index("customer_no")
    assert frame.loc["C001", "gender"] == "M"
    assert frame.loc["C003", "risk_level"] == "C4"
    assert frame.loc["C002", "open_date"] == date(2020, 1, 6)
    assert frame.loc["C001", "attributes"] == '{"occupation":"教师"}'
    assert bool(frame.loc["C002", "consent_marketing"]) is False


def test_gbk_export_imports_like_utf8(container: Container, tmp_path: Path) -> None:
    report = _import(container, "customers", _write(tmp_path, "c.csv", CUSTOMERS, "gbk"), business_date=D)
    assert report.encoding == "gb18030"
    assert sorted(_frame(container, "customers")["name"]) == sorted(["张三", "李四", "王五"])


BAD_FILES = {
    "bad type": ("trades", TRADES.replace("1234.5", "12x4"), "amount", "not a number"),
    "unknown enum": ("trades", TRADES.replace(",sell,", ",short,"), "side", "unknown value"),
    "duplicate key": ("trades", TRADES.replace("T3,", "T1,"), "trade_id", "duplicate key"),
    "missing value": ("trades", TRADES.replace("T2,C001", "T2,"), "customer_no", "a value is required"),
    "bad time": ("trades", TRADES.replace("2026-03-03 10:00:00", "yesterday"), "time", "not a time"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_rejected_whole_naming_row_and_column_and_nothing_is_lost(
    container: Container, tmp_path: Path, case: str
) -> None:
    table, text, column, reason = BAD_FILES[case]
    _import(container, "trades", _write(tmp_path, "good.csv", TRADES))
    before = _frame(container, "trades").sort_values("trade_id").reset_index(drop=True)

    with pytest.raises(ImportRejected) as caught:
        _import(container, table, _write(tmp_path, "bad.csv", text), force=True)
    report = caught.value.report
    assert report.status == "rejected"
    assert any(e.column == column and reason in e.reason for e in report.errors)
    assert all(e.row >= 1 for e in report.errors)
    assert column in str(caught.value)

    after = _frame(container, "trades").sort_values("trade_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    with container.ops.begin() as connection:
        statuses = [
            r.status for r in connection.execute(select(import_runs).order_by(import_runs.c.started_at))
        ]
    assert statuses == ["imported", "rejected"]


def test_missing_key_column_and_unknown_table_are_named(container: Container, tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", "customer_no,time\nC1,2026-03-02 10:00:00\n")
    with pytest.raises(ValidationError, match=r"missing required column.*trade_id"):
        _import(container, "trades", path)
    with pytest.raises(ValidationError, match="unknown table 'trade'"):
        _import(container, "trade", path)
    snapshot = _write(tmp_path, "c.csv", CUSTOMERS)
    assert _import(container, "customers", snapshot).business_date == D  # defaults to today's business date


def test_skip_bad_rows_imports_the_rest_and_writes_a_reject_file(
    container: Container, tmp_path: Path
) -> None:
    text = TRADES + "T4,C003,2026-03-02 11:00:00,600000,short,1,1\nT5,C003,not-a-time,600000,buy,1,1\n"
    report = _import(container, "trades", _write(tmp_path, "t.csv", text), skip_bad_rows=True)
    assert report.status == "imported_with_rejects"
    assert (report.rows_imported, report.rows_rejected) == (3, 2)
    rejects = pd.read_csv(report.reject_file)
    assert rejects["trade_id"].tolist() == ["T4", "T5"]
    assert rejects["_row"].tolist() == [4, 5]
    assert "side" in rejects["_errors"][0]
    assert sorted(_frame(container, "trades")["trade_id"]) == ["T1", "T2", "T3"]


def test_trades_partition_by_beijing_date(container: Container, tmp_path: Path) -> None:
    report = _import(container, "trades", _write(tmp_path, "t.csv", TRADES))
    assert report.partitions == [date(2026, 3, 2), date(2026, 3, 3)]
    frame = _frame(container, "trades").set_index("trade_id")
    assert frame.loc["T2", "dt"] == date(2026, 3, 2)  # 23:31 Beijing is still the 2nd


def test_reimporting_the_same_file_is_a_no_op(container: Container, tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", TRADES)
    first = _import(container, "trades", path)
    again = _import(container, "trades", _write(tmp_path, "copy.csv", TRADES))
    assert again.status == "already_imported"
    assert again.run_id == first.run_id
    forced = _import(container, "trades", path, force=True)
    assert forced.status == "imported"
    assert len(_frame(container, "trades")) == 3


def test_snapshot_upsert_merges_with_the_previous_snapshot(container: Container, tmp_path: Path) -> None:
    _import(container, "customers", _write(tmp_path, "c1.csv", CUSTOMERS), business_date=D)
    update = "customer_no,name,risk_level\nC002,李四,C5\nC004,赵六,C1\n"
    _import(container, "customers", _write(tmp_path, "c2.csv", update), business_date=date(2026, 3, 3))
    frame = _frame(container, "customers")
    latest = frame[frame["dt"] == date(2026, 3, 3)].set_index("customer_no")
    assert sorted(latest.index) == ["C001", "C002", "C003", "C004"]
    assert latest.loc["C002", "risk_level"] == "C5"
    assert len(frame[frame["dt"] == D]) == 3
    _import(
        container,
        "customers",
        _write(tmp_path, "c3.csv", update),
        business_date=date(2026, 3, 4),
        replace=True,
    )
    assert (
        len(_frame(container, "customers").query("dt == @date(2026, 3, 4)", local_dict={"date": date})) == 2
    )


def test_daily_file_without_date_column_takes_the_date_option(container: Container, tmp_path: Path) -> None:
    path = _write(tmp_path, "a.csv", "customer_no,total_assets,cash\nC001,1000.5,10\n")
    with pytest.raises(ValidationError, match="date"):
        _import(container, "assets", path)
    report = _import(container, "assets", path, business_date=D)
    assert report.partitions == [D]


def test_events_history_in_json_lines(container: Container, tmp_path: Path) -> None:
    lines = [
        '{"event": "fund_detail_view", "customer_no": "C001", "time": "2026-03-02T10:00:00+08:00", '
        '"properties": {"fund_code": "000001"}}',
        '{"event": "$AppStart", "distinct_id": "dev-1", "time": 1772416800000}',
        '{"event": "bad name!", "distinct_id": "dev-1", "time": 1772416800000}',
        '{"event": "login", "distinct_id": "dev-1", "time": "2026-03-02 10:00:00"}',
    ]
    path = _write(tmp_path, "e.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(ImportRejected) as caught:
        _import(container, "events", path)
    assert {(e.row, e.column) for e in caught.value.report.errors} == {(3, "event"), (4, "time")}
    report = _import(container, "events", path, skip_bad_rows=True)
    assert report.rows_imported == 2
    frame = _frame(container, "events").set_index("event")
    assert frame.loc["fund_detail_view", "distinct_id"] == "C001"
    assert frame.loc["$AppStart", "source"] == "import"
    again = _import(container, "events", path, skip_bad_rows=True, force=True)
    assert again.rows_imported == 2
    assert len(_frame(container, "events")) == 2  # derived event ids make history imports idempotent


def test_every_import_is_audited(container: Container, tmp_path: Path) -> None:
    _import(container, "trades", _write(tmp_path, "t.csv", TRADES))
    with container.ops.begin() as connection:
        entries = list(connection.execute(select(audit_log)))
    assert [(e.action, e.target_id, e.actor) for e in entries] == [("import.imported", "trades", "system")]
