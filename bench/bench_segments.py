"""Segment preview: a 6-condition tag and indicator rule over 1,000,000 and 10,000,000 customers.

Synthesises the computed snapshots a day of `touchpoint compute` would leave (tag values and their Roaring
bitmaps, indicator values, the customers snapshot) with realistic value mixes, then times the same rule on the
bitmap path and on the SQL reference path (one Ibis query on the engine: DuckDB, or Spark in local mode with
`--engine spark`) in the same run; the counts must agree.
Three bitmap figures: cold (reading the snapshot, as the first preview of a day does), warm (the snapshot
already loaded and the same rule previewed again) and edited (the snapshot loaded, one condition's threshold
changed between previews, as an editor tunes a rule: a context remembers the results of snapshot conditions,
so warm is set operations alone while edited also tests one column). The ratio SQL ÷ warm bitmap is the
figure. Then the whole `preview()` call an editor makes (a context, the evaluation, the masked sample): the
first of the day, and again — a new context each time, sharing the snapshot's data and remembered conditions
while the snapshot's files are unchanged.
Peak memory: this process's resident peak over the measurements, and the Spark JVM's on Spark.
Run: `python bench/bench_segments.py [--sizes 1000000 10000000] [--engine duckdb|spark] [--smoke] [--json]`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pyroaring import BitMap

import _harness as h
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.indicators import IndicatorDef, save_indicator
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.segments.bitmap import evaluate
from touchpoint.segments.context import SnapshotData
from touchpoint.segments.service import context_at, preview, read_rule
from touchpoint.segments.sql import evaluate_sql
from touchpoint.tags.evaluate import bitmaps
from touchpoint.tags.layout import TAG_BITMAPS, TAG_VALUES
from touchpoint.tags.model import TagDef
from touchpoint.tags.service import save_tag

DAY = date(2026, 3, 31)
AT = datetime(2026, 3, 31, 8, tzinfo=UTC)
TAGS = {
    "asset_tier": (["高净值", "富裕", "大众", "长尾"], [0.01, 0.15, 0.6, 0.24]),
    "lifecycle_stage": (["新开户", "成长", "成熟", "沉睡", "流失预警"], [0.04, 0.5, 0.3, 0.12, 0.04]),
    "activity_level": (["不活跃", "低活跃", "中活跃", "高活跃"], [0.25, 0.3, 0.4, 0.05]),
}
RULE = {
    "all": [
        {"tag": "asset_tier", "in": ["高净值", "富裕"]},
        {"tag": "lifecycle_stage", "not_in": ["沉睡", "流失预警"]},
        {"tag": "activity_level", "exists": True},
        {"indicator": "total_assets", "op": ">=", "value": 100_000},
        {"indicator": "trade_count_30d", "op": ">=", "value": 1},
        {"indicator": "login_days_30d", "op": "between", "value": [1, 20]},
    ]
}


CHUNK = 5_000_000
"""Customers synthesised and written at a time: 100M customers never sit in memory at once."""
INDICATORS = ("total_assets", "trade_count_30d", "login_days_30d")
"""The indicators the rule tests (synthesised as lognormal assets and Poisson counts)."""


def synthesise_tags(container: Container, size: int, rng: np.random.Generator) -> None:
    """The customers snapshot and three tags' values and Roaring bitmaps for `size` customers (uids 1..size,
    C10000000 onwards; C100000000 onwards past 90M, so that the numbers keep one width and text order),
    written CHUNK customers at a time. Shared with bench_journeys.py."""
    with _writers(container, [(TAG_VALUES.name, _tag_schema()), ("customers", _CUSTOMERS)]) as (tags, people):
        members: dict[tuple[str, str], BitMap] = {}
        for uids, numbers in _chunks(size):
            people.write(pa.table({"customer_no": numbers}, _CUSTOMERS))
            columns: dict[str, pa.Array] = {"uid": pa.array(uids), "customer_no": pa.array(numbers)}
            for name, (values, weights) in TAGS.items():
                chosen = np.array(values, dtype=object)[rng.choice(len(values), len(uids), p=weights)]
                columns[name] = pa.array(chosen, pa.string())
                for value, found in bitmaps(uids, chosen).items():
                    members.setdefault((name, value), BitMap()).update(found)
            tags.write(pa.table(columns, _tag_schema()))
    bitmap_rows = [
        {"tag": tag, "value": value, "count": len(found), "bitmap": _optimised(found).serialize()}
        for (tag, value), found in sorted(members.items())
    ]
    container.analytics.replace_partitions(
        TAG_BITMAPS.name, {DAY: pa.Table.from_pylist(bitmap_rows, TAG_BITMAPS.schema)}
    )
    for name, (values, _) in TAGS.items():
        tag = TagDef(name=name, title=name, category="bench", kind="imported", values=values)
        save_tag(env=container, principal=SYSTEM, tag=tag)


def synthesise(container: Container, size: int) -> None:
    """Definitions, a customers snapshot and the three computed snapshots for `size` customers."""
    rng = np.random.default_rng(size)
    synthesise_tags(container, size, rng)
    for name in INDICATORS:
        save_indicator(
            env=container,
            principal=SYSTEM,
            definition=IndicatorDef(
                name=name, title=name, source="assets", aggregation="count", window={"kind": "snapshot"}
            ),
        )
    schema = pa.schema(
        [
            ("uid", pa.int64()),
            ("customer_no", pa.string()),
            ("total_assets", pa.float64()),
            ("trade_count_30d", pa.int64()),
            ("login_days_30d", pa.int64()),
        ]
    )
    with _writers(container, [(INDICATOR_VALUES.name, schema)]) as (writer,):
        for uids, numbers in _chunks(size):
            count = len(uids)
            values = {
                "total_assets": np.round(np.exp(rng.normal(11.3, 1.9, count)), 2),
                "trade_count_30d": rng.poisson(1.5, count).astype(np.int64),
                "login_days_30d": rng.poisson(6, count).astype(np.int64),
            }
            writer.write(pa.table({"uid": uids, "customer_no": numbers} | values, schema))


_CUSTOMERS = pa.schema([("customer_no", pa.string())])


def _tag_schema() -> pa.Schema:
    return pa.schema([("uid", pa.int64()), ("customer_no", pa.string())] + [(n, pa.string()) for n in TAGS])


def _chunks(size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(uids, customer numbers) of CHUNK customers at a time, uids 1..size ascending."""
    first_number = 10_000_000 if size <= 90_000_000 else 100_000_000
    for start in range(0, size, CHUNK):
        count = min(CHUNK, size - start)
        uids = np.arange(start + 1, start + count + 1, dtype=np.int64)
        yield uids, np.char.add("C", (first_number + uids - 1).astype(str))


@contextmanager
def _writers(container: Container, tables: list[tuple[str, pa.Schema]]) -> Iterator[list[Any]]:
    """A piece-by-piece writer of the DAY partition of each table, committed when the block ends."""
    analytics = container.analytics
    with ExitStack() as stack:
        writers = [
            stack.enter_context(analytics.partition_writer(name, DAY, schema)) for name, schema in tables
        ]
        yield writers
        for (name, _), writer in zip(tables, writers, strict=True):
            analytics.commit_written(name, {DAY: writer})


def _optimised(bitmap: BitMap) -> BitMap:
    bitmap.run_optimize()
    return bitmap


def with_assets_at_least(threshold: int) -> dict[str, Any]:
    """RULE with its total_assets threshold set to `threshold` (the condition an editor is tuning)."""
    conditions = [
        {**c, "value": threshold} if c.get("indicator") == "total_assets" else c for c in RULE["all"]
    ]
    return {"all": conditions}


def measure(bench: h.Bench, size: int) -> dict[str, Any]:
    """Print cold and warm bitmap times, the SQL time and their ratio for one size; return them."""
    engine = bench.args.engine
    with tempfile.TemporaryDirectory(prefix=f"bench-seg-{size}-") as home:
        settings = load_settings(Path(home), **h.engine_settings(engine))
        container = build(settings, clock=VirtualClock(AT))
        try:
            with h.Stopwatch() as watch:
                synthesise(container, size)
            bench.say(f"{size:,} customers synthesised in {watch.seconds:.1f} s")
            h.reset_peak_rss()
            rule = read_rule(RULE)
            shared = context_at(env=container, at=AT)  # its snapshot data is what preview() will share
            data = shared.data
            # Data of its own, so that these figures start cold and leave preview()'s shared data unloaded.
            context = replace(
                shared, data=SnapshotData(data.analytics, data.snapshot, data.versions, data.pieces.budget)
            )
            cold = h.measure(lambda: evaluate(rule, context), runs=1)
            warm = h.measure(lambda: evaluate(rule, context), runs=5)
            thresholds = iter(range(90_000, 100_000, 1_000))
            edited = h.measure(
                lambda: evaluate(read_rule(with_assets_at_least(next(thresholds))), context), runs=5
            )
            sql = h.measure(lambda: evaluate_sql(rule, context), runs=3)
            first = h.measure(lambda: preview(env=container, principal=SYSTEM, rule=RULE, at=AT), runs=1)
            again = h.measure(lambda: preview(env=container, principal=SYSTEM, rule=RULE, at=AT), runs=5)
            peak, jvm_peak = h.peak_rss(), h.jvm_peak_rss(container)
        finally:
            container.close()
    members, sql_members = len(cold.result), len(sql.result)
    assert sql_members == members, f"the two paths disagree: bitmap {members:,}, SQL {sql_members:,}"
    assert first.result["count"] == again.result["count"] == members, "preview() disagrees with evaluate()"
    cold_ms, warm_ms, sql_ms = cold.first * 1000, warm.min * 1000, sql.min * 1000
    edited_ms = edited.min * 1000
    bench.say(
        f"  {members:,} members · bitmap cold {cold_ms:.0f} ms, warm {warm_ms:.1f} ms, "
        f"edited {edited_ms:.1f} ms · "
        f"SQL on {engine} {sql_ms:.0f} ms · ratio SQL / warm bitmap {sql_ms / warm_ms:.1f}×"
    )
    jvm = f", Spark JVM {jvm_peak / h.GiB:.2f} GiB" if jvm_peak is not None else ""
    bench.say(f"  peak RSS while measuring: this process {peak / h.GiB:.2f} GiB{jvm}")
    first_ms, again_ms = first.first * 1000, again.min * 1000
    bench.say(
        f"  preview(): first {first_ms:.0f} ms, again {again_ms:.1f} ms ({first_ms / again_ms:.0f}× faster)"
    )
    return {
        "customers": size,
        "engine": engine,
        "peak_rss_bytes": peak,
        "jvm_peak_rss_bytes": jvm_peak,
        "members_bitmap": members,
        "members_sql": sql_members,
        "cold_ms": round(cold_ms, 3),
        "warm_ms": round(warm_ms, 3),
        "edited_ms": round(edited_ms, 3),
        "sql_ms": round(sql_ms, 3),
        "ratio_sql_to_warm": round(sql_ms / warm_ms, 2),
        "ratio_cold_to_sql": round(cold_ms / sql_ms, 3),
        "preview_first_ms": round(first_ms, 3),
        "preview_again_ms": round(again_ms, 3),
    }


def main() -> None:
    """Measure each size."""
    parser = h.parser(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    h.add_engine_option(parser)
    bench = h.start("bench_segments", parser, smoke={"sizes": [2_000]})
    bench.report({"sizes": [measure(bench, size) for size in bench.args.sizes]})


if __name__ == "__main__":
    main()
