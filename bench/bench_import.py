"""Import throughput: 1M trade rows from CSV through `import_file`, against DuckDB's bare CSV→Parquet copy.

The peer does no validation, no key checks and no manifest; the ratio says what Touchpoint's checks and
atomic commit cost on top of reading and writing the same data.
Run: `python bench/bench_import.py [--rows N] [--smoke] [--json]`.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

import _harness as h
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


def time_touchpoint(path: Path, home: Path) -> tuple[float, int]:
    """Seconds for a full import through the product's import path, and the rows it imported."""
    container = build(load_settings(home))
    try:
        timing = h.measure(
            lambda: import_file(
                env=container, principal=SYSTEM, table="trades", path=path, options=ImportOptions()
            ),
            runs=1,
        )
    finally:
        container.close()
    report = timing.result
    assert report.rows_imported > 0, report.summary()
    return timing.first, report.rows_imported


def time_duckdb_copy(path: Path, out: Path) -> tuple[float, int]:
    """Seconds for DuckDB to read the CSV and write date-partitioned Parquet with no checks, and the rows
    it wrote."""
    con = duckdb.connect()
    timing = h.measure(
        lambda: con.execute(
            f"COPY (SELECT *, CAST(time AS DATE) AS dt FROM read_csv('{path}', all_varchar=true)) "
            f"TO '{out}' (FORMAT parquet, PARTITION_BY (dt), COMPRESSION zstd)"
        ),
        runs=1,
    )
    (rows,) = con.execute(f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet')").fetchone() or (0,)
    return timing.first, int(rows)


def main() -> None:
    """Print rows/s for Touchpoint and the DuckDB peer, and their ratio."""
    parser = h.parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    bench = h.start("bench_import", parser, smoke={"rows": 2_000})
    rows = bench.args.rows
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        csv_path = root / "trades.csv"
        write_trades_csv(csv_path, rows)
        size = csv_path.stat().st_size
        ours, imported = time_touchpoint(csv_path, root / "home")
        peer, copied = time_duckdb_copy(csv_path, root / "peer")
    bench.say(f"bench_import  {datetime.now(UTC):%Y-%m-%d}  rows={rows:,}  csv={size / 1e6:.0f} MB")
    bench.say(f"touchpoint import_file : {ours:6.2f} s  {rows / ours:12,.0f} rows/s")
    bench.say(f"duckdb bare copy (peer): {peer:6.2f} s  {rows / peer:12,.0f} rows/s")
    bench.say(f"ratio touchpoint/peer  : {ours / peer:6.2f}x")
    bench.report(
        {
            "rows": rows,
            "csv_bytes": size,
            "rows_imported": imported,
            "seconds": round(ours, 4),
            "rows_per_second": round(rows / ours),
            "peer_rows": copied,
            "peer_seconds": round(peer, 4),
            "peer_rows_per_second": round(rows / peer),
            "ratio": round(ours / peer, 3),
        }
    )


if __name__ == "__main__":
    main()
