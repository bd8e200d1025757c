"""Import use cases on both operational stores: rejection, skipping, idempotency, nothing lost."""

import hashlib
import io
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from pyroaring import FrozenBitMap
from sqlalchemy import select

from touchpoint.bootstrap import Container
from touchpoint.core.errors import NotFoundError, UnauthorizedError, ValidationError
from touchpoint.governance import SYSTEM, Principal
from touchpoint.ingest import ImportOptions, ImportRejected, import_file
from touchpoint.ingest.history import import_history, read_as_of_import
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
        env=container, principal=SYSTEM, table=table, path=path, options=ImportOptions(**options)
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


# ---- corrections: a key is unique across the whole table (issue 13, fault 5) ----------------------------

NOV30, DEC01 = date(2024, 11, 30), date(2024, 12, 1)
TRADES_V1 = """trade_id,customer_no,time,product_code,side,quantity,amount
T1,C001,2024-11-30 09:31:00,600000,buy,100,1000
T2,C001,2024-11-30 10:00:00,600000,buy,100,2000
T3,C002,2024-11-30 14:00:00,000001,buy,100,3000
T4,C002,2024-11-30 23:50:00,000001,sell,100,4000
T5,C003,2024-12-01 09:40:00,000001,buy,100,5000
"""
# The back office corrects T4: it was booked ten minutes after midnight, for another amount.
TRADES_V2 = TRADES_V1.replace(
    "T4,C002,2024-11-30 23:50:00,000001,sell,100,4000", "T4,C002,2024-12-01 00:10:00,000001,sell,100,4400"
)


def _expected_trades(text: str) -> pd.DataFrame:
    """The trades a file describes, with their Beijing date, computed with pandas alone."""
    frame = pd.read_csv(io.StringIO(text), dtype={"product_code": str})
    frame["dt"] = pd.to_datetime(frame["time"]).dt.date  # naive times are Beijing times
    return frame.set_index("trade_id")[["amount", "dt"]].sort_index()


def _stored_trades(container: Container) -> pd.DataFrame:
    frame = _frame(container, "trades")
    return frame.set_index("trade_id")[["amount", "dt"]].sort_index()


def test_a_trade_corrected_onto_another_beijing_day_is_stored_once(
    container: Container, tmp_path: Path
) -> None:
    _import(container, "trades", _write(tmp_path, "v1.csv", TRADES_V1))
    report = _import(container, "trades", _write(tmp_path, "v2.csv", TRADES_V2))
    stored = _stored_trades(container)
    assert stored.index.is_unique, stored
    pd.testing.assert_frame_equal(stored, _expected_trades(TRADES_V2), check_dtype=False)
    assert stored["amount"].sum() == 1000 + 2000 + 3000 + 4400 + 5000
    # 11-30 lost T4 and 12-01 gained it: the report names both dates it rewrote
    assert report.partitions == [NOV30, DEC01]
    assert {p.dt: p.rows for p in container.analytics.partitions("trades")} == {NOV30: 3, DEC01: 2}


def test_replace_of_one_date_takes_a_moved_trade_out_of_its_old_date(
    container: Container, tmp_path: Path
) -> None:
    _import(container, "trades", _write(tmp_path, "v1.csv", TRADES_V1))
    dec01_only = "\n".join(line for line in TRADES_V2.splitlines() if "2024-11-30" not in line) + "\n"
    _import(container, "trades", _write(tmp_path, "dec01.csv", dec01_only), replace=True)
    stored = _stored_trades(container)
    assert stored.index.is_unique
    assert stored.loc["T4", "dt"] == DEC01
    assert sorted(stored.index) == ["T1", "T2", "T3", "T4", "T5"]


def test_cash_flows_and_events_moved_to_another_day_are_stored_once(
    container: Container, tmp_path: Path
) -> None:
    flows = (
        "flow_id,customer_no,time,direction,amount\n"
        "F1,C001,2024-11-30 23:59:59,in,100\n"
        "F2,C001,2024-11-30 12:00:00,out,50\n"
    )
    _import(container, "cash_flows", _write(tmp_path, "f1.csv", flows))
    _import(
        container,
        "cash_flows",
        _write(tmp_path, "f2.csv", flows.replace("2024-11-30 23:59:59,in,100", "2024-12-01 00:00:00,in,120")),
    )
    stored = _frame(container, "cash_flows")
    assert sorted(stored["flow_id"]) == ["F1", "F2"]
    assert stored.set_index("flow_id").loc["F1", "dt"] == DEC01
    assert stored["amount"].sum() == 170

    event = '{{"event_id": "E1", "event": "login", "distinct_id": "C001", "time": "{time}"}}\n'
    _import(container, "events", _write(tmp_path, "e1.jsonl", event.format(time="2024-11-30T23:59:00+08:00")))
    _import(container, "events", _write(tmp_path, "e2.jsonl", event.format(time="2024-12-01T00:01:00+08:00")))
    events = _frame(container, "events")
    assert events["event_id"].tolist() == ["E1"]
    assert events["dt"].tolist() == [DEC01]


def test_a_corrected_holding_replaces_its_row(container: Container, tmp_path: Path) -> None:
    # A holding's date is part of its key, so its row cannot move: a corrected value replaces it in place.
    holdings = (
        "customer_no,date,product_code,quantity,market_value\n"
        "C001,2024-11-29,600000,100,1000\n"
        "C001,2024-12-02,600000,100,1100\n"
    )
    _import(container, "holdings", _write(tmp_path, "h1.csv", holdings))
    _import(container, "holdings", _write(tmp_path, "h2.csv", holdings.replace("100,1100", "200,2200")))
    stored = _frame(container, "holdings").sort_values("date")
    assert stored[["date", "quantity", "market_value"]].values.tolist() == [
        [date(2024, 11, 29), 100, 1000],
        [date(2024, 12, 2), 200, 2200],
    ]


def test_an_older_file_resent_after_a_correction_is_applied_again_and_reported_truthfully(
    container: Container, tmp_path: Path
) -> None:
    v1 = _write(tmp_path, "v1.csv", TRADES_V1)
    first = _import(container, "trades", v1)
    _import(container, "trades", _write(tmp_path, "v2.csv", TRADES_V2))
    resent = _import(container, "trades", _write(tmp_path, "v1-again.csv", TRADES_V1))
    # the sender means it: the old version becomes the current one again, and the report says it was written
    assert resent.status == "imported"
    assert resent.run_id != first.run_id
    assert resent.rows_imported == 5
    pd.testing.assert_frame_equal(_stored_trades(container), _expected_trades(TRADES_V1), check_dtype=False)
    # the same bytes as the current version of those rows change nothing, and the report says so
    again = _import(container, "trades", v1)
    assert again.status == "already_imported"
    assert again.run_id == resent.run_id
    assert (again.rows_read, again.rows_imported, again.rows_rejected, again.partitions) == (0, 0, 0, [])
    assert "imported 0" in again.summary()


# ---- snapshots keep every import's version (issue 13, fault 10) ---------------------------------------

ALICE = Principal(user="alice", roles=frozenset({"admin"}))
BOB = Principal(user="bob", roles=frozenset({"admin"}))


def _import_as(container: Container, who: Principal, table: str, path: Path, **options: object):  # type: ignore[no-untyped-def]
    return import_file(env=container, principal=who, table=table, path=path, options=ImportOptions(**options))


def _risk(table: pa.Table | None, customer_no: str) -> str:
    assert table is not None
    rows = table.to_pandas().set_index("customer_no")
    return str(rows.loc[customer_no, "risk_level"])


def test_a_snapshot_reimported_for_the_same_date_keeps_each_version_traceable(
    container: Container, tmp_path: Path
) -> None:
    first_file = _write(tmp_path, "c1.csv", CUSTOMERS)
    corrected = _write(tmp_path, "c2.csv", CUSTOMERS.replace("C002,李四,F,C2", "C002,李四,F,C5"))
    first = _import_as(container, ALICE, "customers", first_file, business_date=D)
    container.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    second = _import_as(container, BOB, "customers", corrected, business_date=D)

    versions = import_history(env=container, principal=SYSTEM, table="customers", business_date=D)
    assert [(v.run_id, v.actor, v.sha256, v.rows, v.current) for v in versions] == [
        (first.run_id, "alice", hashlib.sha256(first_file.read_bytes()).hexdigest(), 3, False),
        (second.run_id, "bob", hashlib.sha256(corrected.read_bytes()).hexdigest(), 3, True),
    ]
    assert versions[1].imported_at is not None
    assert versions[0].imported_at is not None
    assert versions[1].imported_at - versions[0].imported_at == timedelta(hours=2)
    assert versions[0].superseded_by == versions[1].version

    def as_of(run_id: str) -> pa.Table | None:
        return read_as_of_import(
            env=container, principal=SYSTEM, table="customers", business_date=D, run_id=run_id
        )

    assert _risk(as_of(first.run_id), "C002") == "C2"
    assert _risk(as_of(second.run_id), "C002") == "C5"
    assert _risk(container.analytics.read_partition("customers", D), "C002") == "C5"
    with pytest.raises(NotFoundError):
        as_of("imp_never")
    with pytest.raises(UnauthorizedError):
        read_as_of_import(
            env=container,
            principal=Principal(user="branch", scope=FrozenBitMap([1])),
            table="customers",
            business_date=D,
            run_id=first.run_id,
        )


def test_a_back_dated_correction_changes_its_date_only_until_later_dates_are_resent(
    container: Container, tmp_path: Path
) -> None:
    d1, d2 = date(2026, 3, 2), date(2026, 3, 3)
    _import(container, "customers", _write(tmp_path, "d1.csv", CUSTOMERS), business_date=d1)
    later = _write(tmp_path, "d2.csv", "customer_no,name,risk_level\nC004,赵六,C1\n")
    _import(container, "customers", later, business_date=d2)  # C002 carried forward from d1 with C2
    correction = _write(tmp_path, "fix.csv", "customer_no,name,risk_level\nC002,李四,C4\n")
    _import(container, "customers", correction, business_date=d1)

    def risk_on(day: date) -> str:
        return _risk(container.analytics.read_partition("customers", day), "C002")

    assert (risk_on(d1), risk_on(d2)) == ("C4", "C2")  # later dates keep what they held
    # re-sending the later date's own file does not carry the correction: it merges onto that date itself
    assert _import(container, "customers", later, business_date=d2).status == "already_imported"
    _import(container, "customers", later, business_date=d2, force=True)
    assert risk_on(d2) == "C2"
    # the correction sent for each later date does
    _import(container, "customers", correction, business_date=d2)
    assert (risk_on(d1), risk_on(d2)) == ("C4", "C4")
