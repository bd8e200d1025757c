"""When the event log cannot take a batch the collector answers 503, and each real SDK keeps its data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest
import sensorsanalytics
from segment.analytics.client import Client as SegmentClient
from sqlalchemy.exc import OperationalError

from touchpoint.bootstrap import Container
from touchpoint.core.events import AppendResult, Bookkeeping, LogEntry, LogGroup
from touchpoint.ingest.ports import EventLog
from touchpoint.worker.loop import run_pass


class FlakyLog:
    """An event log that is unavailable for its first `failures` appends."""

    def __init__(self, inner: EventLog, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    def append(self, entries: Sequence[LogEntry], *, received_at: datetime) -> AppendResult:
        return self.append_groups([LogGroup(entries, received_at)])[0]

    def append_groups(
        self, groups: Sequence[LogGroup], *, bookkeeping: Bookkeeping | None = None
    ) -> list[AppendResult]:
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return self.inner.append_groups(groups, bookkeeping=bookkeeping)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture
def flaky(container: Container) -> FlakyLog:
    log = FlakyLog(container.log, failures=0)
    container.log = log  # type: ignore[assignment]
    return log


def _stored(container: Container) -> list[str]:
    run_pass(container)
    return [e["event"] for e in container.analytics.table("events").to_pyarrow().to_pylist()]


def test_sensors_sync_consumer_raises_on_503_and_succeeds_after(
    container: Container, flaky: FlakyLog, live_server: str, keys: dict[str, str]
) -> None:
    sa = sensorsanalytics.SensorsAnalytics(
        sensorsanalytics.DefaultConsumer(f"{live_server}/sa?token={keys['sensors']}")
    )
    flaky.failures = 1
    with pytest.raises(sensorsanalytics.SensorsAnalyticsNetworkException):
        sa.track("dev-1", "first_try", {})
    sa.track("dev-1", "second_try", {})
    assert _stored(container) == ["second_try"]


def test_segment_retries_a_503_and_the_event_lands_once(
    container: Container, flaky: FlakyLog, live_server: str, keys: dict[str, str]
) -> None:
    flaky.failures = 1
    client = SegmentClient(
        write_key=keys["segment"], host=live_server, max_retries=4
    )  # the retrying background consumer
    client.track(user_id="C1", event="Order Completed", message_id="m-1")
    client.flush()
    client.shutdown()
    assert flaky.failures == 0
    assert _stored(container) == ["Order Completed"]
