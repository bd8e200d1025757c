"""What a batch of journey steps reads about customers: rules evaluated at the batch's own time, over snapshot
data shared with earlier batches while the tag snapshot's files are unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.journeys.facts import Snapshot
from touchpoint.tags.layout import TAG_VALUES

AT = datetime(2026, 3, 31, 8, tzinfo=UTC)
DAY = date(2026, 3, 31)


def test_each_batch_reads_at_its_own_time_and_shares_the_snapshot_data(tmp_path: Path) -> None:
    clock = VirtualClock(AT)
    container = build(load_settings(tmp_path / "home"), clock=clock)
    try:
        base = pa.table({"uid": [1, 2], "customer_no": ["C1", "C2"]})
        container.analytics.replace_partitions(TAG_VALUES.name, {DAY: base})
        first = Snapshot(container).context
        assert first.uid_of == {"C1": 1, "C2": 2}
        clock.advance(timedelta(minutes=2))
        second = Snapshot(container).context
        assert second.at == AT + timedelta(minutes=2)  # event windows end at this batch's time
        assert second.data is first.data
        grown = pa.table({"uid": [1, 2, 3], "customer_no": ["C1", "C2", "C3"]})
        container.analytics.replace_partitions(TAG_VALUES.name, {DAY: grown})
        third = Snapshot(container).context
        assert third.data is not first.data
        assert third.uid_of == {"C1": 1, "C2": 2, "C3": 3}  # a recomputed snapshot counts at once
    finally:
        container.close()
