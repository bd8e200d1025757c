"""Smoke runs of the benches of imports, corrections, ingestion keys, segments and CLI start-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support import spark_or_skip

RunBench = Callable[..., dict[str, Any]]  # the run_bench fixture of tests/bench/conftest.py

pytestmark = pytest.mark.slow


def test_import_takes_every_generated_row(run_bench: RunBench) -> None:
    figures = run_bench("bench_import.py")
    assert figures["rows"] == 2_000
    assert figures["rows_imported"] == figures["rows"]
    assert figures["peer_rows"] == figures["rows"]


def test_corrections_keep_one_row_a_trade_and_the_peer_keeps_moved_trades_twice(run_bench: RunBench) -> None:
    figures = run_bench("bench_corrections.py")
    rows = figures["rows"]
    assert len(figures["cases"]) == 3
    for case in figures["cases"]:
        assert case["rows_after"] == case["distinct_ids_after"] == rows, case["case"]
        assert case["peer_rows_after"] == rows + case["moved"], case["case"]
    assert [c["moved"] for c in figures["cases"]] == [25, 0, 25]


def test_segments_bitmap_and_sql_paths_count_the_same_members(run_bench: RunBench) -> None:
    figures = run_bench("bench_segments.py")
    [size] = figures["sizes"]
    assert size["customers"] == 2_000
    assert size["members_bitmap"] == size["members_sql"] > 0


@pytest.mark.spark
def test_segments_bench_on_spark_counts_the_same_members_on_both_paths(run_bench: RunBench) -> None:
    spark_or_skip()
    figures = run_bench("bench_segments.py", "--engine", "spark")
    [size] = figures["sizes"]
    assert size["engine"] == "spark"
    assert size["members_bitmap"] == size["members_sql"] > 0
    assert size["jvm_peak_rss_bytes"] > 0


def test_cli_start_runs_each_command(run_bench: RunBench) -> None:
    figures = run_bench("bench_cli_start.py")
    assert [c["command"] for c in figures["commands"]] == [
        "python -c pass",
        "touchpoint --help",
        "touchpoint version",
    ]
    assert all(c["runs"] == figures["runs"] == 1 for c in figures["commands"])


def test_ingest_keys_admit_every_batch_and_collect_every_event(run_bench: RunBench) -> None:
    figures = run_bench("bench_ingest_keys.py")
    assert figures["admitted_batches"] == figures["batches"] == 20
    assert figures["events_accepted"] == figures["batches"] * figures["events_per_batch"]
    assert figures["events_refused"] == 0
