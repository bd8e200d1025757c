"""kill -9 during a correction that moves every trade to the next Beijing day: afterwards each trade is stored
exactly once, and either every trade is at its old day with its old amount or every one at its new day."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_file

ROWS = 120_000
FIRST = np.datetime64("2026-01-05T10:00:00")

CHILD = """
import sys
from pathlib import Path
from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_file
container = build(load_settings(Path(sys.argv[1])))
print("ready", flush=True)
import_file(env=container, principal=SYSTEM, table="trades", path=Path(sys.argv[2]),
            options=ImportOptions())
print("done", flush=True)
"""


def _days() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 40, ROWS)


def _trades(path: Path, shift: int, amount: float) -> None:
    times = FIRST + (_days() + shift).astype("timedelta64[D]")
    pacsv.write_csv(
        pa.table(
            {
                "trade_id": [f"T{i}" for i in range(ROWS)],
                "customer_no": [f"C{i % 5000}" for i in range(ROWS)],
                "time": np.datetime_as_string(times, unit="s"),
                "product_code": ["600000"] * ROWS,
                "side": ["buy"] * ROWS,
                "amount": np.full(ROWS, amount),
            }
        ),
        path,
    )


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.2, 0.5, 0.8, 1.2, 2.0])
def test_kill_9_mid_correction_keeps_each_trade_once_at_one_version(tmp_path: Path, delay: float) -> None:
    home = tmp_path / "home"
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    _trades(old, shift=0, amount=1.0)
    _trades(new, shift=1, amount=2.0)
    container = build(load_settings(home))
    import_file(env=container, principal=SYSTEM, table="trades", path=old, options=ImportOptions())

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home), str(new)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    table = build(load_settings(home)).analytics.table("trades").to_pyarrow().sort_by("trade_id")
    assert table.num_rows == ROWS
    assert pc.count_distinct(table["trade_id"]).as_py() == ROWS
    amounts = set(table["amount"].to_pylist())
    assert amounts in ({1.0}, {2.0}), amounts
    shift = 0 if amounts == {1.0} else 1
    days = (FIRST + (_days() + shift).astype("timedelta64[D]")).astype("datetime64[D]").tolist()
    expected = {f"T{i}": day for i, day in enumerate(days)}
    assert dict(zip(table["trade_id"].to_pylist(), table["dt"].to_pylist(), strict=True)) == expected
