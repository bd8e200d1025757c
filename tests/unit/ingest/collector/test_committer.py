"""Group commit: requests waiting together share one write, each answered with its own result."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from touchpoint.bootstrap import Container
from touchpoint.core.events import AppendResult, Bookkeeping, LogEntry, LogGroup
from touchpoint.ingest.collector.committer import GroupCommitter
from touchpoint.ingest.collector.model import Batch
from touchpoint.ingest.collector.service import Prepared, prepare
from touchpoint.ingest.ports import EventLog
from touchpoint.store.operational.schema import collector_counters


class SpyLog:
    """The container's log, recording each write's group sizes; the first write can be held until
    released, and a group holding a poisoned event fails its write."""

    def __init__(self, inner: EventLog) -> None:
        self.inner = inner
        self.writes: list[list[int]] = []
        self.hold_first = threading.Event()
        self.first_started = threading.Event()
        self.hold_first.set()

    def append(self, entries: Sequence[LogEntry], *, received_at: datetime) -> AppendResult:
        return self.append_groups([LogGroup(entries, received_at)])[0]

    def append_groups(
        self, groups: Sequence[LogGroup], *, bookkeeping: Bookkeeping | None = None
    ) -> list[AppendResult]:
        self.writes.append([len(g.entries) for g in groups])
        if len(self.writes) == 1:
            self.first_started.set()
            assert self.hold_first.wait(10)
        if any(e.payload["event"] == "poison" for g in groups for e in g.entries):
            raise ValueError("this event cannot be stored")
        return self.inner.append_groups(groups, bookkeeping=bookkeeping)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def spy(container: Container) -> SpyLog:
    log = SpyLog(container.log)
    container.log = log  # type: ignore[assignment]
    return log


def _request(container: Container, *event_ids: str, event: str = "fund_view") -> Prepared:
    now_ms = int(container.clock.now().timestamp() * 1000)
    messages = [{"event": event, "customer_no": "C1", "time": now_ms, "event_id": e} for e in event_ids]
    return prepare(env=container, batch=Batch(source="native", project="default", messages=messages))


def _counters(container: Container) -> dict[str, int]:
    with container.ops.begin() as connection:
        rows = connection.execute(select(collector_counters.c.name, collector_counters.c.value)).all()
    return {name: int(value) for name, value in rows}


def test_requests_waiting_together_share_one_write_and_each_gets_its_own_result(
    container: Container, spy: SpyLog
) -> None:
    committer = GroupCommitter(container)
    try:
        spy.hold_first.clear()
        first = committer.submit(_request(container, "a"))
        assert spy.first_started.wait(10)
        waiting = [
            committer.submit(_request(container, "b", "c")),
            committer.submit(_request(container, "c", "d", "e")),  # "c" is the earlier request's
            committer.submit(_request(container, "b")),
        ]
        spy.hold_first.set()
        results = [first.result(10), *(f.result(10) for f in waiting)]
    finally:
        committer.close()
    assert spy.writes == [[1], [2, 3, 1]]
    assert [(r.accepted, r.duplicates) for r in results] == [(1, 0), (2, 0), (2, 1), (0, 1)]
    assert [r.payload["event_id"] for r in container.log.read_after(0, 100)] == [
        e.payload["event_id"]
        for e in _request(container, "a", "b", "c", "d", "e").entries  # ids derive from the keys alone
    ]
    counters = _counters(container)
    assert (counters["accepted|native"], counters["duplicates|native"], counters["batches|native"]) == (
        5,
        2,
        4,
    )


def test_a_request_whose_write_fails_is_refused_alone(container: Container, spy: SpyLog) -> None:
    committer = GroupCommitter(container)
    try:
        spy.hold_first.clear()
        first = committer.submit(_request(container, "a"))
        assert spy.first_started.wait(10)
        good = committer.submit(_request(container, "b"))
        bad = committer.submit(_request(container, "p", event="poison"))
        other = committer.submit(_request(container, "c"))
        spy.hold_first.set()
        assert first.result(10).accepted == 1
        assert good.result(10).accepted == 1
        assert other.result(10).accepted == 1
        with pytest.raises(ValueError, match="cannot be stored"):
            bad.result(10)
    finally:
        committer.close()
    assert spy.writes[1] == [1, 1, 1]  # together first, then each alone
    assert len(container.log.read_after(0, 100)) == 3
    assert _counters(container)["batches|native"] == 3


def test_close_writes_what_is_waiting_and_refuses_what_comes_after(container: Container, spy: SpyLog) -> None:
    committer = GroupCommitter(container)
    spy.hold_first.clear()
    first = committer.submit(_request(container, "a"))
    assert spy.first_started.wait(10)
    queued = committer.submit(_request(container, "b"))
    closing = threading.Thread(target=committer.close)
    closing.start()
    spy.hold_first.set()
    closing.join(10)
    assert (first.result(1).accepted, queued.result(1).accepted) == (1, 1)
    with pytest.raises(RuntimeError, match="closed"):
        committer.submit(_request(container, "c"))


def test_a_group_is_split_at_its_event_limit(container: Container, spy: SpyLog) -> None:
    committer = GroupCommitter(container, max_group_events=3)
    try:
        spy.hold_first.clear()
        first = committer.submit(_request(container, "a"))
        assert spy.first_started.wait(10)
        waiting = [committer.submit(_request(container, f"x{n}", f"y{n}")) for n in range(3)]
        spy.hold_first.set()
        assert [f.result(10).accepted for f in [first, *waiting]] == [1, 2, 2, 2]
    finally:
        committer.close()
    assert spy.writes == [[1], [2, 2], [2]]
