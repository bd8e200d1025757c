"""How long `touchpoint --help` and `touchpoint version` take to start, against a bare `python -c pass`.

Run: `.venv/bin/python bench/bench_cli_start.py [--runs N] [--smoke] [--json]`. Prints the median wall time
of each command over N runs (default 7) and its ratio to the bare interpreter. The goal (issue 14, item 9)
is well under a second; the import test in tests/unit/cli/test_cli_start.py keeps the heavy libraries out.
"""

from __future__ import annotations

import subprocess
import sys
from functools import partial

import _harness as h

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "touchpoint --help": [sys.executable, "-m", "touchpoint", "--help"],
    "touchpoint version": [sys.executable, "-m", "touchpoint", "version"],
}
BARE = "python -c pass"


def run_quietly(argv: list[str]) -> None:
    """Run `argv` to its end, output discarded; a failing command fails the bench."""
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    """Time each command and print the table."""
    parser = h.parser(__doc__)
    parser.add_argument("--runs", type=int, default=7)
    bench = h.start("bench_cli_start", parser, smoke={"runs": 1})
    runs = bench.args.runs
    timings = {label: h.measure(partial(run_quietly, argv), runs) for label, argv in COMMANDS.items()}
    bare = timings[BARE].median
    bench.say(f"{'command':<22}{'median s':>10}{'x bare':>9}")
    for label, timing in timings.items():
        bench.say(f"{label:<22}{timing.median:>10.3f}{timing.median / bare:>9.1f}")
    bench.report(
        {
            "runs": runs,
            "commands": [
                {
                    "command": label,
                    "runs": len(timing.seconds),
                    "median_seconds": round(timing.median, 4),
                    "min_seconds": round(timing.min, 4),
                    "max_seconds": round(timing.max, 4),
                    "ratio_to_bare": round(timing.median / bare, 2),
                }
                for label, timing in timings.items()
            ],
        }
    )


if __name__ == "__main__":
    main()
