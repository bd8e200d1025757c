"""Smoke runs of the benches of computing tags and of behaviour analytics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

RunBench = Callable[..., dict[str, Any]]  # the run_bench fixture of tests/bench/conftest.py

pytestmark = pytest.mark.slow


def test_tags_compute_every_installed_definition_for_every_customer(run_bench: RunBench) -> None:
    figures = run_bench("bench_tags.py")
    assert figures["customers_computed"] == figures["snapshot_customers"] == figures["customers"]
    assert figures["indicators_computed"] == figures["indicators_installed"] > 0
    assert figures["tags_computed"] == figures["tags_installed"] > 0


def test_analytics_imports_every_event_and_answers_each_analysis(run_bench: RunBench) -> None:
    figures = run_bench("bench_analytics.py")
    assert figures["events_in_files"] == figures["events"] > 0
    assert figures["pairs_bound"] > 0
    steps = figures["funnel"]["step_customers"]
    assert len(steps) == 4
    assert steps == sorted(steps, reverse=True)
    assert 0 < steps[0] <= figures["customers"]
    assert figures["retention"]["cohorts"] == 30
    assert figures["trend"]["groups"] > 0
    for name in ("funnel", "retention", "trend"):
        assert figures[name]["scan_ids"] > 0, name
