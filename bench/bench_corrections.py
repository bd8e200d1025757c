"""Corrections into a table whose key is unique table-wide, against the same write confined to its dates.

A table of 1M trades over 250 Beijing days receives (a) one day's correction file of 2,000 trades, 500 of
which move to the next day, and (b) the whole table re-sent. The peer is the same store with
`key_scope="partition"` (the old behaviour, which leaves a moved trade in both days): the ratio is what
finding and removing a re-sent key wherever it lives costs. Trade ids are drawn in random order (no
partition's key range can be skipped: the worst case) and in time order (most ranges skipped).
Each case also counts the rows afterwards: unique table-wide keeps one row a trade, the peer keeps a moved
trade twice.
Run: `python bench/bench_corrections.py [--rows N] [--days D] [--corrected N] [--moved N] [--smoke] [--json]`.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

import _harness as h
from touchpoint.ingest import analytical_layouts
from touchpoint.store import AnalyticalStore, TableLayout
from touchpoint.store.backends.duckdb import DuckDBBackend

FIRST_DAY = date(2025, 1, 2)


def trades(rows: int, days: int, ordered_ids: bool, seed: int = 7) -> pa.Table:
    """`rows` trades spread over `days` days, with ids in time order or shuffled."""
    rng = np.random.default_rng(seed)
    spread = np.sort(rng.integers(0, days, rows))
    numbers = np.arange(rows) if ordered_ids else rng.permutation(rows)
    return pa.table(
        {
            "trade_id": [f"T{n:010d}" for n in numbers],
            "customer_no": [f"C{c:07d}" for c in rng.integers(0, 100_000, rows)],
            "amount": np.round(rng.lognormal(9, 1, rows), 2),
            "dt": pa.array(spread.astype("int32") + _epoch_day(FIRST_DAY), pa.int32()).cast(pa.date32()),
        }
    )


def correction(table: pa.Table, day: int, size: int, moved: int, seed: int = 8) -> pa.Table:
    """`size` trades of one day with new amounts, the first `moved` of them booked on the next day."""
    rng = np.random.default_rng(seed)
    on_day = np.flatnonzero(table["dt"].cast(pa.int32()).to_numpy() == _epoch_day(FIRST_DAY) + day)
    picked = table.take(pa.array(rng.choice(on_day, size, replace=False)))
    shift = np.where(np.arange(size) < moved, 1, 0).astype("int32")
    days = picked["dt"].cast(pa.int32()).to_numpy() + shift
    return picked.set_column(3, "dt", pa.array(days, pa.int32()).cast(pa.date32())).set_column(
        2, "amount", pa.array(picked["amount"].to_numpy() + 1.0)
    )


def timed_store(layout: TableLayout, root: Path, table: pa.Table, write: pa.Table) -> tuple[float, int, int]:
    """Load `table`, then time one upsert of `write`: the seconds, then the rows and distinct trade ids the
    table holds afterwards."""
    store = AnalyticalStore(root, [layout], DuckDBBackend())
    store.upsert(layout.name, table)
    seconds = h.measure(lambda: store.upsert(layout.name, write, origin="bench"), runs=1).first
    files = [str(p) for p in store.files(layout.name)]
    query = f"SELECT count(*), count(DISTINCT trade_id) FROM read_parquet({files!r})"
    [(rows, ids)] = duckdb.connect().execute(query).fetchall()
    return seconds, int(rows), int(ids)


def _epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)) // timedelta(days=1)


def main() -> None:
    """Print the time of each case on both layouts and their ratio."""
    parser = h.parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=250, help="Beijing days the trades spread over")
    parser.add_argument("--corrected", type=int, default=2_000, help="trades of one day in the correction")
    parser.add_argument("--moved", type=int, default=500, help="corrected trades moved to the next day")
    bench = h.start(
        "bench_corrections", parser, smoke={"rows": 5_000, "days": 10, "corrected": 100, "moved": 25}
    )
    rows, days, corrected, moved = bench.args.rows, bench.args.days, bench.args.corrected, bench.args.moved
    wide = next(layout for layout in analytical_layouts() if layout.name == "trades")
    schema = pa.schema([("trade_id", pa.string()), ("customer_no", pa.string()), ("amount", pa.float64())])
    wide = TableLayout(
        name="trades", schema=schema, key=wide.key, key_scope=wide.key_scope, keep_history=True
    )
    confined = TableLayout(
        name="trades", schema=schema, key=wide.key, key_scope="partition", keep_history=True
    )
    results: list[dict[str, Any]] = []
    for ordered in (False, True):
        table = trades(rows, days, ordered)
        label = f"a day's {corrected:,} trades corrected, {moved:,} moved to the next day"
        # Day 100 of 250 as ever: a day in the middle, with a next day to move trades into.
        cases = [(label, correction(table, days * 2 // 5, corrected, moved), moved)]
        cases += [] if ordered else [("the whole table re-sent", table, 0)]
        for case, write, moving in cases:
            with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
                ours, rows_after, ids_after = timed_store(wide, Path(a), table, write)
                peer, peer_rows_after, _ = timed_store(confined, Path(b), table, write)
            ids = "ids in time order" if ordered else "ids shuffled"
            bench.say(
                f"{rows:,} rows, {days} days, {ids}, {case}: unique table-wide {ours:.2f} s, "
                f"within its dates only {peer:.2f} s, ratio {ours / peer:.2f}"
            )
            results.append(
                {
                    "case": f"{ids}, {case}",
                    "moved": moving,
                    "seconds": round(ours, 4),
                    "rows_after": rows_after,
                    "distinct_ids_after": ids_after,
                    "peer_seconds": round(peer, 4),
                    "peer_rows_after": peer_rows_after,
                    "ratio": round(ours / peer, 3),
                }
            )
    bench.report({"rows": rows, "days": days, "cases": results})


if __name__ == "__main__":
    main()
