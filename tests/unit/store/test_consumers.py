"""Poison-proof consumption: a bad record becomes a dead letter and the offset moves past it; good records
are applied once, in order, in one batch when they can be; a transient failure dead-letters nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, insert, select
from sqlalchemy import exc as sa_exc

from touchpoint.core.events import LogRecord
from touchpoint.store.operational import dead_letters
from touchpoint.store.operational.consumers import (
    consume_isolated,
    is_transient,
    isolate_poison,
    retry_dead_letters,
)
from touchpoint.store.operational.db import OperationalStore
from touchpoint.store.operational.offsets import get_offset
from touchpoint.store.operational.schema import audit_log

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CONSUMER = "test-consumer"


def _records(n: int, bad: dict[int, str] | None = None) -> list[LogRecord]:
    return [
        LogRecord(
            offset=i,
            event_id=f"e{i}",
            received_at=NOW + timedelta(seconds=i),
            payload={"n": i, "customer_no": (bad or {}).get(i, f"C{i}")},
        )
        for i in range(1, n + 1)
    ]


class FakeLog:
    """An event log in memory."""

    def __init__(self, records: list[LogRecord]) -> None:
        self.records = records

    def read_after(self, after: int, limit: int) -> list[LogRecord]:
        """Records after `after`."""
        return [r for r in self.records if r.offset > after][:limit]


class Effects:
    """Writes one audit row per record (so a rolled-back batch leaves none); refuses a record whose customer
    number holds a control character, as a consumer's own check would."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.transient = False

    def apply(self, connection: Connection, records: Sequence[LogRecord]) -> None:
        """Apply records in the caller's transaction."""
        self.calls.append([r.offset for r in records])
        for record in records:
            if self.transient:
                raise sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))
            value = record.payload["customer_no"]
            if not value.isprintable():
                raise ValueError(f"bad customer number {value!r}")
            connection.execute(
                insert(audit_log).values(
                    at=NOW, actor="t", action="applied", target_type="record", target_id=str(record.offset)
                )
            )


@pytest.fixture
def ops(database_url: str) -> Iterator[OperationalStore]:
    store = OperationalStore(database_url)
    store.upgrade()
    yield store
    store.dispose()


def _consume(ops: OperationalStore, log: FakeLog, effects: Effects, limit: int = 100) -> int:
    consumed = consume_isolated(
        ops=ops,
        consumer=CONSUMER,
        position=lambda connection: get_offset(connection, CONSUMER),
        read=lambda after: log.read_after(after, limit),
        apply=effects.apply,
        now=lambda: NOW,
    )
    return consumed.records


def _applied(ops: OperationalStore) -> list[int]:
    with ops.begin() as connection:
        query = select(audit_log.c.target_id).order_by(audit_log.c.id)
        return [int(v) for v in connection.execute(query).scalars()]


def _offset(ops: OperationalStore) -> int:
    with ops.begin() as connection:
        return get_offset(connection, CONSUMER)


def test_a_good_batch_is_applied_in_one_call(ops: OperationalStore) -> None:
    effects = Effects()
    assert _consume(ops, FakeLog(_records(50)), effects) == 50
    assert effects.calls == [list(range(1, 51))]
    assert _applied(ops) == list(range(1, 51))
    assert _offset(ops) == 50


def test_bad_records_become_dead_letters_and_the_rest_is_applied_once_in_order(ops: OperationalStore) -> None:
    effects = Effects()
    log = FakeLog(_records(40, bad={7: "C\x007", 8: "C\x008", 33: "\x1b[2J"}))
    assert _consume(ops, log, effects) == 40
    assert _applied(ops) == [i for i in range(1, 41) if i not in (7, 8, 33)]
    assert _offset(ops) == 40
    with ops.begin() as connection:
        letters = dead_letters.list_letters(connection, consumer=CONSUMER)
    assert sorted(letter.offset for letter in letters) == [7, 8, 33]
    by_offset = {letter.offset: letter for letter in letters}
    assert by_offset[7].record == {"n": 7, "customer_no": "C\x007"}  # the record itself, NUL included
    assert (by_offset[7].event_id, by_offset[7].status, by_offset[7].attempts) == ("e7", "open", 1)
    assert by_offset[7].error.startswith("ValueError: bad customer number")
    assert "\x00" not in by_offset[7].error  # shown escaped: PostgreSQL text cannot hold NUL
    assert len(effects.calls) < 40  # halving, not one transaction per record
    assert _consume(ops, log, effects) == 0  # nothing left: the offset moved past the bad records


def test_a_transient_failure_dead_letters_nothing_and_keeps_the_offset(ops: OperationalStore) -> None:
    effects = Effects()
    effects.transient = True
    log = FakeLog(_records(10))
    with pytest.raises(sa_exc.OperationalError):
        _consume(ops, log, effects)
    assert _offset(ops) == 0
    with ops.begin() as connection:
        assert dead_letters.list_letters(connection) == []
    effects.transient = False
    assert _consume(ops, log, effects) == 10
    assert _applied(ops) == list(range(1, 11))


def test_a_dead_letter_is_retried_on_request(ops: OperationalStore) -> None:
    effects = Effects()
    log = FakeLog(_records(3, bad={2: "C\x002"}))
    _consume(ops, log, effects)
    with ops.begin() as connection:
        (letter,) = dead_letters.list_letters(connection)
        assert dead_letters.request_retry(connection, letter.id).status == "retrying"  # type: ignore[union-attr]
    _consume(ops, log, effects)  # still bad: open again, its attempt counted
    with ops.begin() as connection:
        again = dead_letters.get_letter(connection, letter.id)
    assert again is not None
    assert (again.status, again.attempts, again.retried_at) == ("open", 2, NOW)

    with ops.begin() as connection:  # the consumer learnt to read it (here: the record is mended)
        table = dead_letters.dead_letters
        mended = {"n": 2, "customer_no": "C2"}
        connection.execute(table.update().where(table.c.id == letter.id).values(record=mended))
        dead_letters.request_retry(connection, letter.id)
    _consume(ops, log, effects)
    with ops.begin() as connection:
        done = dead_letters.get_letter(connection, letter.id)
        assert dead_letters.unresolved(connection) == 0
        assert dead_letters.counts(connection) == {CONSUMER: {"resolved": 1}}
    assert done is not None
    assert (done.status, done.resolved_at) == ("resolved", NOW)
    assert sorted(_applied(ops)) == [1, 2, 3]


def test_two_workers_retrying_one_letter_apply_it_once(
    ops: OperationalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers of one consumer both list a letter waiting for its retry: the first applies it, the other
    finds it taken (it claims the letter in the transaction that would apply it) and applies nothing."""
    effects = Effects()
    log = FakeLog(_records(3, bad={2: "C\x002"}))
    _consume(ops, log, effects)
    with ops.begin() as connection:
        (letter,) = dead_letters.list_letters(connection)
        table = dead_letters.dead_letters
        connection.execute(
            table.update().where(table.c.id == letter.id).values(record={"n": 2, "customer_no": "C2"})
        )
        dead_letters.request_retry(connection, letter.id)
    listed, release = threading.Barrier(2, timeout=30), threading.Event()
    real_listing = dead_letters.retries_requested

    def list_then_wait_for_the_other(connection: Connection, consumer: str) -> Any:
        letters = real_listing(connection, consumer)
        listed.wait()  # neither goes on before both have listed the letter
        return letters

    monkeypatch.setattr(dead_letters, "retries_requested", list_then_wait_for_the_other)
    slow = Effects()

    def apply_slowly(connection: Connection, records: Sequence[LogRecord]) -> None:
        release.wait(timeout=30)  # hold the claim while the other worker tries
        slow.apply(connection, records)

    def worker() -> int:
        return retry_dead_letters(ops=ops, consumer=CONSUMER, apply=apply_slowly, now=lambda: NOW)

    with ThreadPoolExecutor(2) as pool:
        tries = [pool.submit(worker) for _ in range(2)]
        time.sleep(0.5)  # one holds the claim, the other waits for it
        release.set()
        tried = sorted(t.result() for t in tries)
    assert tried == [0, 1]
    assert slow.calls == [[2]]
    assert sorted(_applied(ops)) == [1, 2, 3]
    with ops.begin() as connection:
        done = dead_letters.get_letter(connection, letter.id)
    assert done is not None
    assert (done.status, done.attempts) == ("resolved", 2)


def test_a_record_is_dead_lettered_once_even_when_a_pass_is_repeated(ops: OperationalStore) -> None:
    (record,) = _records(1)
    with ops.begin() as connection:
        assert dead_letters.add(connection, consumer=CONSUMER, record=record, error="boom", now=NOW)
        assert not dead_letters.add(connection, consumer=CONSUMER, record=record, error="boom", now=NOW)
        assert len(dead_letters.list_letters(connection)) == 1
        assert dead_letters.request_retry(connection, 999) is None


def test_isolation_halves_down_to_the_bad_records() -> None:
    records = _records(16)
    done: list[int] = []
    poisoned: list[int] = []

    def attempt(chunk: Sequence[LogRecord]) -> None:
        if any(r.offset in (5, 12) for r in chunk):
            raise KeyError("time")
        done.extend(r.offset for r in chunk)

    found = isolate_poison(records, attempt, lambda r, e: poisoned.append(r.offset), KeyError("time"))
    assert (found, poisoned) == (2, [5, 12])
    assert done == [i for i in range(1, 17) if i not in (5, 12)]  # in order, each once


def test_transient_errors_are_told_apart() -> None:
    lost = sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
    assert [is_transient(e) for e in (lost, ConnectionResetError(), TimeoutError())] == [True] * 3
    bad_value = sa_exc.DataError("SELECT 1", {}, Exception("text fields cannot contain NUL"))
    assert [is_transient(e) for e in (bad_value, ValueError(), KeyError())] == [False] * 3
    with pytest.raises(sa_exc.OperationalError):
        isolate_poison(_records(4), lambda chunk: None, lambda r, e: None, lost)
