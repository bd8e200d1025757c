"""Canonical tables from a Hive metastore's tables (issue 20): `touchpoint warehouse check` and `sync`
against a real metastore (Spark with Hive support, embedded Derby), through the import checks.

The warehouse is built, synced, changed and synced again in one process of its own
(hive_warehouse_run.py): a Spark session's catalog is chosen when its JVM starts, and this worker's may
already be plain Spark.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support import spark_or_skip

pytestmark = pytest.mark.spark

RUN = Path(__file__).with_name("hive_warehouse_run.py")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    spark_or_skip()
    home = tmp_path_factory.mktemp("warehouse") / "home"
    done = subprocess.run(
        [sys.executable, str(RUN), str(home)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=home.parent,  # Derby writes derby.log where it starts
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _said(run: dict[str, Any], step: str) -> Any:
    return json.loads(run["said"][step]["out"])


def _statuses(result: list[dict[str, Any]]) -> dict[str, list[tuple[str, str, int]]]:
    return {t["table"]: [(p["value"], p["status"], p["rows"]) for p in t["partitions"]] for t in result}


def test_check_reads_each_mapped_tables_columns_and_partitions(run: dict[str, Any]) -> None:
    assert run["said"]["check"]["code"] == 0
    checked = {row["table"]: row for row in _said(run, "check")}
    customers = checked["customers"]
    assert {c: s for s, c in customers["select"]} == {
        "customer_no": "cust_id",
        "branch_id": "org_no",
        "risk_level": "risk",
        "open_date": "open_dt",
    }
    assert customers["unmapped"] == ["note"]
    assert (customers["partitions"], customers["first"], customers["last"]) == (1, "20261201", "20261201")
    assert customers["not_dates"] == ["unknown"]
    assert customers["problem"] is None
    assert checked["assets"]["date_from_partition"] is True  # the warehouse table has no date column


def test_first_sync_imports_every_dated_partition_and_skips_the_others(run: dict[str, Any]) -> None:
    assert run["said"]["first"]["code"] == 0
    assert _statuses(_said(run, "first")) == {
        "customers": [("unknown", "skipped", 0), ("20261201", "imported", 3)],
        "assets": [("20261201", "imported", 2)],
        "trades": [("20261201", "imported", 2)],
    }


def test_second_sync_reads_the_last_partition_again_and_the_new_ones(run: dict[str, Any]) -> None:
    """Yesterday rerun in the warehouse is imported again; an unchanged one imports nothing; a bad row stops
    its table with the import's own refusal, and the exit code says so."""
    second = run["said"]["second"]
    assert second["code"] == 1
    assert "refused" in second["error"]
    statuses = _statuses(json.loads(second["out"]))
    assert statuses["customers"][1:] == [("20261201", "imported", 2), ("20261202", "imported", 3)]
    assert statuses["assets"] == [("20261201", "already_imported", 0), ("20261202", "imported", 1)]
    assert statuses["trades"] == [("20261201", "already_imported", 0), ("20261202", "rejected", 0)]
    trades = next(t for t in json.loads(second["out"]) if t["table"] == "trades")
    assert "side" in trades["partitions"][-1]["problem"]
    assert trades["last_synced"] == "20261201"


def test_the_canonical_tables_hold_the_warehouse_rows_converted_as_an_import_converts_them(
    run: dict[str, Any],
) -> None:
    tables = run["tables"]
    first = {row["customer_no"]: row for row in tables["customers@2026-12-01"]}
    assert sorted(first) == ["C1", "C2"]  # the rerun's snapshot replaced the first: C3 left
    assert (first["C2"]["risk_level"], first["C1"]["open_date"]) == ("C5", "2020-01-02")
    assert [r["customer_no"] for r in tables["customers@2026-12-02"]] == ["C1", "C2", "C4"]
    assets = {row["customer_no"]: row for row in tables["assets@2026-12-01"]}
    assert (assets["C1"]["total_assets"], assets["C1"]["cash"], assets["C1"]["date"]) == (
        1000.5,
        10.25,
        "2026-12-01",
    )
    assert assets["C2"]["cash"] is None  # no value, not zero
    trades = {row["trade_id"]: row for row in tables["trades@2026-12-01"]}
    # Hive timestamps are wall-clock times, read as Beijing time: 00:10 on 12-01 is 16:10 UTC the day before
    # and still belongs to the Beijing day 12-01.
    assert trades["T1"]["time"] == "2026-12-01 01:30:00+00:00"
    assert trades["T2"]["time"] == "2026-11-30 16:10:00+00:00"
    assert tables["trades@2026-12-02"] is None
