"""Warehouse mapping and sync: the file's checks, which partitions a sync reads, and what a refusal stops.

The warehouse here is an in-memory stand-in for the port (`WarehouseSource`); the real one, Spark over a Hive
metastore, is driven end to end in tests/integration/test_warehouse_hive.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from touchpoint.bootstrap import Container
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.ingest.warehouse import (
    STATE_KEY,
    MappedTable,
    WarehouseMap,
    load_warehouse_map,
    plan_columns,
    sync_warehouse,
)
from touchpoint.store.backends.hive import quote_identifier, quote_table
from touchpoint.store.operational import meta


class Warehouse:
    """Tables as {partition value: rows}; records every partition read."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, list[dict[str, object]]]] = {}
        self.reads: list[tuple[str, str]] = []

    def columns(self, table: str) -> dict[str, bool]:
        if table not in self.tables:
            raise LookupError(f"the warehouse has no table {table}")
        names = {key for rows in self.tables[table].values() for row in rows for key in row}
        return dict.fromkeys(sorted(names), False) | {"ds": True}

    def partitions(self, table: str, column: str) -> list[str]:
        return sorted(self.tables[table])

    def read(self, table: str, select: Sequence[tuple[str, str]], column: str, value: str) -> pa.Table:
        self.reads.append((table, value))
        rows = self.tables[table][value]
        return pa.table({name: [row.get(src) for row in rows] for src, name in select})


def _customers(*rows: tuple[str, str]) -> list[dict[str, object]]:
    return [{"cust_id": no, "risk": risk} for no, risk in rows]


CUSTOMERS = MappedTable(
    source="dw.cust",
    partition="ds",
    partition_format="%d%m%Y",  # day first: text order is not date order
    columns={"customer_no": "cust_id", "risk_level": "risk"},
)


@pytest.fixture
def warehouse() -> Warehouse:
    found = Warehouse()
    found.tables["dw.cust"] = {
        "02032026": _customers(("C1", "C3"), ("C2", "C4")),
        "01042026": _customers(("C1", "C3"), ("C2", "C5")),
        "03032026": _customers(("C1", "C2")),
    }
    return found


def _sync(container: Container, warehouse: Warehouse, mapping: WarehouseMap, **options: object) -> list:  # type: ignore[type-arg]
    return sync_warehouse(env=container, principal=SYSTEM, mapping=mapping, source=warehouse, **options)  # type: ignore[arg-type]


def _statuses(result: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(p.value, p.status) for p in result[0].partitions]


def test_partitions_are_read_in_date_order_and_a_rerun_reads_the_last_again(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    mapping = WarehouseMap(tables={"customers": CUSTOMERS}, recheck=1)
    first = _sync(sqlite_container, warehouse, mapping)
    assert _statuses(first) == [("02032026", "imported"), ("03032026", "imported"), ("01042026", "imported")]
    assert first[0].last_synced == "01042026"
    snapshot = sqlite_container.analytics.read_partition("customers", date(2026, 4, 1))
    assert snapshot is not None
    risks = zip(snapshot["customer_no"].to_pylist(), snapshot["risk_level"].to_pylist(), strict=True)
    assert dict(risks) == {"C1": "C3", "C2": "C5"}
    warehouse.reads.clear()
    again = _sync(sqlite_container, warehouse, mapping)
    assert _statuses(again) == [("01042026", "already_imported")]
    assert warehouse.reads == [("dw.cust", "01042026")]


def test_no_recheck_reads_only_new_partitions_and_since_reads_from_a_date(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    mapping = WarehouseMap(tables={"customers": CUSTOMERS}, recheck=0)
    _sync(sqlite_container, warehouse, mapping)
    warehouse.tables["dw.cust"]["02042026"] = _customers(("C1", "C1"))
    assert _statuses(_sync(sqlite_container, warehouse, mapping)) == [("02042026", "imported")]
    since = _sync(sqlite_container, warehouse, mapping, since=date(2026, 3, 3))
    assert [v for v, _ in _statuses(since)] == ["03032026", "01042026", "02042026"]


def test_a_refused_partition_stops_its_table_and_is_read_again_next_time(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    warehouse.tables["dw.cust"]["03032026"] = _customers(("C1", "C9"))  # no such risk level
    mapping = WarehouseMap(tables={"customers": CUSTOMERS}, recheck=0)
    result = _sync(sqlite_container, warehouse, mapping)
    assert _statuses(result) == [("02032026", "imported"), ("03032026", "rejected")]
    assert result[0].failed
    assert "risk_level" in (result[0].partitions[-1].problem or "")
    assert result[0].last_synced == "02032026"
    assert sqlite_container.analytics.read_partition("customers", date(2026, 4, 1)) is None
    warehouse.tables["dw.cust"]["03032026"] = _customers(("C1", "C1"))  # fixed in the warehouse
    assert _statuses(_sync(sqlite_container, warehouse, mapping)) == [
        ("03032026", "imported"),
        ("01042026", "imported"),
    ]


def test_a_partition_that_is_no_date_is_skipped_not_a_failure(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    warehouse.tables["dw.cust"]["__HIVE_DEFAULT_PARTITION__"] = _customers(("C7", "C1"))
    result = _sync(sqlite_container, warehouse, WarehouseMap(tables={"customers": CUSTOMERS}))
    skipped = [p for p in result[0].partitions if p.status == "skipped"]
    assert [p.value for p in skipped] == ["__HIVE_DEFAULT_PARTITION__"]
    assert "%d%m%Y" in (skipped[0].problem or "")
    assert not result[0].failed


def test_a_table_mapped_to_another_source_starts_over(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    _sync(sqlite_container, warehouse, WarehouseMap(tables={"customers": CUSTOMERS}))
    warehouse.tables["dw.cust_v2"] = {"05042026": _customers(("C1", "C2"))}
    moved = CUSTOMERS.model_copy(update={"source": "dw.cust_v2"})
    result = _sync(sqlite_container, warehouse, WarehouseMap(tables={"customers": moved}))
    assert _statuses(result) == [("05042026", "imported")]
    with sqlite_container.ops.begin() as connection:
        assert meta.get_value(connection, STATE_KEY + "customers") == {
            "source": "dw.cust_v2",
            "partition": "05042026",
            "date": "2026-04-05",
        }


def test_a_dated_table_without_a_date_column_takes_the_partitions_date(
    sqlite_container: Container,
) -> None:
    warehouse = Warehouse()
    warehouse.tables["dw.asset"] = {"20260302": [{"cust_id": "C1", "total_assets": 5.5}]}
    mapping = WarehouseMap(
        tables={
            "assets": MappedTable(
                source="dw.asset",
                partition="ds",
                partition_format="%Y%m%d",
                columns={"customer_no": "cust_id"},
            )
        }
    )
    plan = plan_columns("assets", mapping.tables["assets"], warehouse)
    assert plan.date_from_partition
    assert ("total_assets", "total_assets") in plan.select  # same name: read without being mapped
    _sync(sqlite_container, warehouse, mapping)
    rows = sqlite_container.analytics.read_partition("assets", date(2026, 3, 2))
    assert rows is not None
    assert rows.select(["customer_no", "date", "total_assets"]).to_pylist() == [
        {"customer_no": "C1", "date": date(2026, 3, 2), "total_assets": 5.5}
    ]


def test_a_required_column_nothing_provides_is_named_before_anything_is_read(
    sqlite_container: Container,
) -> None:
    warehouse = Warehouse()
    warehouse.tables["dw.trade"] = {"20260302": [{"trd_id": "T1", "cust_id": "C1"}]}
    mapped = MappedTable(source="dw.trade", partition="ds", columns={"trade_id": "trd_id"})
    assert plan_columns("trades", mapped, warehouse).missing_required == [
        "customer_no",
        "time",
        "product_code",
        "side",
    ]
    with pytest.raises(ValidationError, match="customer_no, time, product_code, side"):
        _sync(sqlite_container, warehouse, WarehouseMap(tables={"trades": mapped}))
    assert warehouse.reads == []
    wrong = MappedTable(source="dw.trade", partition="ds", columns={"trade_id": "trade_no"})
    with pytest.raises(ValidationError, match="no column 'trade_no'"):
        plan_columns("trades", wrong, warehouse)
    gone = MappedTable(source="dw.trades_old", partition="ds")
    with pytest.raises(ValidationError, match=r"trades: the warehouse has no table dw\.trades_old"):
        plan_columns("trades", gone, warehouse)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[tables.clients]\nsource='dw.c'\npartition='ds'", "unknown canonical table 'clients'"),
        ("[tables.customers]\nsource='dw.c'\npartition='ds'\ncolumns={nick='n'}", "no canonical columns"),
        ("[tables.customers]\nsource='dw.c; DROP TABLE x'\npartition='ds'", "is not `database.table`"),
        ("[tables.customers]\nsource='dw.c'\npartition='ds`'", "is not a column name"),
        ("[tables.customers]\nsource='dw.c'\npartition='ds'\ncolumns={name='a b'}", "not column names"),
        ("[tables.customers]\nsource='dw.c'\npartition='ds'\ncolour=1", "tables.customers.colour"),
        ("recheck = 99", "recheck"),
        ("[tables.customers\n", "not valid TOML"),
    ],
)
def test_a_bad_mapping_file_is_refused_naming_what_is_wrong(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = tmp_path / "warehouse.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ValidationError, match=r"warehouse\.toml") as refused:
        load_warehouse_map(path)
    assert complaint in str(refused.value)


def test_a_missing_mapping_file_says_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=str(tmp_path / "nowhere.toml")):
        load_warehouse_map(tmp_path / "nowhere.toml")


@pytest.mark.parametrize("name", ["a`b", "a b", "1a", "a;b", "", "a.b"])
def test_only_plain_names_are_quoted_into_warehouse_sql(name: str) -> None:
    with pytest.raises(ValueError, match="plain"):
        quote_identifier(name)
    assert quote_table("dw.cust") == "`dw`.`cust`"
    with pytest.raises(ValueError, match=r"database\.table"):
        quote_table("a.b.c")


def test_an_empty_partition_is_refused_and_stops_its_table(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    """A snapshot of nobody is a warehouse job that has not finished, not a brokerage without customers."""
    warehouse.tables["dw.cust"]["03032026"] = []
    result = _sync(sqlite_container, warehouse, WarehouseMap(tables={"customers": CUSTOMERS}))
    assert _statuses(result) == [("02032026", "imported"), ("03032026", "rejected")]
    assert "no rows" in (result[0].partitions[-1].problem or "")
    assert sqlite_container.analytics.read_partition("customers", date(2026, 3, 3)) is None


def test_two_partitions_of_one_day_are_refused_before_anything_is_read(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    hourly = CUSTOMERS.model_copy(update={"partition_format": "%d%m%Y%H"})
    warehouse.tables["dw.cust"] = {
        "0203202609": _customers(("C1", "C1")),
        "0203202610": _customers(("C2", "C2")),
    }
    with pytest.raises(ValidationError, match="are both 2026-03-02"):
        _sync(sqlite_container, warehouse, WarehouseMap(tables={"customers": hourly}))
    assert warehouse.reads == []


def test_a_mapping_fault_in_a_later_table_stops_the_sync_before_the_first_is_imported(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    broken = MappedTable(source="dw.cust", partition="day", columns={"product_code": "cust_id"})
    mapping = WarehouseMap(tables={"customers": CUSTOMERS, "products": broken})
    with pytest.raises(ValidationError, match="no partition column 'day'"):
        _sync(sqlite_container, warehouse, mapping)
    assert warehouse.reads == []


def test_rows_of_another_day_in_a_replacing_partition_are_refused(sqlite_container: Container) -> None:
    warehouse = Warehouse()
    warehouse.tables["dw.asset"] = {
        "20260302": [{"cust_id": "C1", "date": date(2026, 3, 2), "total_assets": 5.0}],
        "20260303": [
            {"cust_id": "C1", "date": date(2026, 3, 3), "total_assets": 6.0},
            {"cust_id": "C2", "date": date(2026, 3, 2), "total_assets": 7.0},  # a late correction
        ],
    }
    mapped = MappedTable(
        source="dw.asset", partition="ds", partition_format="%Y%m%d", columns={"customer_no": "cust_id"}
    )
    result = _sync(sqlite_container, warehouse, WarehouseMap(tables={"assets": mapped}))
    assert _statuses(result) == [("20260302", "imported"), ("20260303", "rejected")]
    assert "2026-03-02" in (result[0].partitions[-1].problem or "")
    merged = mapped.model_copy(update={"replace": False})
    again = _sync(sqlite_container, warehouse, WarehouseMap(tables={"assets": merged}))
    assert _statuses(again)[-1] == ("20260303", "imported")
    day = sqlite_container.analytics.read_partition("assets", date(2026, 3, 2))
    assert day is not None
    assert sorted(day["customer_no"].to_pylist()) == ["C1", "C2"]  # merged by key, C1 kept


def test_a_snapshot_table_mapped_not_to_replace_merges_into_the_days_before(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    """A warehouse table of each day's changed customers only."""
    changes = CUSTOMERS.model_copy(update={"replace": False})
    warehouse.tables["dw.cust"] = {
        "02032026": _customers(("C1", "C3"), ("C2", "C4")),
        "03032026": _customers(("C2", "C5")),
    }
    _sync(sqlite_container, warehouse, WarehouseMap(tables={"customers": changes}))
    day = sqlite_container.analytics.read_partition("customers", date(2026, 3, 3))
    assert day is not None
    risks = zip(day["customer_no"].to_pylist(), day["risk_level"].to_pylist(), strict=True)
    assert dict(risks) == {"C1": "C3", "C2": "C5"}


def test_a_partition_that_cannot_be_read_fails_its_table_with_the_reason(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    def unreadable(table: str, select: Sequence[tuple[str, str]], column: str, value: str) -> pa.Table:
        raise OSError(f"file of {value} is gone")

    warehouse.read = unreadable  # type: ignore[method-assign]
    result = _sync(sqlite_container, warehouse, WarehouseMap(tables={"customers": CUSTOMERS}))
    assert _statuses(result) == [("02032026", "failed")]
    assert result[0].failed
    assert "file of 02032026 is gone" in (result[0].partitions[0].problem or "")


def test_a_changed_partition_format_keeps_the_place(
    sqlite_container: Container, warehouse: Warehouse
) -> None:
    mapping = WarehouseMap(tables={"customers": CUSTOMERS}, recheck=0)
    _sync(sqlite_container, warehouse, mapping)
    warehouse.tables["dw.cust"] = {
        "2026-04-01": _customers(("C1", "C3")),
        "2026-04-02": _customers(("C1", "C1")),
    }
    iso = CUSTOMERS.model_copy(update={"partition_format": "%Y-%m-%d"})
    result = _sync(sqlite_container, warehouse, WarehouseMap(tables={"customers": iso}, recheck=0))
    assert _statuses(result) == [("2026-04-02", "imported")]


def test_events_are_not_mapped_from_a_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.toml"
    path.write_text("[tables.events]\nsource='dw.ev'\npartition='ds'", "utf-8")
    with pytest.raises(ValidationError, match="UTC offset"):
        load_warehouse_map(path)
