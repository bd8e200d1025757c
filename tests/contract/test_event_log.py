"""One test body for every event log backend: SQL (SQLite, PostgreSQL) and NATS JetStream."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from support import postgres_schema_url
from touchpoint.core.events import AppendResult, LogEntry, LogGroup
from touchpoint.ingest.ports import EventLog
from touchpoint.store import OperationalStore
from touchpoint.store.operational.event_log import SqlEventLog, stored_dedupe_key

NATS_ENV = "TOUCHPOINT_TEST_NATS_URL"
POSTGRES_ENV = "TOUCHPOINT_TEST_POSTGRES_URL"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("nats", marks=pytest.mark.nats),
    ]
)
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    if request.param == "sqlite":
        yield from _sql_log(f"sqlite:///{tmp_path / 'ops.db'}")
    elif request.param == "postgres":
        base = os.environ.get(POSTGRES_ENV)
        if not base:
            pytest.skip(f"{POSTGRES_ENV} is not set")
        for url in postgres_schema_url(base):
            yield from _sql_log(url)
    else:
        yield from _nats_log()


def _sql_log(url: str) -> Iterator[EventLog]:
    ops = OperationalStore(url)
    ops.upgrade()
    yield SqlEventLog(ops)
    ops.dispose()


def _nats_log() -> Iterator[EventLog]:
    url = os.environ.get(NATS_ENV)
    if not url:
        pytest.skip(f"{NATS_ENV} is not set")
    from touchpoint.store.backends.nats_log import NatsEventLog

    nats_log = NatsEventLog(url, dedupe_window=timedelta(minutes=10), stream=f"T_{uuid.uuid4().hex[:10]}")
    yield nats_log
    nats_log.delete_stream()
    nats_log.close()


def _entry(key: str | None, n: int) -> LogEntry:
    return LogEntry(dedupe_key=key, event_id=f"id-{n}", payload={"n": n, "event": "x"})


def test_append_then_read_in_order(log: EventLog) -> None:
    result = log.append([_entry(f"k{n}", n) for n in range(5)], received_at=T0)
    assert result.duplicates == 0
    assert result.offsets == sorted(result.offsets)
    records = log.read_after(0, 100)
    assert [r.payload["n"] for r in records] == [0, 1, 2, 3, 4]
    assert [r.offset for r in records] == result.offsets
    assert records[0].received_at == T0
    assert log.head() == result.offsets[-1]


def test_resent_keys_are_duplicates_and_keyless_entries_never_are(log: EventLog) -> None:
    log.append([_entry("a", 1), _entry(None, 2)], received_at=T0)
    again = log.append([_entry("a", 1), _entry(None, 3), _entry("b", 4)], received_at=T0)
    assert again.duplicates == 1
    assert len(again.offsets) == 2
    assert [r.payload["n"] for r in log.read_after(0, 100)] == [1, 2, 3, 4]


def test_read_after_pages_through_the_log(log: EventLog) -> None:
    log.append([_entry(f"k{n}", n) for n in range(25)], received_at=T0)
    seen: list[int] = []
    offset = 0
    while page := log.read_after(offset, 10):
        seen.extend(r.payload["n"] for r in page)
        offset = page[-1].offset
    assert seen == list(range(25))
    assert log.read_after(log.head(), 10) == []


def test_readers_continue_where_they_stopped_see_what_came_meanwhile_and_may_go_back(log: EventLog) -> None:
    # The NATS log keeps a reader's pull consumer between reads; every read must still be exactly the records
    # after the offset asked for, whichever reader asks and in whatever order.
    def numbers(records: Sequence[Any]) -> list[int]:
        return [r.payload["n"] for r in records]

    log.append([_entry(f"a{n}", n) for n in range(5)], received_at=T0)
    first = log.read_after(0, 3)
    assert numbers(first) == [0, 1, 2]
    log.append([_entry(f"b{n}", n) for n in (5, 6)], received_at=T0)
    second = log.read_after(first[-1].offset, 10)
    assert numbers(second) == [3, 4, 5, 6]
    assert numbers(log.read_after(0, 2)) == [0, 1]  # another reader, from the start
    assert numbers(log.read_after(first[-1].offset, 10)) == [3, 4, 5, 6]  # the first reader, again
    assert numbers(log.read_after(first[0].offset, 2)) == [1, 2]
    assert log.read_after(second[-1].offset, 10) == []
    log.append([_entry("c", 7)], received_at=T0)
    assert numbers(log.read_after(second[-1].offset, 10)) == [7]
    assert numbers(log.read_after(0, 100)) == list(range(8))


def test_trim_drops_only_processed_records_and_offsets_stay_valid(log: EventLog) -> None:
    offsets = log.append([_entry(f"k{n}", n) for n in range(5)], received_at=T0).offsets
    assert log.trim(up_to=offsets[1], older_than=T0) == 0  # not old enough yet
    assert log.trim(up_to=offsets[1], older_than=T0 + timedelta(days=1)) == 2
    assert [r.payload["n"] for r in log.read_after(0, 100)] == [2, 3, 4]
    assert [r.offset for r in log.read_after(offsets[2], 100)] == offsets[3:]
    assert log.head() == offsets[-1]


def test_a_log_trimmed_whole_numbers_new_records_after_the_old_ones(log: EventLog) -> None:
    # SQLite numbered the next record 1 once every record was trimmed: below every consumer's offset, so
    # consumers never read it.
    offsets = log.append([_entry(f"k{n}", n) for n in range(3)], received_at=T0).offsets
    log.trim(up_to=offsets[-1], older_than=T0 + timedelta(days=30))
    later = log.append([_entry("late", 9)], received_at=T0 + timedelta(days=31)).offsets
    assert later[0] > offsets[-1]
    assert [r.payload["n"] for r in log.read_after(offsets[-1], 10)] == [9]


def test_groups_are_appended_together_and_a_key_repeated_in_a_later_group_is_its_duplicate(
    log: EventLog,
) -> None:
    later = T0 + timedelta(seconds=1)
    first, second = log.append_groups(
        [
            LogGroup([_entry("a", 1), _entry("b", 2)], T0),
            LogGroup([_entry("b", 3), _entry(None, 4), _entry("c", 5)], later),
        ]
    )
    assert (len(first.offsets), first.duplicates) == (2, 0)
    assert (len(second.offsets), second.duplicates) == (2, 1)
    assert first.offsets == sorted(first.offsets)
    assert second.offsets == sorted(second.offsets)
    assert max(first.offsets) < min(second.offsets)
    records = log.read_after(0, 100)
    assert [r.payload["n"] for r in records] == [1, 2, 4, 5]
    assert [r.offset for r in records] == first.offsets + second.offsets
    assert [r.received_at for r in records] == [T0, T0, later, later]


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_sql_log_writes_bookkeeping_in_the_same_transaction(tmp_path: Path, database: str) -> None:
    """A collector's counters fail to write: its events are not in the log either (the SDK's retry
    would otherwise store them twice)."""
    seen: list[int] = []

    def bookkeeping(connection: Connection, results: Sequence[AppendResult]) -> None:
        seen.extend(r.duplicates for r in results)
        raise RuntimeError("the counters could not be written")

    for sql_log in _logs_of(database, tmp_path):
        with pytest.raises(RuntimeError, match="counters"):
            sql_log.append_groups([LogGroup([_entry("a", 1)], T0)], bookkeeping=bookkeeping)
        assert seen == [0]
        assert sql_log.read_after(0, 10) == []
        assert sql_log.append([_entry("a", 1)], received_at=T0).duplicates == 0


def _logs_of(database: str, tmp_path: Path) -> Iterator[EventLog]:
    if database == "sqlite":
        yield from _sql_log(f"sqlite:///{tmp_path / 'ops.db'}")
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    for url in postgres_schema_url(base):
        yield from _sql_log(url)


@pytest.mark.parametrize(
    "key",
    [
        "seg|wk|" + "m" * 400,
        "ph|" + "k" * 10_000 + "|u1",
        "quote'\\\"; drop table x; --",
        "nul\x00key",
        "张三🌸",
    ],
)
def test_a_dedupe_key_of_any_length_or_content_is_stored_and_recognised(log: EventLog, key: str) -> None:
    first = log.append([_entry(key, 1)], received_at=T0)
    assert (len(first.offsets), first.duplicates) == (1, 0)
    again = log.append([_entry(key, 2), _entry(key + "x", 3)], received_at=T0)
    assert again.duplicates == 1
    assert [r.payload["n"] for r in log.read_after(0, 100)] == [1, 3]


def test_keys_that_share_a_long_prefix_are_not_confused(log: EventLog) -> None:
    prefix = "sa|default|" + "7" * 500
    result = log.append([_entry(prefix + "|a", 1), _entry(prefix + "|b", 2)], received_at=T0)
    assert result.duplicates == 0


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_key_stored_raw_before_hashing_is_still_recognised(database: str, tmp_path: Path) -> None:
    """Upgrade: keys were stored as text before they were hashed; a resend across it stays a duplicate."""
    from touchpoint.store.operational.schema import event_dedupe

    if database == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'ops.db'}"])
    else:
        base = os.environ.get(POSTGRES_ENV)
        if not base:
            pytest.skip(f"{POSTGRES_ENV} is not set")
        urls = postgres_schema_url(base)
    for url in urls:
        ops = OperationalStore(url)
        ops.upgrade()
        with ops.begin() as connection:
            connection.execute(event_dedupe.insert().values(key="seg|wk|m-1", seen_at=T0))
        log = SqlEventLog(ops)
        result = log.append([_entry("seg|wk|m-1", 1), _entry("seg|wk|m-2", 2)], received_at=T0)
        assert result.duplicates == 1
        assert [r.payload["n"] for r in log.read_after(0, 100)] == [2]
        with ops.begin() as connection:
            stored = set(
                connection.execute(event_dedupe.select().with_only_columns(event_dedupe.c.key)).scalars()
            )
        assert stored == {"seg|wk|m-1", stored_dedupe_key("seg|wk|m-2")}
        ops.dispose()


@pytest.mark.nats
def test_a_nats_cluster_is_given_as_comma_separated_urls() -> None:
    """`nats_url = "nats://a:4222,nats://b:4222"` names a cluster's servers (as NATS tools take them): the
    log connects through whichever answers, here after a server that refuses connections."""
    url = os.environ.get(NATS_ENV)
    if not url:
        pytest.skip(f"{NATS_ENV} is not set")
    from touchpoint.store.backends.nats_log import NatsEventLog

    cluster = f"nats://127.0.0.1:1, {url}"
    nats_log = NatsEventLog(cluster, dedupe_window=timedelta(minutes=10), stream=f"T_{uuid.uuid4().hex[:10]}")
    try:
        nats_log.append([_entry("k", 1)], received_at=T0)
        assert [r.payload["n"] for r in nats_log.read_after(0, 10)] == [1]
    finally:
        nats_log.delete_stream()
        nats_log.close()


@pytest.mark.nats
def test_a_nats_reader_paging_through_keeps_one_consumer_and_a_restart_is_survived() -> None:
    """Reads that continue where the last stopped reuse its pull consumer (one on the server, not one made
    and deleted per read); a consumer the server lost (deleted under it) is replaced, not waited on."""
    [nats_log] = list(_nats_log_open())
    try:
        nats_log.append([_entry(f"k{n}", n) for n in range(25)], received_at=T0)
        seen, offset = [], 0
        while page := nats_log.read_after(offset, 10):
            seen.extend(r.payload["n"] for r in page)
            offset = page[-1].offset
            assert _consumers(nats_log) == 1
        assert seen == list(range(25))
        nats_log.append([_entry("k25", 25)], received_at=T0)
        for name in _consumer_names(nats_log):  # as a restarted server without the ephemeral consumer
            nats_log._run(nats_log._js.delete_consumer(nats_log.stream, name))
        assert [r.payload["n"] for r in nats_log.read_after(offset, 10)] == [25]
        nats_log.close()
        assert _consumers(nats_log, reopen=True) == 0
    finally:
        _delete(nats_log)


def _nats_log_open() -> Iterator[Any]:
    url = os.environ.get(NATS_ENV)
    if not url:
        pytest.skip(f"{NATS_ENV} is not set")
    from touchpoint.store.backends.nats_log import NatsEventLog

    yield NatsEventLog(url, dedupe_window=timedelta(minutes=10), stream=f"T_{uuid.uuid4().hex[:10]}")


def _consumer_names(nats_log: Any) -> list[str]:
    return [c.name for c in nats_log._run(nats_log._js.consumers_info(nats_log.stream))]


def _consumers(nats_log: Any, *, reopen: bool = False) -> int:
    if not reopen:
        return len(_consumer_names(nats_log))
    from touchpoint.store.backends.nats_log import NatsEventLog

    fresh = NatsEventLog(nats_log.url, dedupe_window=timedelta(minutes=10), stream=nats_log.stream)
    try:
        return len(_consumer_names(fresh))
    finally:
        fresh.close()


def _delete(nats_log: Any) -> None:
    from touchpoint.store.backends.nats_log import NatsEventLog

    fresh = NatsEventLog(nats_log.url, dedupe_window=timedelta(minutes=10), stream=nats_log.stream)
    try:
        fresh.delete_stream()
    finally:
        fresh.close()
