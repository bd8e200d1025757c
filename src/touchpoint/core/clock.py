"""The one source of "now". Everything asks a Clock; tests and simulations hand in a VirtualClock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that can say what time it is, as an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        ...


class SystemClock:
    """The wall clock of the machine."""

    def now(self) -> datetime:
        """Return the machine's current instant in UTC."""
        return datetime.now(UTC)


class VirtualClock:
    """A clock that moves only when told to, so months of journeys can run in seconds."""

    def __init__(self, start: datetime) -> None:
        self._now = _require_aware(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the virtual instant in UTC."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta` (never backwards) and return the new instant."""
        if delta < timedelta(0):
            raise ValueError("a virtual clock never moves backwards")
        with self._lock:
            self._now = self._now + delta
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to `instant`, which may not be earlier than the current virtual time."""
        instant = _require_aware(instant)
        with self._lock:
            if instant < self._now:
                raise ValueError("a virtual clock never moves backwards")
            self._now = instant


def _require_aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("clock instants must carry a time zone")
    return instant.astimezone(UTC)
