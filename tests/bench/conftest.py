"""Run a bench of bench/ at its smoke size in a child process and hand back its JSON figures.

Each bench's `--smoke` run takes a few seconds; the tests check that the counts in its figures agree (events
accepted = events sent, rows imported = rows generated, bitmap = SQL), never its timings, so that a bench
that no longer runs against the code fails here rather than on the day someone needs its figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
POSTGRES_ENV = "TOUCHPOINT_TEST_POSTGRES_URL"
NATS_ENV = "TOUCHPOINT_TEST_NATS_URL"
# Far below pytest's 600 s: a bench that hangs fails with its own output instead of a bare timeout.
TIMEOUT = 300

RunBench = Callable[..., dict[str, Any]]


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL the suite tests against; the test is skipped when none is set."""
    return _configured(POSTGRES_ENV)


@pytest.fixture
def nats_url() -> str:
    """The NATS JetStream server the suite tests against; the test is skipped when none is set."""
    return _configured(NATS_ENV)


def _configured(variable: str) -> str:
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"{variable} is not set")
    return url


@pytest.fixture
def run_bench(tmp_path: Path) -> RunBench:
    """`run_bench("bench_x.py", *options)`: the figures of `bench/bench_x.py --smoke --json *options`.

    The child gets no TOUCHPOINT_* variable (a developer's TOUCHPOINT_DATABASE_URL must not send a bench to
    a shared database; PostgreSQL is passed as `--database-url` by the tests that want it) and a TMPDIR of
    its own, so that whatever a bench leaves behind goes with the test's directory.
    """

    def run(script: str, *options: str) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
        env["TMPDIR"] = str(tmp_path)
        completed = subprocess.run(
            [sys.executable, str(BENCH / script), "--smoke", "--json", *options],
            capture_output=True,
            cwd=tmp_path,
            env=env,
            timeout=TIMEOUT,
        )
        stderr = completed.stderr.decode(errors="replace")
        assert completed.returncode == 0, (
            f"{script} --smoke failed ({completed.returncode}):\n{stderr[-6000:]}"
        )
        figures: dict[str, Any] = orjson.loads(completed.stdout)
        assert figures["bench"] == script.removesuffix(".py")
        assert figures["smoke"] is True
        return figures

    return run
