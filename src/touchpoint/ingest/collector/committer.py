"""Group commit: one writer thread stores the requests that arrive together in one durable write.

Each request is checked on its own (in the server's worker threads), then handed to the writer and answered
when the write holding it has committed. The writer takes every request waiting when it starts a write, so
under load one commit (one fsync on SQLite, one round of acknowledgements on NATS) carries many requests'
events, their quarantined messages and the counters, and when idle a request is written at once, alone.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from touchpoint.ingest.collector.service import CollectorEnv, CollectResult, Prepared, store

# Events in one write at most: a group of large requests is split so that one commit stays short.
MAX_GROUP_EVENTS = 20_000


@dataclass(frozen=True)
class _Pending:
    prepared: Prepared
    answer: Future[CollectResult] = field(default_factory=Future)


class GroupCommitter:
    """The collector's single writer: `submit` a checked request, wait on the future it returns."""

    def __init__(self, env: CollectorEnv, *, max_group_events: int = MAX_GROUP_EVENTS) -> None:
        self.env = env
        self.max_group_events = max_group_events
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="collector-writer", daemon=True)
        self._thread.start()

    def submit(self, prepared: Prepared) -> Future[CollectResult]:
        """Queue a checked request for the next write; the future holds its result once it is durable, or
        the error that kept it from being stored (then nothing of it was)."""
        pending = _Pending(prepared)
        with self._lock:
            if self._closed:
                raise RuntimeError("the collector's writer is closed")
            self._queue.put(pending)
        return pending.answer

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the writer."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, stop = self._gather(first)
            self._write(group)
            if stop:
                return

    def _gather(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """`first` and every request already waiting, up to the group's size; True when close was asked."""
        group = [first]
        events = len(first.prepared.entries)
        while events < self.max_group_events:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return group, True
            group.append(item)
            events += len(item.prepared.entries)
        return group, False

    def _write(self, group: list[_Pending]) -> None:
        try:
            results = store(env=self.env, prepared=[p.prepared for p in group])
        except Exception as exc:  # every request must be answered, whatever kept the write from committing
            if len(group) == 1:
                group[0].answer.set_exception(exc)
                return
            # One request's content may be what failed: write each alone, so that only it is refused.
            for pending in group:
                self._write([pending])
            return
        for pending, result in zip(group, results, strict=True):
            pending.answer.set_result(result)
