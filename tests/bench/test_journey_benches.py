"""Smoke runs of the benches of journeys and channel dispatch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

RunBench = Callable[..., dict[str, Any]]  # the run_bench fixture of tests/bench/conftest.py

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_journeys_advance_and_dispatch_every_run_and_handle_every_event(
    run_bench: RunBench, store: str, request: pytest.FixtureRequest
) -> None:
    options = ["--database-url", request.getfixturevalue("postgres_url")] if store == "postgres" else []
    figures = run_bench("bench_journeys.py", *options)
    [(name, result)] = figures["stores"].items()
    assert name == ("postgresql" if store == "postgres" else "sqlite")
    part1, part2 = result["segment_journey"], result["event_latency"]
    customers = part1["customers"]
    assert part1["admitted"] == part1["advanced"] == customers == 300
    passes = {p["pass"]: p for p in part1["passes"]}
    assert [p["runs"] for p in passes.values()] == [customers] * 3
    # entry: to the 1-day wait; +1 day: wait → split → send → wait_for_event; +2 days: timeout → send → end.
    assert [p["steps"] for p in passes.values()] == [0, 3 * customers, 2 * customers]
    assert [p["effects"] for p in passes.values()] == [0, customers, customers]
    assert part1["effects_dispatched"] == 2 * customers
    journey, log = part2["journey"], part2["log_round_trip"]
    assert journey["appended"] == journey["outbox_rows"] == 100
    assert journey["unhandled"] == 0
    assert log["appended"] == log["read"] == 100


@pytest.mark.nats
def test_the_event_path_on_nats_handles_every_event(run_bench: RunBench, nats_url: str) -> None:
    figures = run_bench("bench_journeys.py", "--nats-url", nats_url)
    [result] = figures["stores"].values()
    for part in ("event_latency", "event_latency_nats"):
        journey, log = result[part]["journey"], result[part]["log_round_trip"]
        assert journey["appended"] == journey["outbox_rows"] == 100, part
        assert journey["unhandled"] == 0, part
        assert log["appended"] == log["read"] == 100, part
        assert journey["p50_ms"] > 0, part  # each outbox row matched with its own event, none from before


def test_channels_conclude_every_request_and_the_gateway_takes_every_send(run_bench: RunBench) -> None:
    figures = run_bench("bench_channels.py")
    assert figures["requests_concluded"] == sum(figures["outcomes"].values()) == figures["messages"] == 100
    assert figures["gateway_deliveries"] == figures["sent"] > 0
    assert figures["bare_posts"] == figures["messages"]
    assert "retry" not in figures["outcomes"]


def test_routing_by_several_workers_admits_every_event_once(run_bench: RunBench) -> None:
    """One worker over one partition, and (with PostgreSQL) two workers over four: every login admitted."""
    figures = run_bench("bench_routing.py")
    layouts = [(r["workers"], r["partitions"]) for r in figures["layouts"]]
    assert layouts == ([(1, 1), (2, 4)] if figures["store"] == "postgresql" else [(1, 1)])
    assert [r["runs"] for r in figures["layouts"]] == [200] * len(layouts)


@pytest.mark.nats
@pytest.mark.postgres
def test_routing_from_the_log_and_from_the_routed_stream_on_nats_admits_every_event_once(
    run_bench: RunBench, nats_url: str, postgres_url: str
) -> None:
    """Both ways of reading (every partition the whole log, or each its own subjects of the routed stream),
    two workers over four partitions (the test above covers one over one): every login admitted once."""
    figures = run_bench(
        "bench_routing.py",
        *("--database-url", postgres_url, "--nats-url", nats_url, "--sources", "log,routed"),
        *("--layouts", "2x4"),
    )
    layouts = [(r["source"], r["workers"], r["partitions"]) for r in figures["layouts"]]
    assert layouts == [("log", 2, 4), ("routed", 2, 4)]
    assert {r["event_log"] for r in figures["layouts"]} == {"nats"}
    assert [r["runs"] for r in figures["layouts"]] == [200] * 2
