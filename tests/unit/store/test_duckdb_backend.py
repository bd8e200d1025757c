"""The DuckDB backend releases every thread's connection on close."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from touchpoint.store.backends.duckdb import DuckDBBackend


def _connection_of_a_thread(backend: DuckDBBackend) -> Any:
    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(backend.connection))
    thread.start()
    thread.join()
    return found[0]


def test_close_disconnects_the_connections_of_every_thread() -> None:
    backend = DuckDBBackend()
    mine = backend.connection
    others = [_connection_of_a_thread(backend) for _ in range(3)]
    assert len({id(c) for c in [mine, *others]}) == 4, "one connection per thread"
    assert mine.raw_sql("select 1").fetchall() == [(1,)]
    backend.close()
    for con in [mine, *others]:
        with pytest.raises(Exception, match=r"(?i)closed"):
            con.raw_sql("select 1").fetchall()
    fresh = backend.connection
    assert fresh is not mine
    assert fresh.raw_sql("select 2").fetchall() == [(2,)]
