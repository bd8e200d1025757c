"""The scale-out event log: a NATS JetStream stream.

Offsets are stream sequence numbers; JetStream's duplicate window (Nats-Msg-Id) does the deduplication, so
collectors on many machines share one log. A publish returns once the server has stored the message; run
the server with `sync_interval: always` when an acknowledged event must survive a power cut, not only a crash.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import nats
import orjson
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from touchpoint.core.events import AppendResult, Bookkeeping, LogEntry, LogGroup, LogRecord
from touchpoint.store.operational.db import OperationalStore
from touchpoint.store.operational.event_log import stored_dedupe_key

T = TypeVar("T")
log = logging.getLogger(__name__)
SUBJECT_PREFIX = "touchpoint.events"
# Publishes awaiting the server's acknowledgement at once: enough to keep the connection busy, few enough
# that a large group does not flood the server's pending queue.
MAX_PENDING_ACKS = 512
# Pull consumers kept open for readers that continue where they stopped (one per polling consumer, a few per
# process), and how long the server keeps one that nobody reads before deleting it.
MAX_CURSORS = 16
FETCH_TIMEOUT = 0.5  # seconds one fetch waits for messages known to exist
CURSOR_IDLE_SECONDS = 300.0


class NatsEventLog:
    """EventLog on JetStream, with a private asyncio loop so callers stay synchronous."""

    def __init__(
        self,
        url: str,
        *,
        dedupe_window: timedelta,
        ops: OperationalStore | None = None,
        stream: str = "TOUCHPOINT_EVENTS",
    ) -> None:
        self.url = url
        self.ops = ops
        self.stream = stream
        self.subject = f"{SUBJECT_PREFIX}.{stream.lower()}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-event-log", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._cursors: OrderedDict[int, _Cursor] = (
            OrderedDict()
        )  # last offset given → its pull consumer (loop only)
        self._run(self._connect(dedupe_window))

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on this log's loop and connection (the routed stream shares them)."""
        return self._run(coroutine, timeout)

    @property
    def jetstream(self) -> Any:
        """The JetStream context of this log's connection."""
        return self._js

    @property
    def connection(self) -> Any:
        """This log's NATS connection (its `max_payload` is the server's)."""
        return self._nc

    async def _connect(self, dedupe_window: timedelta) -> None:
        # A cluster is given as its servers' URLs separated by commas, as NATS tools take them.
        servers = [u.strip() for u in self.url.split(",") if u.strip()]
        self._nc = await nats.connect(servers, connect_timeout=5, max_reconnect_attempts=3)
        self._js = self._nc.jetstream()
        config = StreamConfig(
            name=self.stream,
            subjects=[self.subject],
            storage=StorageType.FILE,
            duplicate_window=dedupe_window.total_seconds(),
        )
        try:
            await self._js.stream_info(self.stream)
            await self._js.update_stream(config)
        except NotFoundError:
            await self._js.add_stream(config)

    def append(self, entries: Sequence[LogEntry], *, received_at: datetime) -> AppendResult:
        """Publish every entry and wait for the server's acknowledgements."""
        return self.append_groups([LogGroup(entries, received_at)])[0]

    def append_groups(
        self, groups: Sequence[LogGroup], *, bookkeeping: Bookkeeping | None = None
    ) -> list[AppendResult]:
        """Publish every group's entries, at most `MAX_PENDING_ACKS` awaiting the server at a time, then
        write `bookkeeping` to the operational store (after the publish: no network call inside a
        transaction). A key repeated in a later group is that group's duplicate, as JetStream decides."""
        results = self._run(self._append_groups(groups))
        if bookkeeping is not None:
            if self.ops is None:
                raise RuntimeError("this NATS event log was opened without the operational store")
            with self.ops.begin() as connection:
                bookkeeping(connection, results)
        return results

    async def _append_groups(self, groups: Sequence[LogGroup]) -> list[AppendResult]:
        pending = asyncio.Semaphore(MAX_PENDING_ACKS)

        async def publish(entry: LogEntry, stamp: str) -> Any:
            async with pending:
                body = {"event_id": entry.event_id, "received_at": stamp, "payload": entry.payload}
                return await self._js.publish(
                    self.subject, orjson.dumps(body), headers={"Nats-Msg-Id": _message_id(entry)}
                )

        results = []
        # Group after group, so that a key repeated across groups is the later group's duplicate.
        for group in groups:
            stamp = group.received_at.astimezone(UTC).isoformat()
            acks = await asyncio.gather(*(publish(e, stamp) for e in group.entries))
            fresh = [int(a.seq) for a in acks if not a.duplicate]
            results.append(AppendResult(offsets=fresh, duplicates=len(group.entries) - len(fresh)))
        return results

    def read_after(self, offset: int, limit: int) -> list[LogRecord]:
        """Up to `limit` messages from sequence offset + 1, through the pull consumer that gave a reader the
        message at `offset` (kept for it), or a new one."""
        return self._run(self._read_after(offset, limit))

    async def _read_after(self, offset: int, limit: int) -> list[LogRecord]:
        state = (await self._js.stream_info(self.stream)).state
        head = int(state.last_seq)
        if offset >= head or state.messages == 0:
            return []
        # A consumer polling the log asks next for what follows the last record it was given: the pull
        # consumer that gave it is kept and continues there, instead of a consumer made and deleted per read
        # (three round trips more, and the server's work of starting one at a sequence).
        cursor = self._cursors.pop(offset, None)
        if cursor is not None:
            records, complete = await self._fetch(cursor, limit, head, patience=FETCH_TIMEOUT)
            if not records and not complete:  # a kept consumer that gives nothing may be gone with the server
                await self._close_cursor(cursor)
                cursor = None
        if cursor is None:
            cursor = await self._open_cursor(offset)
            records, complete = await self._fetch(cursor, limit, head, patience=10.0)
        if records and complete:
            twin = self._cursors.pop(records[-1].offset, None)  # two readers at one place: one cursor will do
            if twin is not None:
                await self._close_cursor(twin)
            self._cursors[records[-1].offset] = cursor
            while len(self._cursors) > MAX_CURSORS:
                await self._close_cursor(self._cursors.popitem(last=False)[1])
        else:  # nothing came, or the fetch gave up: the cursor may be gone with a restarted server
            await self._close_cursor(cursor)
        return records

    async def _open_cursor(self, offset: int) -> _Cursor:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=offset + 1,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=CURSOR_IDLE_SECONDS,
        )
        subscription = await self._js.pull_subscribe(self.subject, stream=self.stream, config=config)
        # The server names an ephemeral consumer (a name asked for is ignored before NATS 2.9): learn it, so
        # that closing the cursor deletes it.
        return _Cursor((await subscription.consumer_info()).name, subscription)

    async def _fetch(
        self, cursor: _Cursor, limit: int, head: int, *, patience: float
    ) -> tuple[list[LogRecord], bool]:
        """Up to `limit` records, and whether the fetch ended by reaching the limit or the head seen before
        it (not by giving up after `patience` seconds)."""
        records: list[LogRecord] = []
        # A fetch may time out on a loaded server before the messages that exist arrive: keep asking until
        # the head seen at the start is reached, so a slow moment never looks like an empty log.
        deadline = self._loop.time() + patience
        while len(records) < limit and (not records or records[-1].offset < head):
            try:
                messages = await cursor.subscription.fetch(
                    min(limit - len(records), 1000), timeout=FETCH_TIMEOUT
                )
            except NatsTimeout:
                if self._loop.time() > deadline:
                    return sorted(records, key=lambda r: r.offset), False
                continue
            records.extend(_record(m) for m in messages)
        return sorted(records, key=lambda r: r.offset)[:limit], True

    async def _close_cursor(self, cursor: _Cursor) -> None:
        """Stop reading through a pull consumer and delete it from the server (unsubscribing alone leaves it
        there until its idle time runs out: one per read, when every read made one)."""
        try:
            await cursor.subscription.unsubscribe()
            await self._js.delete_consumer(self.stream, cursor.name)
        except Exception:  # already gone with the server or the connection: nothing left to release
            log.debug("closing a cursor of %s failed", self.stream, exc_info=True)

    def head(self) -> int:
        """The sequence number of the newest message."""
        return self._run(self._head())

    async def _head(self) -> int:
        info = await self._js.stream_info(self.stream)
        return int(info.state.last_seq)

    def trim(self, *, up_to: int, older_than: datetime) -> int:
        """Purge messages up to `up_to` (JetStream keeps sequence numbers, so offsets stay valid)."""
        if up_to <= 0:
            return 0
        return self._run(self._purge(up_to, older_than))

    async def _purge(self, up_to: int, older_than: datetime) -> int:
        # Purge only up to the last message that is both processed and older than the retention.
        last = 0
        for record in await self._read_after(0, up_to):
            if record.offset > up_to or record.received_at >= older_than:
                break
            last = record.offset
        if last == 0:
            return 0
        before = await self._js.stream_info(self.stream)
        await self._js.purge_stream(self.stream, seq=last + 1)
        after = await self._js.stream_info(self.stream)
        return int(before.state.messages - after.state.messages)

    def forget_dedupe_keys(self, *, older_than: datetime) -> int:
        """JetStream forgets message ids by itself when its duplicate window passes."""
        return 0

    async def _close_cursors(self) -> None:
        while self._cursors:
            await self._close_cursor(self._cursors.popitem()[1])

    def delete_stream(self) -> None:
        """Remove the stream and everything in it (tests, decommissioning)."""
        self._run(self._js.delete_stream(self.stream))

    def close(self) -> None:
        """Drain the connection and stop the loop."""
        if self._cursors:
            self._run(self._close_cursors())
        if self._nc is not None:
            self._run(self._nc.drain())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@dataclass(frozen=True)
class _Cursor:
    """A pull consumer of the stream kept open for a reader, by the name it was created with."""

    name: str
    subscription: Any


def _message_id(entry: LogEntry) -> str:
    """JetStream's duplicate id: the SHA-256 of the dedupe key, as the SQL log stores it (a header of any
    length or byte would not do), else the event id. Messages published before this change carry the raw
    key: an event first sent before the upgrade and resent within the duplicate window is stored twice in
    the stream, once in the analytical store (rows are upserted by event id)."""
    return stored_dedupe_key(entry.dedupe_key) if entry.dedupe_key is not None else entry.event_id


def _record(message: Any) -> LogRecord:
    body = orjson.loads(message.data)
    return LogRecord(
        offset=int(message.metadata.sequence.stream),
        event_id=body["event_id"],
        received_at=datetime.fromisoformat(body["received_at"]),
        payload=body["payload"],
    )
