"""Corrections into a table whose key is unique table-wide, against the same write confined to its dates.

A table of 1M trades over 250 Beijing days receives (a) one day's correction file of 2,000 trades, 500 of
which move to the next day, and (b) the whole table re-sent. The peer is the same store with
`key_scope="partition"` (the old behaviour, which leaves a moved trade in both days): the ratio is what
finding and removing a re-sent key wherever it lives costs. Trade ids are drawn in random order (no
partition's key range can be skipped: the worst case) and in time order (most ranges skipped).
Run: `python bench/bench_corrections.py [--rows N]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from touchpoint.ingest import analytical_layouts
from touchpoint.store import AnalyticalStore, TableLayout
from touchpoint.store.backends.duckdb import DuckDBBackend

DAYS = 250
FIRST_DAY = date(2025, 1, 2)


def trades(rows: int, ordered_ids: bool, seed: int = 7) -> pa.Table:
    """`rows` trades spread over DAYS days, with ids in time order or shuffled."""
    rng = np.random.default_rng(seed)
    days = np.sort(rng.integers(0, DAYS, rows))
    numbers = np.arange(rows) if ordered_ids else rng.permutation(rows)
    return pa.table(
        {
            "trade_id": [f"T{n:010d}" for n in numbers],
            "customer_no": [f"C{c:07d}" for c in rng.integers(0, 100_000, rows)],
            "amount": np.round(rng.lognormal(9, 1, rows), 2),
            "dt": pa.array(days.astype("int32") + _epoch_day(FIRST_DAY), pa.int32()).cast(pa.date32()),
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


def timed_store(layout: TableLayout, root: Path, table: pa.Table, write: pa.Table) -> float:
    """Load `table`, then time one upsert of `write`."""
    store = AnalyticalStore(root, [layout], DuckDBBackend())
    store.upsert(layout.name, table)
    started = time.perf_counter()
    store.upsert(layout.name, write, origin="bench")
    return time.perf_counter() - started


def _epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)) // timedelta(days=1)


def main() -> None:
    """Print the time of each case on both layouts and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    wide = next(layout for layout in analytical_layouts() if layout.name == "trades")
    schema = pa.schema([("trade_id", pa.string()), ("customer_no", pa.string()), ("amount", pa.float64())])
    wide = TableLayout(
        name="trades", schema=schema, key=wide.key, key_scope=wide.key_scope, keep_history=True
    )
    confined = TableLayout(
        name="trades", schema=schema, key=wide.key, key_scope="partition", keep_history=True
    )
    for ordered in (False, True):
        table = trades(rows, ordered)
        cases = [
            ("a day's 2,000 trades corrected, 500 moved to the next day", correction(table, 100, 2_000, 500))
        ]
        cases += [] if ordered else [("the whole table re-sent", table)]
        for label, write in cases:
            with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
                ours = timed_store(wide, Path(a), table, write)
                peer = timed_store(confined, Path(b), table, write)
            ids = "ids in time order" if ordered else "ids shuffled"
            print(
                f"{rows:,} rows, {DAYS} days, {ids}, {label}: unique table-wide {ours:.2f} s, "
                f"within its dates only {peer:.2f} s, ratio {ours / peer:.2f}"
            )


if __name__ == "__main__":
    main()
