"""Import throughput: 1M trade rows from CSV through `import_file`, against DuckDB's bare CSV→Parquet copy.

The peer does no validation, no key checks and no manifest; the ratio says what Touchpoint's checks and
atomic commit cost on top of reading and writing the same data.
Run: `python bench/bench_import.py [--rows N]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_file

SIDES = np.array(["buy", "sell", "subscribe", "redeem", "autoinvest"])
CHANNELS = np.array(["app", "web", "counter", "phone"])


def write_trades_csv(path: Path, rows: int, seed: int = 1) -> None:
    """A realistic trades export: 60 days of Beijing-time timestamps, 100k customers, 500 products."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-01-05T09:30:00")
    seconds = rng.integers(0, 60 * 86400, rows).astype("timedelta64[s]")
    table = pa.table(
        {
            "trade_id": [f"T{i:09d}" for i in range(rows)],
            "customer_no": [f"C{c:07d}" for c in rng.integers(0, 100_000, rows)],
            "time": np.datetime_as_string(start + seconds, unit="s"),
            "product_code": [f"{p:06d}" for p in rng.integers(600_000, 600_500, rows)],
            "side": SIDES[rng.integers(0, len(SIDES), rows)],
            "quantity": rng.integers(1, 100, rows) * 100,
            "amount": np.round(rng.lognormal(9, 1, rows), 2),
            "channel": CHANNELS[rng.integers(0, len(CHANNELS), rows)],
        }
    )
    pacsv.write_csv(table, path)


def time_touchpoint(path: Path, home: Path) -> float:
    """Seconds for a full import through the product's import path."""
    container = build(load_settings(home))
    started = time.perf_counter()
    report = import_file(env=container, principal=SYSTEM, table="trades", path=path, options=ImportOptions())
    elapsed = time.perf_counter() - started
    assert report.rows_imported > 0, report.summary()
    container.close()
    return elapsed


def time_duckdb_copy(path: Path, out: Path) -> float:
    """Seconds for DuckDB to read the CSV and write date-partitioned Parquet, with no checks."""
    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(
        f"COPY (SELECT *, CAST(time AS DATE) AS dt FROM read_csv('{path}', all_varchar=true)) "
        f"TO '{out}' (FORMAT parquet, PARTITION_BY (dt), COMPRESSION zstd)"
    )
    return time.perf_counter() - started


def main() -> None:
    """Print rows/s for Touchpoint and the DuckDB peer, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        csv_path = root / "trades.csv"
        write_trades_csv(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6
        ours = time_touchpoint(csv_path, root / "home")
        peer = time_duckdb_copy(csv_path, root / "peer")
    print(f"bench_import  {datetime.now(UTC):%Y-%m-%d}  rows={args.rows:,}  csv={size_mb:.0f} MB")
    print(f"touchpoint import_file : {ours:6.2f} s  {args.rows / ours:12,.0f} rows/s")
    print(f"duckdb bare copy (peer): {peer:6.2f} s  {args.rows / peer:12,.0f} rows/s")
    print(f"ratio touchpoint/peer  : {ours / peer:6.2f}x")


if __name__ == "__main__":
    main()
