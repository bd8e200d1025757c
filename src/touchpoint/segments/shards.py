"""A snapshot's indicator columns held by uid range, within a byte budget, and tested range by range.

At 100M customers one indicator as floats is 800 MB: a preview cannot keep a rule's columns whole, nor read a
whole column again for each edit. The customer base is cut into shards of SHARD_ROWS consecutive positions
(uids ascending); an indicator is read, kept and tested one shard at a time — each shard's piece read from
the row groups holding its uid range, pieces dropped least recently used first past the budget — and a
condition's members are the union of each shard's. Shards are tested in parallel threads: Parquet decoding
and NumPy comparisons release the GIL.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from touchpoint.store import ROW_GROUP_ROWS

SHARD_ROWS = 4 * ROW_GROUP_ROWS
"""Base positions per shard (1,024,000: 8 MB of floats per indicator piece): four of the store's row groups,
so that a shard of a snapshot written in uid order decodes no row it does not keep."""
THREADS = min(4, os.cpu_count() or 1)
"""Shards tested at once."""

T = TypeVar("T")
R = TypeVar("R")

_PREFIX = "segment-shards"
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def spans(size: int, rows: int | None = None) -> list[tuple[int, int]]:
    """The [start, stop) base positions of each shard of a base of `size` customers."""
    step = rows or SHARD_ROWS
    return [(start, min(start + step, size)) for start in range(0, size, step)]


def in_parallel(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`function` of each item, in order, on the shared threads (inline when there is one item or one core).

    A task that calls it again runs that call inline: a task waiting for others of the pool could hold
    every thread of it.
    """
    chosen = list(items)
    nested = threading.current_thread().name.startswith(_PREFIX)  # waiting on the pool from the pool hangs
    if len(chosen) <= 1 or THREADS == 1 or nested:
        return [function(item) for item in chosen]
    return list(_threads().map(function, chosen))


def _threads() -> ThreadPoolExecutor:
    global _pool  # one pool per process, made when first needed
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix=_PREFIX)
        return _pool


class PieceCache:
    """Arrays by key, the least recently used dropped once together they exceed `budget` bytes.

    Shared by the API's threads. An array larger than the whole budget is handed back but not kept.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._pieces: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """The bytes of the arrays kept."""
        return self._bytes

    def keys(self) -> list[Hashable]:
        """The keys kept, least recently used first."""
        with self._lock:
            return list(self._pieces)

    def get(self, key: Hashable) -> np.ndarray | None:
        """The array kept under `key` (now the most recently used), or None."""
        with self._lock:
            found = self._pieces.get(key)
            if found is not None:
                self._pieces.move_to_end(key)
            return found

    def put(self, key: Hashable, piece: np.ndarray) -> np.ndarray:
        """Keep `piece` under `key` (replacing what was there), dropping the oldest past the budget."""
        with self._lock:
            old = self._pieces.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            if piece.nbytes <= self.budget:
                self._pieces[key] = piece
                self._bytes += piece.nbytes
            while self._bytes > self.budget:
                _, dropped = self._pieces.popitem(last=False)
                self._bytes -= dropped.nbytes
        return piece
