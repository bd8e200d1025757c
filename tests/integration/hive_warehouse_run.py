"""Run by tests/integration/test_warehouse_hive.py in a process of its own (a Spark session's catalog is fixed
when the JVM starts): a Hive metastore (embedded Derby) with a warehouse's tables, synced twice with
`touchpoint warehouse`, changed in between. Prints what the CLI said and what the canonical tables hold as one
JSON document.

Usage: python hive_warehouse_run.py HOME
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from touchpoint.bootstrap import build
from touchpoint.cli.main import app
from touchpoint.config import load_settings
from touchpoint.store.backends.spark import spark_session

MAPPING = """
recheck = 1

[tables.customers]
source = "dw.dim_cust"
partition = "ds"
partition_format = "%Y%m%d"
columns = { customer_no = "cust_id", branch_id = "org_no", risk_level = "risk", open_date = "open_dt" }

[tables.assets]
source = "dw.fact_asset"
partition = "ds"
partition_format = "%Y%m%d"
columns = { customer_no = "cust_id", total_assets = "tot_ast", cash = "cash_bal" }

[tables.trades]
source = "dw.fact_trade"
partition = "ds"
partition_format = "%Y%m%d"
[tables.trades.columns]
trade_id = "trd_id"
customer_no = "cust_id"
time = "trd_time"
product_code = "prd"
side = "bs"
amount = "amt"
"""


def settings_file(home: Path) -> str:
    """The deployment's touchpoint.toml: Spark's catalog is a Hive metastore in `home`."""
    return f"""
spark_master = "local[1]"

[spark_config]
"spark.sql.catalogImplementation" = "hive"
"spark.sql.warehouse.dir" = "{home / "hive-warehouse"}"
"spark.hadoop.javax.jdo.option.ConnectionURL" = "jdbc:derby:;databaseName={home / "metastore_db"};create=true"
"""


FIRST = [
    "CREATE DATABASE IF NOT EXISTS dw",
    "CREATE TABLE dw.dim_cust (cust_id STRING, org_no STRING, risk STRING, open_dt DATE, note STRING) "
    "PARTITIONED BY (ds STRING) STORED AS PARQUET",
    "INSERT INTO dw.dim_cust PARTITION (ds='20261201') VALUES "
    "('C1', 'B01', 'C3', DATE'2020-01-02', 'x'), ('C2', 'B02', 'c4', NULL, NULL), "
    "('C3', 'B01', NULL, NULL, NULL)",
    "INSERT INTO dw.dim_cust PARTITION (ds='unknown') VALUES ('C9', 'B09', NULL, NULL, NULL)",
    "CREATE TABLE dw.fact_asset (cust_id STRING, tot_ast DECIMAL(18,2), cash_bal DECIMAL(18,2)) "
    "PARTITIONED BY (ds STRING) STORED AS PARQUET",
    "INSERT INTO dw.fact_asset PARTITION (ds='20261201') VALUES ('C1', 1000.50, 10.25), ('C2', 20.00, NULL)",
    "CREATE TABLE dw.fact_trade (trd_id STRING, cust_id STRING, trd_time TIMESTAMP, prd STRING, bs STRING, "
    "amt DOUBLE) PARTITIONED BY (ds STRING) STORED AS PARQUET",
    "INSERT INTO dw.fact_trade PARTITION (ds='20261201') VALUES "
    "('T1', 'C1', TIMESTAMP'2026-12-01 09:30:00', '600000', 'buy', 100.0), "
    "('T2', 'C2', TIMESTAMP'2026-12-01 00:10:00', '510300', 'sell', 50.0)",
]

SECOND = [
    # Yesterday rerun: C2's risk level corrected, C3 gone.
    "INSERT OVERWRITE TABLE dw.dim_cust PARTITION (ds='20261201') VALUES "
    "('C1', 'B01', 'C3', DATE'2020-01-02', 'x'), ('C2', 'B02', 'C5', NULL, NULL)",
    "INSERT INTO dw.dim_cust PARTITION (ds='20261202') VALUES "
    "('C1', 'B01', 'C3', DATE'2020-01-02', 'x'), ('C2', 'B02', 'C5', NULL, NULL), "
    "('C4', 'B03', 'C1', NULL, NULL)",
    "INSERT INTO dw.fact_asset PARTITION (ds='20261202') VALUES ('C1', 1100.00, 5.00)",
    "INSERT INTO dw.fact_trade PARTITION (ds='20261202') VALUES "
    "('T3', 'C4', TIMESTAMP'2026-12-02 10:00:00', '600000', 'short', 1.0)",
]


def main(home: Path) -> None:
    """Build the warehouse, sync, change it, sync again; print everything as JSON."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "touchpoint.toml").write_text(settings_file(home), "utf-8")
    (home / "warehouse.toml").write_text(MAPPING, "utf-8")
    settings = load_settings(home)
    session = spark_session(settings.spark_master, settings.spark_config)
    for statement in FIRST:
        session.sql(statement)
    cli = CliRunner()
    said: dict[str, Any] = {}
    for step, statements in (("check", []), ("first", []), ("second", SECOND)):
        for statement in statements:
            session.sql(statement)
        command = ["check", "--json"] if step == "check" else ["sync", "--json"]
        result = cli.invoke(app, ["--home", str(home), "warehouse", *command])
        said[step] = {"code": result.exit_code, "out": result.stdout, "error": result.stderr}
    container = build(settings)
    try:
        tables = {
            f"{name}@{day}": _rows(container, name, day)
            for name, day in (
                ("customers", "2026-12-01"),
                ("customers", "2026-12-02"),
                ("assets", "2026-12-01"),
                ("assets", "2026-12-02"),
                ("trades", "2026-12-01"),
                ("trades", "2026-12-02"),
            )
        }
    finally:
        container.close()
    print(json.dumps({"said": said, "tables": tables}, default=str))


def _rows(container: Any, name: str, day: str) -> list[dict[str, Any]] | None:
    from datetime import date

    table = container.analytics.read_partition(name, date.fromisoformat(day))
    if table is None:
        return None
    return sorted(table.to_pylist(), key=lambda row: json.dumps(row, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
