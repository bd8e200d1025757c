"""Smoke run of the One ID bench: bulk binding of imported history against pair by pair."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

RunBench = Callable[..., dict[str, Any]]  # the run_bench fixture of tests/bench/conftest.py

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_identity_binds_every_pair_and_agrees_with_pair_by_pair(
    run_bench: RunBench, store: str, request: pytest.FixtureRequest
) -> None:
    options = ["--database-url", request.getfixturevalue("postgres_url")] if store == "postgres" else []
    figures = run_bench("bench_identity.py", *options)
    [size] = figures["sizes"]
    assert size["store"] == ("postgresql" if store == "postgres" else "sqlite")
    assert size["pairs"] > size["peer_pairs"] > 0
    assert size["same_graph"] is True
    log = size["log"]
    assert log["create"] >= size["customers"]  # the customers linked first, and logins only the history names
    assert log["link"] > 0
    assert log["shared"] >= 1  # the kiosk
