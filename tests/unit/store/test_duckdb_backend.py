"""The DuckDB backend releases every thread's connection on close."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from touchpoint.config import load_settings
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


def test_views_of_versions_nobody_holds_are_dropped(tmp_path: Path) -> None:
    """A long-running process reads a new version at every compaction: the views of versions no expression
    holds any more go (they piled up by the thousand), and one still held keeps working however many
    versions come after it."""
    path = tmp_path / "values" / "dt=2026-03-31" / "part-1.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"c": ["A", "B"]}), path)
    backend = DuckDBBackend()
    held = backend.read_parquet_files("values", 1, [path], pa.schema([]))
    counted = held.filter(held.c == "B")
    for version in range(2, 22):
        backend.read_parquet_files("values", version, [path], pa.schema([])).count().to_pyarrow()
        gc.collect()
    latest = backend.read_parquet_files("values", 22, [path], pa.schema([]))
    views = backend.connection.con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal")
    names = [n for (n,) in views.fetchall() if n.startswith("values__v")]
    assert len(names) <= 3, names  # the held one, the latest, at most one not yet dropped
    assert counted.count().to_pyarrow().as_py() == 1
    assert latest.count().to_pyarrow().as_py() == 2
    backend.close()


def test_a_memory_limit_caps_duckdb_and_spills_to_the_directory_given(tmp_path: Path) -> None:
    backend = DuckDBBackend(memory_limit="512MB", spill_directory=tmp_path / "spill")
    limit, spill = backend.connection.raw_sql(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()
    assert limit == "488.2 MiB"  # 512 MB as DuckDB shows it
    assert spill == str(tmp_path / "spill")
    backend.close()


@pytest.mark.parametrize("limit", ["4GB'; DROP VIEW x; --", "lots", "4 parsecs"])
def test_a_memory_limit_that_is_no_size_is_refused(tmp_path: Path, limit: str) -> None:
    with pytest.raises(ValueError, match=r"duckdb_memory_limit"):
        load_settings(tmp_path, duckdb_memory_limit=limit)
    with pytest.raises(ValueError, match="memory size"):
        _ = DuckDBBackend(memory_limit=limit).connection
