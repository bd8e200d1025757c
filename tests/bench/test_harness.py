"""The shared pieces of bench/_harness.py that the figures rest on: percentiles, peak memory, the table's
names and which stores a run uses."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _load() -> ModuleType:
    # The benches import it as a sibling script, not as a package; load it the same way from its file.
    path = Path(__file__).resolve().parents[2] / "bench" / "_harness.py"
    spec = importlib.util.spec_from_file_location("_harness", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_harness", module)
    spec.loader.exec_module(module)
    return module


h = _load()


def test_percentiles_are_observed_values_by_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]  # 1 … 100
    assert h.percentiles(samples, (50, 99, 100)) == {50: 50.0, 99: 99.0, 100: 100.0}
    assert h.percentiles([3.0, 1.0, 2.0], (50,)) == {50: 2.0}
    assert h.percentiles([5.0], (1, 50, 99)) == {1: 5.0, 50: 5.0, 99: 5.0}


def test_an_infinite_sample_sorts_last_and_no_samples_give_nan() -> None:
    late = [0.1] * 99 + [math.inf]
    assert h.percentiles(late, (99, 100)) == {99: 0.1, 100: math.inf}
    assert all(math.isnan(v) for v in h.percentiles([], (50, 99)).values())


def test_measure_times_every_run_and_keeps_the_last_result() -> None:
    calls: list[int] = []

    def work() -> int:
        calls.append(1)
        return len(calls)

    timing = h.measure(work, runs=3)
    assert len(timing.seconds) == 3
    assert timing.result == 3
    assert timing.min <= timing.median <= timing.max
    assert timing.first == timing.seconds[0]
    with pytest.raises(ValueError, match="at least one run"):
        h.measure(lambda: None, runs=0)


def test_the_lifetime_peak_survives_a_reset() -> None:
    before = h.lifetime_peak_rss()
    h.reset_peak_rss()
    assert h.lifetime_peak_rss() >= before
    assert 0 < h.peak_rss() <= h.lifetime_peak_rss()


def test_the_table_names_nested_figures_and_leaves_profiles_out() -> None:
    figures = {
        "rows": 3,
        "stores": {"sqlite": {"cases": [{"case": "native", "sent": 5}, {"sent": 6}]}},
        "steps": [4, 2],
        "funnel_profile": [{"where": "x", "calls": 1}],
    }
    assert list(h.flatten(figures)) == [
        ("rows", 3),
        ("stores.sqlite.cases[native].sent", 5),
        ("stores.sqlite.cases[1].sent", 6),
        ("steps", [4, 2]),
    ]


def test_a_smoke_run_adds_postgresql_only_when_the_tests_have_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(h.POSTGRES_ENV, raising=False)
    assert h.operational_stores(None, smoke=True) == [None]
    monkeypatch.setenv(h.POSTGRES_ENV, "postgresql://pg/test")
    assert h.operational_stores(None, smoke=True) == [None, "postgresql://pg/test"]
    assert h.operational_stores(None, smoke=False) == [None]
    assert h.operational_stores("postgresql://pg/own", smoke=True) == ["postgresql://pg/own"]
