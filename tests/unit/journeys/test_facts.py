"""What a batch of journey steps reads about customers: rules evaluated at the batch's own time, over snapshot
data shared with earlier batches while the tag snapshot's files are unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.journeys.facts import LiveFacts, Snapshot
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


def test_a_note_reads_the_profile_only_when_it_names_it_and_names_its_fault(
    tmp_path: Path,
) -> None:
    container = build(load_settings(tmp_path / "home"), clock=VirtualClock(AT))
    try:
        profile = pa.table({"customer_no": ["C1", "C2"], "name": ["张三", "李四"]})
        container.analytics.replace_partitions("customers", {DAY: profile})
        snapshot = Snapshot(container, ["C2"])
        facts = LiveFacts(None, snapshot, "C2")
        assert facts.render("{{ customer_no }} 认购 {{ payload.fund }}", {"fund": "F1"}) == "C2 认购 F1"
        assert "attributes" not in snapshot.__dict__  # `customer_no` is not `customer`: no profile read
        assert facts.render("尊敬的{{ customer.name }}", {}) == "尊敬的李四"
        # A value the payload lacks, a text that would outgrow any message, a refused attribute: the note
        # names the fault instead of stopping the run (retrying cannot mend a template).
        missing = facts.render("{{ payload.fund }}", {})
        assert missing.startswith("[not rendered: text: ")
        assert "fund" in missing
        huge = facts.render("{{ '长' * 10 ** 9 }}", {})
        assert huge.startswith("[not rendered: text: ")
        assert len(huge) < 500
        private = facts.render("{{ payload.__class__ }}", {})
        assert private.startswith("[not rendered: text: ")
        broken = facts.render("{{ payload.fund ", {})
        assert broken.startswith("[not rendered: text: ")
    finally:
        container.close()
