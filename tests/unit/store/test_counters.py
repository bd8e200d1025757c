"""Frequency-cap counters: concurrent writers never raise a counter past its limit (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from touchpoint.store.operational.counters import add_counts, bump_below, counter_value
from touchpoint.store.operational.db import OperationalStore
from touchpoint.store.operational.schema import collector_counters


def test_concurrent_bumps_stop_exactly_at_the_limit(database_url: str) -> None:
    ops = OperationalStore(database_url)
    ops.upgrade()
    start = threading.Barrier(8)

    def writer(_: int) -> int:
        start.wait()
        taken = 0
        for _ in range(5):
            with ops.begin() as connection:
                taken += bump_below(connection, customer_no="C1", scope="*", period="d2026-03-31", limit=7)
        return taken

    try:
        with ThreadPoolExecutor(8) as pool:
            taken = sum(pool.map(writer, range(8)))
        with ops.begin() as connection:
            assert counter_value(connection, customer_no="C1", scope="*", period="d2026-03-31") == 7
            assert counter_value(connection, customer_no="C1", scope="*", period="d2026-04-01") == 0
            assert not bump_below(connection, customer_no="C2", scope="*", period="d2026-03-31", limit=0)
        assert taken == 7  # forty attempts, seven granted: none overshoots, none is lost
    finally:
        ops.dispose()


def test_collector_counters_created_by_concurrent_writers_add_up(database_url: str) -> None:
    """Eight writers create the same counters at once: every write succeeds and no count is lost."""
    ops = OperationalStore(database_url)
    ops.upgrade()
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        start.wait()
        for _ in range(5):
            with ops.begin() as connection:
                add_counts(connection, {"accepted|native": n + 1, f"batches|w{n % 2}": 1})

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(writer, range(8)))
        with ops.begin() as connection:
            counts = {r.name: int(r.value) for r in connection.execute(select(collector_counters))}
        assert counts == {"accepted|native": 5 * sum(range(1, 9)), "batches|w0": 20, "batches|w1": 20}
    finally:
        ops.dispose()
