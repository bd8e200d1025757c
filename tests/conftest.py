"""Shared fixtures: a fresh data directory and operational store per test, on SQLite and on PostgreSQL.

PostgreSQL runs whenever TOUCHPOINT_TEST_POSTGRES_URL is set (CI sets it and fails if the server is down);
each test gets its own schema so tests never see each other's rows.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings
from sqlalchemy.engine import make_url

from support import MUTATION_RUN, SPARK_RUN, postgres_schema_url, spark_missing
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.store import OperationalStore
from touchpoint.store.analytical.files import exclusive_lock

if MUTATION_RUN:
    # A mutant that makes a property test fail is killed at the first failing example: shrinking it (hundreds
    # of re-runs, each building a store) made mutmut time out on mutants that fail at their first line.
    settings.register_profile("mutation", phases=[Phase.explicit, Phase.generate], database=None)
    settings.load_profile("mutation")

# Every Spark JVM the tests start (in this process or a child's): the client compiler only, and one GC
# thread. The tests' queries are many and small, so the JVM spent most of its time compiling hot code it
# would not run long enough to profit from: the Spark pass took 40 % less time with these (126 → 74 s on
# two of its files). The answers do not depend on either; a deployment keeps the JVM's defaults.
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")

# A new SQLite database starts as a copy of one migrated once per process, not by running every migration
# again: thousands of tests (each hypothesis example of the brute-force tests) build a store, and the
# migrations were a third of such a test's time. The migrations themselves run here, once per process, and
# from every earlier revision in tests/unit/store/test_upgrades.py, which turns the copy off.
_migrate_by_copy = [True]
_real_upgrade = OperationalStore.upgrade


def _upgrade_new_sqlite_by_copy(self: OperationalStore) -> None:
    database = make_url(self.url).database
    on_file = self.dialect == "sqlite" and database not in (None, "", ":memory:")
    if not (on_file and _migrate_by_copy[0] and not Path(str(database)).exists()):
        _real_upgrade(self)
        return
    self.engine.dispose()  # nothing is open on a file that does not exist; nothing will be across the copy
    with exclusive_lock(Path(f"{database}.migrate.lock")):
        if not Path(str(database)).exists():
            shutil.copyfile(_template(), str(database))
            return
    _real_upgrade(self)


@functools.cache
def _template() -> Path:
    """This process's migrated empty database (its WAL checkpointed into the file when it was closed)."""
    path = Path(tempfile.mkdtemp(prefix="touchpoint-schema-")) / "template.db"
    store = OperationalStore(f"sqlite:///{path}")
    _real_upgrade(store)
    store.dispose()
    return path


OperationalStore.upgrade = _upgrade_new_sqlite_by_copy  # type: ignore[method-assign]


@pytest.fixture
def migrations_run_in_full() -> Iterator[None]:
    """Every new SQLite database of the test migrated by Alembic, not copied (tests of the migrations)."""
    _migrate_by_copy[0] = False
    try:
        yield
    finally:
        _migrate_by_copy[0] = True


POSTGRES_ENV = "TOUCHPOINT_TEST_POSTGRES_URL"
_TIMINGS = Path(__file__).parent / "e2e" / "screenshots" / "timings.txt"


ENGINE_TESTS_ENV = "TOUCHPOINT_ENGINE_TESTS"
"""`make test` names a file here. The DuckDB pass writes into it every test file whose tests read a table
through the analytical engine (`AnalyticalStore.table`, its one entry), and the Spark pass of `make contract`
runs only those: a test that never reaches the engine would run the same code on Spark as on DuckDB."""
_engine_files: set[str] = set()
_current_file = [""]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Forget the figures of an earlier run (the browser tests append this run's); in the DuckDB pass of
    `make test`, start noting which test files reach the engine."""
    controller = not hasattr(session.config, "workerinput")  # the controller, or a run without xdist
    if controller:
        _TIMINGS.unlink(missing_ok=True)
    listing = _engine_listing()
    if listing is None:
        return
    if controller:
        listing.unlink(missing_ok=True)
        for old in listing.parent.glob(listing.name + ".*"):
            old.unlink()
    from touchpoint.store import AnalyticalStore

    reader = AnalyticalStore.table

    # The store's `table` (not the backend's read, which a store's cache of views may spare a later test).
    def noted(self: AnalyticalStore, name: str) -> Any:
        _engine_files.add(_current_file[0])
        return reader(self, name)

    AnalyticalStore.table = noted  # type: ignore[method-assign]


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """The test file whose setup, body and teardown run now."""
    _current_file[0] = nodeid.split("::")[0]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Each process writes the files it saw reach the engine; the controller, last, merges them."""
    listing = _engine_listing()
    if listing is None:
        return
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    listing.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{listing}.{worker}").write_text("".join(f"{f}\n" for f in sorted(_engine_files) if f), "utf-8")
    if not hasattr(session.config, "workerinput"):
        parts = sorted(listing.parent.glob(listing.name + ".*"))
        found = {line for part in parts for line in part.read_text("utf-8").splitlines() if line}
        listing.write_text("".join(f"{f}\n" for f in sorted(found)), "utf-8")
        for part in parts:
            part.unlink()


def _engine_listing() -> Path | None:
    """Where the DuckDB pass lists the test files that reach the engine (None: not asked to, or on Spark)."""
    named = os.environ.get(ENGINE_TESTS_ENV)
    return Path(named) if named and not SPARK_RUN else None


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
