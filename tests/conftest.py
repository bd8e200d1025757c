"""Shared fixtures: a fresh data directory and operational store per test, on SQLite and on PostgreSQL.

PostgreSQL runs whenever TOUCHPOINT_TEST_POSTGRES_URL is set (CI sets it and fails if the server is down);
each test gets its own schema so tests never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings

from support import MUTATION_RUN, SPARK_RUN, postgres_schema_url, spark_missing
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock

if MUTATION_RUN:
    # A mutant that makes a property test fail is killed at the first failing example: shrinking it (hundreds
    # of re-runs, each building a store) made mutmut time out on mutants that fail at their first line.
    settings.register_profile("mutation", phases=[Phase.explicit, Phase.generate], database=None)
    settings.load_profile("mutation")

POSTGRES_ENV = "TOUCHPOINT_TEST_POSTGRES_URL"
_TIMINGS = Path(__file__).parent / "e2e" / "screenshots" / "timings.txt"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Forget the figures of an earlier run (the browser tests append this run's)."""
    if not hasattr(session.config, "workerinput"):  # the controller, or a run without xdist
        _TIMINGS.unlink(missing_ok=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Spark pass (TOUCHPOINT_ENGINE=spark) where Spark cannot run: skipped, or failed in CI."""
    missing = spark_missing() if SPARK_RUN else None
    if missing is None:
        return
    if os.environ.get("TOUCHPOINT_TEST_SPARK") == "1":
        raise pytest.UsageError(f"TOUCHPOINT_ENGINE=spark with TOUCHPOINT_TEST_SPARK=1, but {missing}")
    for item in items:
        item.add_marker(pytest.mark.skip(reason=missing))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print what the browser tests measured (the home page's time to first render)."""
    if _TIMINGS.exists():
        terminalreporter.write_sep("-", "console timings (tests/e2e)")
        for line in _TIMINGS.read_text("utf-8").splitlines():
            terminalreporter.write_line(line)


START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 Beijing on a Monday that is a trading day


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty operational database: SQLite always, PostgreSQL when its URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ops.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    yield from postgres_schema_url(base)


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock at a known trading-day morning."""
    return VirtualClock(START)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings a test module changes from the defaults (override this fixture in the module)."""
    return {}


@pytest.fixture
def container(
    tmp_path: Path, database_url: str, clock: VirtualClock, settings_overrides: dict[str, Any]
) -> Iterator[Container]:
    """Stores and services on a fresh data directory, for each operational database."""
    settings = load_settings(tmp_path / "home", database_url=database_url, **settings_overrides)
    built = build(settings, clock=clock)
    yield built
    built.close()


@pytest.fixture
def sqlite_container(
    tmp_path: Path, clock: VirtualClock, settings_overrides: dict[str, Any]
) -> Iterator[Container]:
    """Stores and services on SQLite only, for tests about the analytical side."""
    built = build(load_settings(tmp_path / "home", **settings_overrides), clock=clock)
    yield built
    built.close()


class _SqliteRequest:
    """What `support.demo_world` reads of a fixture request: the SQLite world."""

    param = "sqlite"


@pytest.fixture(scope="session")
def demo_brokerage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """One small demo brokerage on SQLite with its templates, journeys and the segment one enters from, shared
    by every test that only reads it (building one takes some 20 s; one per xdist worker)."""
    from support import demo_world
    from touchpoint.demo.runs import ensure_demo_journeys, ensure_demo_templates
    from touchpoint.governance import SYSTEM

    def with_journeys(container: Container) -> None:
        ensure_demo_templates(env=container, principal=SYSTEM)
        ensure_demo_journeys(env=container, principal=SYSTEM)

    yield from (
        c for c, _ in demo_world(_SqliteRequest(), tmp_path_factory.mktemp("demo") / "home", with_journeys)
    )
