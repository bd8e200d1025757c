"""kill -9 during an import leaves the previous version whole: every partition old, or every one new."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_file

ROWS = 120_000

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
            options=ImportOptions(force=True))
print("done", flush=True)
"""


def _trades(path: Path, amount: float) -> None:
    rng = np.random.default_rng(3)
    days = rng.integers(0, 40, ROWS).astype("timedelta64[D]")
    times = np.datetime64("2026-01-05T10:00:00") + days
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
@pytest.mark.parametrize("delay", [0.1, 0.25, 0.4, 0.55, 0.7, 1.5])
def test_kill_9_mid_import_keeps_a_whole_version(tmp_path: Path, delay: float) -> None:
    home = tmp_path / "home"
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    _trades(old, 1.0)
    _trades(new, 2.0)
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

    table = build(load_settings(home)).analytics.table("trades").to_pyarrow()
    amounts = set(table["amount"].to_pylist())
    assert table.num_rows == ROWS
    assert amounts in ({1.0}, {2.0}), amounts
