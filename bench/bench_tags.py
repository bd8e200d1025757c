"""Computing the default library (every indicator and tag, bitmaps included) for a demo brokerage.

Generates the demo (default 1,000,000 customers × 7 days of history), installs the default library,
computes the last date once (untimed), then times computing it again and records the peak resident memory
of that step: the cost of the daily run, with customers already linked to One ID (as the worker does on
import), One ID's lookup tables read afresh (an import has just changed the graph) and a previous result
there to compare with (the partial-feed guard reads it; the demo's customers snapshot is dated on the last
day only, so that result is the same day's). The peer is DuckDB reading every
column of every source table once (`SELECT count(*), max(COLUMNS(*))` over each table's
Parquet files): the floor for any computation that must look at all the data. The ratio is the figure.
The customers computed must be the customers of the day's snapshot, and every installed indicator and tag
computed. With `--engine spark` the computation and the scan run on Spark in local mode, and the Spark JVM's
peak memory is printed beside this process's.
Run: `python bench/bench_tags.py [--customers N] [--days D] [--home DIR] [--engine duckdb|spark] [--smoke]
[--json]`.
"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

import _harness as h
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo
from touchpoint.governance import SYSTEM
from touchpoint.identity import service as identity_service
from touchpoint.identity.service import sync_customers
from touchpoint.indicators.service import list_indicators
from touchpoint.tags.definitions_io import apply_import, default_library
from touchpoint.tags.service import compute, latest_data_date, list_tags

SOURCES = ("customers", "assets", "holdings", "trades", "cash_flows", "events")
NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)


def prepare(bench: h.Bench, home: Path, customers: int, days: int, engine: str = "duckdb") -> Container:
    """The demo brokerage with the default library installed (generated once per home), computing on
    `engine`."""
    container = build(load_settings(home, **h.engine_settings(engine)), clock=VirtualClock(NOW))
    params = DemoParams(customers=customers, days=days, seed=7, end_date=NOW.date())
    with h.Stopwatch() as watch:
        outcome = ensure_demo(env=container, principal=SYSTEM, params=params)
    if outcome.generated:
        bench.say(f"generated demo in {watch.seconds:.1f} s")
    apply_import(registry=container.registry, principal=SYSTEM, text=default_library())
    # The worker links new customers to One ID as they are imported; do it before timing the computation.
    with h.Stopwatch() as watch:
        linked = sync_customers(env=container, analytics=container.analytics)
    if linked:
        bench.say(f"linked {linked:,} customers to One ID in {watch.seconds:.1f} s")
    day = latest_data_date(env=container)
    if container.analytics.latest_partition_on_or_before("tag_values", day) is None:
        with h.Stopwatch() as watch:
            compute(env=container, principal=SYSTEM, day=day)
        bench.say(f"computed {day} once in {watch.seconds:.1f} s (untimed: the result to compare with)")
    return container


def full_scan(root: Path, container: Container) -> None:
    """The engine reading every column of every source table's Parquet files once: DuckDB on a connection
    of its own, or the container's Spark session."""
    if container.settings.engine == "spark":
        spark_full_scan(root, h.spark_session_of(container))
        return
    connection = duckdb.connect()
    for name in SOURCES:
        files = sorted(str(p) for p in (root / name).rglob("*.parquet"))
        if files:
            source = f"read_parquet({files!r}, union_by_name = true)"
            connection.execute(f"SELECT count(*), max(COLUMNS(*))::VARCHAR FROM {source}").fetchall()


def spark_full_scan(root: Path, session: Any) -> None:
    """The same on Spark: each table's files read with their schemas merged, a count and every column's
    maximum (then as text, as DuckDB does)."""
    from pyspark.sql import functions as F

    for name in SOURCES:
        files = sorted(str(p) for p in (root / name).rglob("*.parquet"))
        if files:
            frame = session.read.option("mergeSchema", "true").option("basePath", str(root / name))
            frame = frame.parquet(*files)
            frame.agg(F.count("*"), *[F.max(c).cast("string") for c in frame.columns]).collect()


def main() -> None:
    """Print the compute time, its peak memory, the DuckDB scan time and the ratio."""
    parser = h.parser(__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--home", type=Path, default=None, help="reuse a data directory between runs")
    h.add_engine_option(parser)
    bench = h.start("bench_tags", parser, smoke={"customers": 100, "days": 5})
    args = bench.args
    # A throwaway home unless one is given to reuse (generating 1M customers takes minutes).
    with (
        nullcontext(str(args.home)) if args.home else tempfile.TemporaryDirectory(prefix="bench-tags-")
    ) as home:
        figures = run(bench, Path(home))
    bench.report(figures)


def run(bench: h.Bench, home: Path) -> dict[str, Any]:
    """Prepare the demo in `home`, time compute and the scan beside it; print and return the figures."""
    args = bench.args
    container = prepare(bench, home, args.customers, args.days, args.engine)
    try:
        day = latest_data_date(env=container)
        snapshot = container.analytics.latest_partition_on_or_before("customers", day)
        table = container.analytics.read_partition("customers", snapshot) if snapshot else None
        installed = len(list_indicators(env=container)), len(list_tags(env=container))
        # The worker computes right after an import has linked new customers, so its graph is never the one
        # its lookup tables were last read from; the previous day's computation left them in memory here.
        identity_service._ID_TABLES.clear()
        computing = h.measure(lambda: compute(env=container, principal=SYSTEM, day=day), runs=1)
        scan = h.measure(lambda: full_scan(container.analytics.root, container), runs=3).min
        jvm_peak = h.jvm_peak_rss(container)
    finally:
        container.close()
    result, seconds, peak = computing.result, computing.first, computing.peak_rss_bytes
    peak_text = f"{peak / h.GiB:.2f} GiB" if peak is not None else "n/a"
    bench.say(
        f"compute {result['indicators']} indicators + {result['tags']} tags for {result['customers']:,} "
        f"customers on {day}: {seconds:.1f} s, peak RSS during compute {peak_text}"
    )
    if jvm_peak is not None:
        bench.say(f"Spark JVM peak RSS over the run: {jvm_peak / h.GiB:.2f} GiB")
    bench.say(f"peer: {args.engine} full scan of the same sources: {scan:.2f} s")
    bench.say(f"ratio compute / scan: {seconds / scan:.1f}×")
    return {
        "customers": args.customers,
        "days": args.days,
        "business_date": day,
        "snapshot_customers": table.num_rows if table is not None else 0,
        "customers_computed": result["customers"],
        "indicators_installed": installed[0],
        "indicators_computed": result["indicators"],
        "tags_installed": installed[1],
        "tags_computed": result["tags"],
        "seconds": round(seconds, 3),
        "peak_rss_bytes": peak,
        "engine": args.engine,
        "jvm_peak_rss_bytes": jvm_peak,
        "scan_seconds": round(scan, 4),
        "ratio": round(seconds / scan, 2),
    }


if __name__ == "__main__":
    main()
