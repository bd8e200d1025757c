"""The routed stream (ADR 0005): events One ID has linked, republished on a subject by customer hash, so that
each journey routing partition reads only its own customers' events.

A customer's subject is `touchpoint.routed.<stream>.b0.b1.b2.b3.b4.b5`, the bits of `crc32(customer) mod 64`
least significant first. Partition i of N (a power of two) is then one subject filter, `….<the k low bits of
i>.>` with N = 2^k — one filter per consumer is what NATS 2.9 has (2.10's filter lists are not needed).

Offsets are the routed stream's sequence numbers, shared by every partition; a partition's records are
sparse in them. Each republished message carries `Nats-Msg-Id = <source offset>`, so a batch published twice
(a republisher killed before committing its offset, two workers at the same place) is stored once within the
duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import nats.errors
import orjson
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from touchpoint.core.events import ROUTED_SUBJECTS, LogRecord, RoutedEvent, routed_subject_of
from touchpoint.store.backends.nats_log import MAX_PENDING_ACKS, NatsEventLog

log = logging.getLogger(__name__)
PREFIX = "touchpoint.routed"
BITS = ROUTED_SUBJECTS.bit_length() - 1  # 6 tokens: one per bit of the subject number
# How long the server remembers a republished message's id: longer than a republisher can take between
# publishing a batch and committing its offset (a batch is 2,000 events; a stalled one is retried sooner).
DEDUPE_WINDOW = timedelta(minutes=10)
TAIL_LIMIT = 10_000  # records read back at most to learn what an unacknowledged batch published
HEADROOM = 512  # bytes of a message's headers (Nats-Msg-Id) and protocol beside its body
FETCH_TIMEOUT = 1.0  # seconds one fetch waits for messages the consumer counted as pending


def partition_filter(prefix: str, index: int, count: int) -> str:
    """The subject filter of routing partition `index` of `count` (a power of two up to 64)."""
    if count < 1 or count > ROUTED_SUBJECTS or count & (count - 1) or not 0 <= index < count:
        raise ValueError(f"partition {index} of {count}: the routed stream needs a power of two up to 64")
    bits = count.bit_length() - 1
    tokens = [str((index >> b) & 1) for b in range(bits)]
    return ".".join([prefix, *tokens] + ([">"] if bits < BITS else []))


def subject_tokens(customer_no: str) -> list[str]:
    """The six bit tokens of a customer's routed subject, least significant first."""
    number = routed_subject_of(customer_no)
    return [str((number >> b) & 1) for b in range(BITS)]


class NatsRoutedLog:
    """The routed stream beside an events stream, on the events log's connection and loop. The stream is
    made by the first publish: a deployment that never routes through it has none, and reads find it
    empty."""

    def __init__(self, events: NatsEventLog) -> None:
        self._events = events
        self.stream = f"{events.stream}_ROUTED"
        self.prefix = f"{PREFIX}.{events.stream.lower()}"
        self._made = False

    async def _ensure(self) -> None:
        if self._made:
            return
        js = self._events.jetstream
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=DEDUPE_WINDOW.total_seconds(),
        )
        try:
            await js.stream_info(self.stream)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)
        self._made = True

    def publish(self, events: Sequence[RoutedEvent]) -> list[tuple[RoutedEvent, str]]:
        """Publish the events in order, each on its customer's subject, and wait for the server to store
        them (one already stored under its source offset within the window is dropped by the server).
        Returns the events refused, each with why: one larger than the server takes as a message (checked
        before anything is sent). A failure of the server or the connection is a ConnectionError."""
        if not events:
            return []
        try:
            return self._events.run(self._publish(events), timeout=120.0)
        except nats.errors.Error as exc:
            if isinstance(exc, nats.errors.NoRespondersError | NotFoundError):
                self._made = False  # the stream is gone: the next publish makes it again
            raise ConnectionError(f"publishing to the routed stream {self.stream} failed: {exc!r}") from exc

    async def _publish(self, events: Sequence[RoutedEvent]) -> list[tuple[RoutedEvent, str]]:
        await self._ensure()
        js = self._events.jetstream
        largest = int(self._events.connection.max_payload) - HEADROOM
        messages, refused = [], []
        for event in events:
            stamp = event.received_at.astimezone(UTC).isoformat()
            data = orjson.dumps({"event_id": event.event_id, "received_at": stamp, "payload": event.body()})
            if len(data) > largest:
                refused.append(
                    (event, f"{len(data):,} bytes: larger than the server's {largest:,}-byte messages")
                )
            else:
                messages.append((".".join([self.prefix, *subject_tokens(event.customer_no)]), data, event))
        pending = asyncio.Semaphore(MAX_PENDING_ACKS)

        async def one(subject: str, data: bytes, event: RoutedEvent) -> Any:
            # Publishes on one connection reach the server in the order they are made, so each subject
            # holds its customers' events in log order.
            async with pending:
                return await js.publish(subject, data, headers={"Nats-Msg-Id": str(event.source)})

        await asyncio.gather(*(one(*message) for message in messages))
        return refused

    def next_offset(self, after: int, *, index: int, count: int) -> int | None:
        """The offset of partition `index`'s first record after `after`, or None when it has none."""
        return self._events.run(self._next_offset(after, partition_filter(self.prefix, index, count)))

    async def _next_offset(self, after: int, subject: str) -> int | None:
        try:
            message = await self._events.jetstream.get_msg(
                self.stream, seq=after + 1, subject=subject, next=True
            )
        except NotFoundError:
            return None
        return int(message.seq)

    def read(self, after: int, limit: int, *, index: int, count: int) -> list[LogRecord]:
        """Up to `limit` records of partition `index` of `count` after offset `after`, in order."""
        return self._events.run(self._read(after, limit, partition_filter(self.prefix, index, count)))

    async def _read(self, after: int, limit: int, subject: str) -> list[LogRecord]:
        head = await self._head()
        if await self._next_offset(after, subject) is None:
            return []
        js = self._events.jetstream
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after + 1,
            ack_policy=AckPolicy.NONE,
            filter_subject=subject,
            inactive_threshold=60.0,
        )
        subscription = await js.pull_subscribe(subject, stream=self.stream, config=config)
        name = (await subscription.consumer_info()).name
        records: list[LogRecord] = []
        misses = 0
        try:
            while len(records) < limit:
                try:
                    messages = await subscription.fetch(
                        min(limit - len(records), 1000), timeout=FETCH_TIMEOUT
                    )
                except NatsTimeout:
                    messages = []
                records.extend(_routed_record(int(m.metadata.sequence.stream), m.data) for m in messages)
                # Done when the partition has no record left up to the head seen at the start (a consumer's
                # own count of what is pending is not exact for a filtered start on NATS 2.9).
                following = await self._next_offset(records[-1].offset if records else after, subject)
                if following is None or following > head:
                    break
                misses = 0 if messages else misses + 1
                if misses > 10:
                    raise TimeoutError(f"the routed stream {self.stream} did not deliver its messages")
        finally:
            try:
                await subscription.unsubscribe()
                await js.delete_consumer(self.stream, name)
            except Exception:  # gone with the connection: the server drops it when idle
                log.debug("closing a reader of %s failed", self.stream, exc_info=True)
        return records[:limit]

    def head(self) -> int:
        """The sequence number of the newest routed record (0 when none was ever stored)."""
        return self._events.run(self._head())

    async def _head(self) -> int:
        try:
            info = await self._events.jetstream.stream_info(self.stream)
        except NotFoundError:
            return 0
        return int(info.state.last_seq)

    def last_source(self) -> int | None:
        """The event-log offset of the newest routed record (0 when the stream holds none; None when there
        is no stream)."""
        return self._events.run(self._last_source())

    async def _last_source(self) -> int | None:
        js = self._events.jetstream
        try:
            state = (await js.stream_info(self.stream)).state
        except NotFoundError:
            return None
        if not state.messages:
            return 0
        message = await js.get_msg(self.stream, seq=int(state.last_seq))
        source = _routed_record(int(state.last_seq), message.data).payload.get("source")
        return source if isinstance(source, int) else 0

    def sources_after(self, source: int, *, limit: int = TAIL_LIMIT) -> set[int] | None:
        """The source offsets above `source` held at the stream's end (what a republisher stopped before
        committing had published), read back from the newest record; None when more than `limit` records
        would have to be read."""
        return self._events.run(self._sources_after(source, limit), timeout=120.0)

    async def _sources_after(self, source: int, limit: int) -> set[int] | None:
        js = self._events.jetstream
        try:
            state = (await js.stream_info(self.stream)).state
        except NotFoundError:
            return set()
        found: set[int] = set()
        seq = int(state.last_seq)
        while seq >= max(int(state.first_seq), 1):
            if len(found) >= limit:
                return None
            try:
                message = await js.get_msg(self.stream, seq=seq)
            except NotFoundError:  # a hole left by a purge
                seq -= 1
                continue
            held = _routed_record(seq, message.data).payload.get("source")
            if isinstance(held, int) and held <= source:
                break
            if isinstance(held, int):
                found.add(held)
            seq -= 1
        return found

    def trim(self, *, up_to: int) -> int:
        """Purge the records at or below `up_to` (every routing partition has passed them), but never the
        newest: it tells the republisher what it published last (`last_source`). Offsets stay valid."""
        return self._events.run(self._purge(up_to)) if up_to > 0 else 0

    async def _purge(self, up_to: int) -> int:
        js = self._events.jetstream
        try:
            state = (await js.stream_info(self.stream)).state
        except NotFoundError:
            return 0
        before, up_to = state.messages, min(up_to, int(state.last_seq) - 1)
        if up_to < int(state.first_seq):
            return 0
        await js.purge_stream(self.stream, seq=up_to + 1)
        after = (await js.stream_info(self.stream)).state.messages
        return int(before - after)

    def delete_stream(self) -> None:
        """Remove the routed stream, if it was made (tests, decommissioning)."""
        self._events.run(self._delete())

    async def _delete(self) -> None:
        with contextlib.suppress(NotFoundError):
            await self._events.jetstream.delete_stream(self.stream)
        self._made = False


def _routed_record(offset: int, data: bytes) -> LogRecord:
    """A routed message as a record; one that is not what the republisher writes becomes a record routing
    refuses (a dead letter of its partition) instead of an error that would stop the partition's reads."""
    try:
        body = orjson.loads(data)
        return LogRecord(
            offset=offset,
            event_id=str(body["event_id"]),
            received_at=datetime.fromisoformat(body["received_at"]),
            payload=dict(body["payload"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        text = data[:2_000].decode("utf-8", errors="replace")
        return LogRecord(
            offset, "", datetime(1970, 1, 1, tzinfo=UTC), {"malformed": text, "error": repr(exc)}
        )
