"""The SQL each engine is sent for the default library's indicators, kept in `tests/contract/sql/`.

A change of Ibis, sqlglot or the indicator compiler that changes what DuckDB or Spark runs shows up here as a
diff to read, not only as a changed number somewhere. The expressions are compiled over empty tables of the
canonical layouts on each engine (the compiler picks engine-specific forms, such as event properties).
`TOUCHPOINT_UPDATE_SQL=1 pytest tests/contract/test_compiled_sql.py` rewrites the files after a change that
was meant.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
import yaml

from support import spark_or_skip
from touchpoint.core.calendar import TradingCalendar
from touchpoint.indicators import IndicatorDef
from touchpoint.indicators.compile import indicator_passes, window_bounds
from touchpoint.ingest import analytical_layouts
from touchpoint.store.backends.duckdb import DuckDBBackend
from touchpoint.tags.definitions_io import default_library

SNAPSHOTS = Path(__file__).parent / "sql"
DAY = date(2026, 3, 31)
# The dates each source holds: two months of daily files, so that every window has data.
HELD = [date(2026, 2, 1) + timedelta(days=i) for i in range(59)]
DIALECTS = ["duckdb", "pyspark"]
# Names Ibis draws at random for in-memory tables (the trading-day maps, the property keys).
RANDOM_NAMES = re.compile(r"ibis_[a-z]+_memtable_[a-z0-9]+|[a-z_]+__v1_[0-9a-f]{6}")
# Ibis lists dropped columns in set order, which changes with Python's string hashing.
EXCLUDED = re.compile(r"EXCLUDE \(([^)]*)\)")


def _passes(backend: Any) -> list[ibis.Table]:
    library = yaml.safe_load(default_library())
    definitions = [IndicatorDef.model_validate(d) for d in library["indicators"]]
    layouts = {layout.name: layout for layout in analytical_layouts()}
    sources = {
        name: backend.read_parquet_files(name, 1, [], layouts[name].full_schema)
        for name in {d.source for d in definitions if d.source != "derived"}
    }
    id_map = ibis.memtable(
        pa.table(
            {
                "id_value": pa.array([], pa.string()),
                "person_uid": pa.array([], pa.int64()),
                "customer_no": pa.array([], pa.string()),
            }
        )
    )
    calendar = TradingCalendar("Asia/Shanghai", "XSHG")
    bounds = {
        d.name: window_bounds(d.window, d.source, DAY, calendar, HELD)
        for d in definitions
        if d.window is not None
    }
    return indicator_passes(definitions, day=DAY, sources=sources, id_map=id_map, bounds=bounds)


def _normalised(sql: str) -> str:
    names: dict[str, str] = {}
    sql = RANDOM_NAMES.sub(lambda m: names.setdefault(m.group(0), f"memtable_{len(names)}"), sql)
    return EXCLUDED.sub(lambda m: f"EXCLUDE ({', '.join(sorted(m.group(1).split(', ')))})", sql) + "\n"


def _backend(dialect: str) -> Any:
    if dialect == "duckdb":
        return DuckDBBackend()
    spark_or_skip()
    from touchpoint.store.backends.spark import SparkBackend

    return SparkBackend("local[1]")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_default_librarys_indicator_sql_is_as_recorded(dialect: str) -> None:
    backend = _backend(dialect)
    try:
        compiled = "\n;\n\n".join(
            _normalised(ibis.to_sql(found, dialect=dialect)) for found in _passes(backend)
        )
    finally:
        backend.close()
    path = SNAPSHOTS / f"indicators.{dialect}.sql"
    if os.environ.get("TOUCHPOINT_UPDATE_SQL") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(compiled, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with TOUCHPOINT_UPDATE_SQL=1 to record it"
    recorded = path.read_text(encoding="utf-8")
    assert compiled == recorded, (
        f"the {dialect} SQL changed: rerun with TOUCHPOINT_UPDATE_SQL=1 and read the diff"
    )
