"""Computing the default library (every indicator and tag, bitmaps included) for a demo brokerage.

Generates the demo (default 1,000,000 customers × 7 days of history), installs the default library, then
times `compute` for the last date (customers already linked to One ID, as the worker does on import) and
records the peak resident memory of that step. The peer is DuckDB
reading every column of every source table once (`SELECT count(*), max(COLUMNS(*))` over each table's
Parquet files): the floor for any computation that must look at all the data. The ratio is the figure.
Run: `python bench/bench_tags.py [--customers N] [--days D] [--home DIR]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo
from touchpoint.governance import SYSTEM
from touchpoint.identity.service import sync_customers
from touchpoint.tags.definitions_io import apply_import, default_library
from touchpoint.tags.service import compute, latest_data_date

SOURCES = ("customers", "assets", "holdings", "trades", "cash_flows", "events")
NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)


def reset_peak_memory() -> None:
    """Start measuring the resident-set peak afresh (Linux: writing 5 to clear_refs resets VmHWM)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_memory_bytes() -> int:
    """The resident-set high-water mark since the last reset."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def prepare(home: Path, customers: int, days: int) -> Container:
    """The demo brokerage with the default library installed (generated once per home)."""
    container = build(load_settings(home), clock=VirtualClock(NOW))
    params = DemoParams(customers=customers, days=days, seed=7, end_date=NOW.date())
    started = time.perf_counter()
    outcome = ensure_demo(env=container, principal=SYSTEM, params=params)
    if outcome.generated:
        print(f"generated demo in {time.perf_counter() - started:.1f} s")
    apply_import(env=container, principal=SYSTEM, text=default_library())
    # The worker links new customers to One ID as they are imported; do it before timing the computation.
    started = time.perf_counter()
    linked = sync_customers(env=container, analytics=container.analytics)
    if linked:
        print(f"linked {linked:,} customers to One ID in {time.perf_counter() - started:.1f} s")
    return container


def full_scan_seconds(root: Path) -> float:
    """DuckDB reading every column of every source table's Parquet files once."""
    connection = duckdb.connect()
    started = time.perf_counter()
    for name in SOURCES:
        files = sorted(str(p) for p in (root / name).rglob("*.parquet"))
        if files:
            source = f"read_parquet({files!r}, union_by_name = true)"
            connection.execute(f"SELECT count(*), max(COLUMNS(*))::VARCHAR FROM {source}").fetchall()
    return time.perf_counter() - started


def main() -> None:
    """Print the compute time, its peak memory, the DuckDB scan time and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--home", type=Path, default=None, help="reuse a data directory between runs")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-tags-"))
    container = prepare(home, args.customers, args.days)
    day = latest_data_date(env=container)
    reset_peak_memory()
    started = time.perf_counter()
    result = compute(env=container, principal=SYSTEM, day=day)
    seconds = time.perf_counter() - started
    peak = peak_memory_bytes()
    scan = min(full_scan_seconds(container.analytics.root) for _ in range(3))
    print(
        f"compute {result['indicators']} indicators + {result['tags']} tags for {result['customers']:,} "
        f"customers on {day}: {seconds:.1f} s, peak RSS during compute {peak / 2**30:.2f} GiB"
    )
    print(f"peer: DuckDB full scan of the same sources: {scan:.2f} s")
    print(f"ratio compute / scan: {seconds / scan:.1f}×")
    container.close()


if __name__ == "__main__":
    main()
