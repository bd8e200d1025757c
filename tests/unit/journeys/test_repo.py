"""The journey store's queries: how they find their rows, not only what they return."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.journeys import repo

NOW = datetime(2026, 3, 31, 1, tzinfo=UTC)


def test_claiming_due_runs_reads_the_wake_at_index_not_a_journeys_history(tmp_path: Path) -> None:
    # A long-lived journey holds millions of ended runs: claiming must not read them on every tick, as it did
    # when SQLite (no statistics) chose the (journey, entered_at) index.
    container = build(load_settings(tmp_path / "home"), clock=VirtualClock(NOW))
    executed: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        executed.append((statement, parameters))

    try:
        with container.ops.begin() as connection:
            event.listen(connection, "before_cursor_execute", remember)
            assert repo.claim_due(connection, NOW, ["a", "b"], 10) == []
            event.remove(connection, "before_cursor_execute", remember)
            [(statement, parameters)] = [(s, p) for s, p in executed if "FROM journey_runs" in s]
            plan = [
                str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ]
        assert any(repo.WAKE_AT_INDEX in step for step in plan), plan
        assert not any("entered_at" in step for step in plan), plan
    finally:
        container.close()
