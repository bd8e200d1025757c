"""Poison-proof consumption of the event log: one record a consumer cannot process becomes a dead letter and
the consumer moves past it, instead of failing the same batch on every pass forever.

The good path stays a batch: the records are applied in one transaction with the offset. Only when that
fails with an error that is not transient is the batch split in halves, each half applied in its own
transaction in order, and so on down to single records; a single record that still fails is dead-lettered
with the consumer's offset moved past it in one transaction. A transient failure (the database or the log
unavailable, a lock timeout) is raised as it is: nothing is dead-lettered, the pass is retried later.

Halving keeps a batch with one bad record to about twice the work of the batch; every consumer (One ID,
journeys, and later ones) calls `consume_isolated`, the compactor (whose effects are files) calls
`isolate_poison` itself.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc

from touchpoint.core.events import LogRecord
from touchpoint.store.operational import dead_letters
from touchpoint.store.operational.db import OperationalStore
from touchpoint.store.operational.offsets import get_offset, set_offset

log = logging.getLogger("touchpoint.consumers")

Apply = Callable[[Connection, Sequence[LogRecord]], None]
"""Applies records in the caller's transaction (the offset is moved by the caller)."""

# Errors that say nothing about the record: the database, the network or the disk is unavailable or busy.
_TRANSIENT: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,  # connection lost, database locked, lock timeout, deadlock, serialization
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no connection free in the pool
    OSError,  # includes ConnectionError and TimeoutError (a log on NATS, a full disk)
)


@dataclass(frozen=True)
class Consumed:
    """What one call consumed: records moved past (applied or dead-lettered), of which dead-lettered, and
    earlier dead letters retried."""

    records: int
    dead: int = 0
    retried: int = 0


def is_transient(exc: BaseException) -> bool:
    """Whether a failure may go away by itself (so the record must not be dead-lettered for it)."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _TRANSIENT)


def isolate_poison(
    records: Sequence[LogRecord],
    attempt: Callable[[Sequence[LogRecord]], None],
    on_poison: Callable[[LogRecord, Exception], None],
    failure: Exception,
) -> int:
    """Find the records of a batch that failed with `failure`: apply halves in order with `attempt`, halving
    the ones that fail again down to single records, handed to `on_poison`; returns how many.

    Transient errors are raised, not attributed to a record. `attempt` must take effect wholly or not at
    all (its own transaction) so that a half that fails leaves nothing behind.
    """
    if is_transient(failure):
        raise failure
    if len(records) == 1:
        on_poison(records[0], failure)
        return 1
    poisoned = 0
    pending = deque(_halves(records))
    while pending:
        chunk = pending.popleft()
        try:
            attempt(chunk)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(chunk) == 1:
                on_poison(chunk[0], exc)
                poisoned += 1
            else:
                pending.extendleft(reversed(_halves(chunk)))
    return poisoned


def _halves(records: Sequence[LogRecord]) -> list[Sequence[LogRecord]]:
    middle = len(records) // 2
    return [records[:middle], records[middle:]]


def consume_isolated(
    *,
    ops: OperationalStore,
    consumer: str,
    position: Callable[[Connection], int | None],
    read: Callable[[int], Sequence[LogRecord]],
    apply: Apply,
    now: Callable[[], datetime],
    caught_up: Callable[[], bool] | None = None,
    behind: str | None = None,
) -> Consumed:
    """Apply the records after the consumer's position and move its offset, in one transaction; records
    that cannot be processed become dead letters and the offset moves past them. Dead letters an operator
    asked to retry are processed first.

    `position(connection)` reads (or locks) the consumer's offset inside the transaction, or answers None
    when another worker holds it (the call then does nothing); `read(after)`
    returns the next records of the log; `apply(connection, records)` applies them in that transaction.
    `caught_up()`, when given, is asked first: True ends the call without a write transaction (an idle
    worker polls every few milliseconds). `behind` names a consumer whose effects these records need
    (One ID's links, for a consumer that looks up who an event is): records past its committed offset wait
    for it, whichever process runs it.
    """
    retried = retry_dead_letters(ops=ops, consumer=consumer, apply=apply, now=now)
    if caught_up is not None and caught_up():
        return Consumed(records=0, retried=retried)
    batch: list[LogRecord] = []
    try:
        with ops.begin() as connection:
            after = position(connection)
            if after is None:
                return Consumed(records=0, retried=retried)
            batch = list(read(after))
            if behind is not None:
                # Read after this consumer's lock: the other's offset commits with its effects, so every
                # record up to it finds them.
                bound = get_offset(connection, behind)
                batch = [r for r in batch if r.offset <= bound]
            if batch:
                apply(connection, batch)
                set_offset(connection, consumer, batch[-1].offset, now())
        return Consumed(records=len(batch), retried=retried)
    except Exception as exc:
        if not batch or is_transient(exc):
            raise
        failure = exc
    log.warning(
        "%s: a batch of %d records failed (%s); isolating the bad ones", consumer, len(batch), failure
    )

    def attempt(chunk: Sequence[LogRecord]) -> None:
        with ops.begin() as connection:
            after = position(connection)
            if after is None:
                return  # another worker holds the consumer now: the records are its to apply
            todo = [r for r in chunk if r.offset > after]  # another worker may have taken some meanwhile
            if todo:
                apply(connection, todo)
                set_offset(connection, consumer, todo[-1].offset, now())

    def bury(record: LogRecord, error: Exception) -> None:
        with ops.begin() as connection:
            after = position(connection)
            if after is None or after >= record.offset:
                return
            dead_letters.add(
                connection,
                consumer=consumer,
                record=record,
                error=dead_letters.describe_error(error),
                now=now(),
            )
            set_offset(connection, consumer, record.offset, now())
        log.error("%s: offset %d is a dead letter: %s", consumer, record.offset, error)

    dead = isolate_poison(batch, attempt, bury, failure)
    return Consumed(records=len(batch), dead=dead, retried=retried)


def caught_up(
    ops: OperationalStore, consumer: str, head: Callable[[], int], behind: str | None = None
) -> bool:
    """Whether the consumer's committed offset has reached the log's head, or the offset of the consumer it
    waits for (`behind`) — read without a lock: offsets only move forward, so a stale answer only delays
    the next poll's work, never skips it."""
    with ops.engine.connect() as connection:
        offset = get_offset(connection, consumer)
        if behind is not None and offset >= get_offset(connection, behind):
            return True
    return offset >= head()


def retry_dead_letters(
    *, ops: OperationalStore, consumer: str, apply: Apply, now: Callable[[], datetime]
) -> int:
    """Process again, one by one, the consumer's dead letters an operator asked to retry: resolved when
    applied, open again with the new error when not; returns how many this call tried. Each letter is
    claimed in the transaction that applies it, so workers sharing a consumer never apply one letter twice."""
    with ops.begin() as connection:
        letters = dead_letters.retries_requested(connection, consumer)
    tried = 0
    for letter in letters:
        try:
            with ops.begin() as connection:
                if not dead_letters.mark_retried(connection, letter.id, error=None, now=now()):
                    continue  # another worker took it
                apply(connection, [letter.log_record()])
        except Exception as exc:
            if is_transient(exc):
                raise
            with ops.begin() as connection:
                error = dead_letters.describe_error(exc)
                dead_letters.mark_retried(connection, letter.id, error=error, now=now())
        tried += 1
    return tried
