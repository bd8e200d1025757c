"""Helpers shared by the test suites (importable as `support`)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# `make mutation` sets this: every mutant reruns the property tests, so they draw fewer examples there.
MUTATION_RUN = os.environ.get("TOUCHPOINT_MUTATION") == "1"
# `make contract` runs the analytical tests again on Spark, where each query costs a job (tenths of a second).
SPARK_RUN = os.environ.get("TOUCHPOINT_ENGINE") == "spark"


def examples(n: int) -> int:
    """Hypothesis examples for a property test: `n`, or a tenth of it (at least 10) under `make mutation` and
    in the Spark pass of `make contract`.

    mutmut reruns a module's tests once per mutant (about 300 per module), and the brute-force property
    tests build a store per example: at full counts a module took days. On Spark every example runs its
    queries as Spark jobs; the full counts run on DuckDB, and the Spark pass checks the same properties."""
    return max(10, n // 10) if MUTATION_RUN or SPARK_RUN else n


SPARK_ENV = "TOUCHPOINT_TEST_SPARK"


def spark_missing() -> str | None:
    """Why Spark cannot run here (no Java, no pyspark), or None when it can."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install -e '.[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Spark needs Java 17 or newer (no java on PATH, no JAVA_HOME)"
    return None


def spark_or_skip() -> None:
    """Skip a Spark test where Spark cannot run — or fail, when TOUCHPOINT_TEST_SPARK=1 (CI) says it must."""
    import pytest

    missing = spark_missing()
    if missing is None:
        return
    if os.environ.get(SPARK_ENV) == "1":
        pytest.fail(f"{SPARK_ENV}=1 but {missing}")
    pytest.skip(missing)


def postgres_schema_url(base: str) -> Iterator[str]:
    """A URL into a fresh schema of the PostgreSQL database at `base`, dropped afterwards."""
    url = make_url(base)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def import_events(container: Any, frame: Any) -> None:
    """Load a pandas frame of events into a test container's analytical store, as a historical import."""
    import pyarrow as pa

    from touchpoint.governance import SYSTEM
    from touchpoint.ingest import ImportOptions, import_arrow

    import_arrow(
        env=container,
        principal=SYSTEM,
        table="events",
        data=pa.Table.from_pandas(frame, preserve_index=False),
        options=ImportOptions(force=True),
        source_name="events",
    )


def demo_world(request: Any, home: Any, prepare: Any = None) -> Iterator[tuple[Any, Any]]:
    """A small demo brokerage on a virtual clock (2026-03-31 09:00 Beijing), with its tags computed, on SQLite
    or — for `request.param == "postgres"` — on a fresh PostgreSQL schema (skipped when no URL is set);
    `prepare(container)` runs before it is handed out. For module-scoped journey fixtures."""
    import os
    from datetime import UTC, date, datetime

    import pytest

    from touchpoint.bootstrap import build
    from touchpoint.config import load_settings
    from touchpoint.core.clock import VirtualClock
    from touchpoint.demo import DemoParams
    from touchpoint.demo.runs import ensure_demo, ensure_demo_tags
    from touchpoint.governance import SYSTEM

    def world(settings: Any) -> Iterator[tuple[Any, Any]]:
        clock = VirtualClock(datetime(2026, 3, 31, 1, tzinfo=UTC))
        container = build(settings, clock=clock)
        params = DemoParams(customers=200, days=15, seed=3, end_date=date(2026, 3, 31))
        ensure_demo(env=container, principal=SYSTEM, params=params)
        ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
        if prepare is not None:
            prepare(container)
        yield container, clock
        container.close()

    if request.param == "sqlite":
        yield from world(load_settings(home))
        return
    base = os.environ.get("TOUCHPOINT_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TOUCHPOINT_TEST_POSTGRES_URL is not set")
    for url in postgres_schema_url(base):
        yield from world(load_settings(home, database_url=url))


TEST_PASSWORD = "correct-horse-42"


def signed_token(container: Any, *, roles: tuple[str, ...] = ("admin",), **user: Any) -> str:
    """A personal API token of a new user with these roles (and `branches`, `advisor_id` if given)."""
    from touchpoint.governance import SYSTEM
    from touchpoint.governance.accounts import create_token, create_user
    from touchpoint.governance.model import TokenCreate, UserCreate

    username = user.pop("username", None) or f"u{uuid.uuid4().hex[:10]}"
    create_user(
        container,
        principal=SYSTEM,
        user=UserCreate(username=username, roles=list(roles), password=TEST_PASSWORD, **user),
    )
    return create_token(container, principal=SYSTEM, username=username, token=TokenCreate(name="tests")).token


def api_client(
    container: Any, *, roles: tuple[str, ...] = ("admin",), username: str | None = None, **client: Any
) -> Any:
    """A TestClient on the container's API, signed in with the token of a new user holding `roles` (named
    `username`, or a random name)."""
    from fastapi.testclient import TestClient

    from touchpoint.api.app import create_app

    token = signed_token(container, roles=roles, username=username)
    return TestClient(create_app(container), headers={"Authorization": f"Bearer {token}"}, **client)


def ingest_keys(container: Any) -> dict[str, str]:
    """A live ingestion key for each source (sensors, segment, posthog, native), by source."""
    from touchpoint.governance import SYSTEM
    from touchpoint.ingest.collector.keys import IngestKeyCreate, create_key

    return {
        source: create_key(
            container, principal=SYSTEM, key=IngestKeyCreate(name=f"tests {source}", source=source)
        ).key
        for source in ("sensors", "segment", "posthog", "native")
    }


WIRE_FORMATS_ONLY = {"collector_require_keys": False}
"""`settings_overrides` of a module about what the collector does with a batch once admitted, not about
which keys admit it (tests/unit/ingest/collector/test_keys.py is)."""


def finished_job(client: Any, job: str, seconds: float = 120) -> dict[str, Any]:
    """Poll GET /api/v1/jobs/{job} until the job is done, failed or cancelled; fail with its last view past
    `seconds`."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        view: dict[str, Any] = client.get(f"/api/v1/jobs/{job}").json()
        if view["stage"] in ("done", "failed", "cancelled"):
            return view
        assert time.monotonic() < deadline, f"job {job} still running after {seconds} s: {view}"
        time.sleep(0.05)


def newcombe_interval(ct: int, nt: int, ch: int, nh: int) -> tuple[float, float]:
    """The 95 % interval of p1 - p2 by Newcombe's hybrid score method (1998, method 10), by hand from the
    two Wilson score intervals."""
    import math

    from scipy.stats import norm

    z = float(norm.ppf(0.975))

    def wilson(c: int, n: int) -> tuple[float, float]:
        p = c / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    p1, p2 = ct / nt, ch / nh
    (l1, u1), (l2, u2) = wilson(ct, nt), wilson(ch, nh)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
