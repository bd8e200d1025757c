"""How long `touchpoint --help` and `touchpoint version` take to start, against a bare `python -c pass`.

Run: `.venv/bin/python bench/bench_cli_start.py [--runs N]`. Prints the median wall time of each command
over N runs (default 7) and its ratio to the bare interpreter. The goal (issue 14, item 9) is well under a
second; the import test in tests/unit/cli/test_cli_start.py keeps the heavy libraries out.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "touchpoint --help": [sys.executable, "-m", "touchpoint", "--help"],
    "touchpoint version": [sys.executable, "-m", "touchpoint", "version"],
}


def median_seconds(argv: list[str], runs: int) -> float:
    """The median wall time of `runs` runs of `argv`, output discarded."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Time each command and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    bare = median_seconds(COMMANDS["python -c pass"], runs)
    print(f"{'command':<22}{'median s':>10}{'x bare':>9}")
    for label, argv in COMMANDS.items():
        seconds = bare if label == "python -c pass" else median_seconds(argv, runs)
        print(f"{label:<22}{seconds:>10.3f}{seconds / bare:>9.1f}")


if __name__ == "__main__":
    main()
