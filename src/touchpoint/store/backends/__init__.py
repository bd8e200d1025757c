"""Engine adapters: the only place analytical engine drivers are imported."""

from __future__ import annotations

import threading
import weakref
from typing import Any


class ViewJanitor:
    """The views a backend registered whose expressions nobody holds any more, to be dropped.

    Every read of a new table version registers a view (a long-running API or worker process sees one per
    compaction), so views must go once unused — but never while an expression built on one may still run:
    a computation holds its tables for minutes. A view is therefore released when the engine's table
    object (which every expression derived from it references) is garbage-collected, and dropped at the
    next registration, on the thread that owns the connection (a finalizer may run on any thread)."""

    def __init__(self) -> None:
        self._released: list[str] = []
        self._lock = threading.Lock()

    def watch(self, table: Any, view: str) -> None:
        """Release `view` once nothing references `table` (an Ibis table expression) or anything built on
        it."""
        finalizer = weakref.finalize(table.op(), self._release, view)
        finalizer.atexit = False

    def _release(self, view: str) -> None:
        with self._lock:
            self._released.append(view)

    def released(self) -> list[str]:
        """The views released since the last call (each handed out once)."""
        with self._lock:
            views, self._released = self._released, []
        return views
