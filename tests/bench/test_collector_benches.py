"""Smoke runs of the collector's benches: throughput, responsiveness and memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

RunBench = Callable[..., dict[str, Any]]  # the run_bench fixture of tests/bench/conftest.py

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "store",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("nats", marks=pytest.mark.nats),
    ],
)
def test_collector_accepts_every_event_sent(
    run_bench: RunBench, store: str, request: pytest.FixtureRequest
) -> None:
    options = {
        "sqlite": [],
        "postgres": ["--database-url", request.getfixturevalue("postgres_url")]
        if store == "postgres"
        else [],
        "nats": ["--nats-url", request.getfixturevalue("nats_url")] if store == "nats" else [],
    }[store]
    figures = run_bench("bench_collector.py", *options)
    # With NATS the bench runs on SQLite first, then with the event log on a scratch stream.
    expected = {"sqlite": ["sqlite"], "postgres": ["postgresql"], "nats": ["sqlite", "nats"]}[store]
    assert list(figures["stores"]) == expected
    for result in figures["stores"].values():
        assert [c["case"] for c in result["cases"]] == ["sensors data_list x50", "native batch x500"]
        for case in result["cases"]:
            assert case["events_accepted"] == case["events_sent"] > 0, case["case"]


def test_collector_latency_body_is_accepted_whole(run_bench: RunBench) -> None:
    figures = run_bench("bench_collector_latency.py")
    assert figures["status"] == 200
    assert figures["events_accepted"] == figures["events"] == 50
    assert figures["busy_answers"] >= 1
    assert figures["idle_answers"] >= 1


def test_collector_memory_counts_add_up(run_bench: RunBench) -> None:
    figures = run_bench("bench_collector_memory.py")
    [case] = figures["cases"]
    assert case["case"] == "max properties"
    assert case["statuses"] == [200] * case["copies"]
    # Every copy carries the same events: the first stored, the others duplicates.
    assert case["events_accepted"] == case["events_per_copy"] == 198
    assert case["events_duplicate"] == case["events_per_copy"] * (case["copies"] - 1)
    assert case["requests_refused"] == 0
