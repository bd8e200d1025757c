"""One worker pass: One ID, compaction, and trimming what every consumer has processed."""

from datetime import timedelta

from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.ingest.collector import native
from touchpoint.ingest.collector.service import collect
from touchpoint.ingest.collector.timing import to_millis
from touchpoint.worker.loop import run_pass


def _send(container: Container, *events: dict[str, object]) -> None:
    import orjson

    batch = native.decode(orjson.dumps({"events": list(events)}), inflate_limit=1 << 20)
    collect(env=container, batch=batch)


def test_pass_links_compacts_and_later_trims_the_log(container: Container, clock: VirtualClock) -> None:
    now = to_millis(clock.now())
    _send(
        container,
        {"event_id": "a", "event": "login", "customer_no": "C1", "anonymous_id": "dev-1", "time": now},
        {"event_id": "b", "event": "fund_detail_view", "distinct_id": "dev-1", "time": now},
    )
    first = run_pass(container)
    assert (first.identity_events, first.compacted_records) == (2, 2)
    assert container.log.head() == 2
    assert len(container.log.read_after(0, 10)) == 2  # within the retention, the log keeps them

    clock.advance(timedelta(days=container.settings.event_log_retention_days + 1))
    run_pass(container)
    # Every processed record is trimmed but the newest, which keeps the numbering going on after it.
    assert [r.offset for r in container.log.read_after(0, 10)] == [2]
    assert container.analytics.table("events").count().execute() == 2  # Parquet keeps everything
    assert run_pass(container).compacted_records == 0
