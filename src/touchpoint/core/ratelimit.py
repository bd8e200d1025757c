"""A token bucket: a steady rate with a burst, on whatever clock the caller runs on (a provider's sends, an
ingestion key's requests)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up. `take` answers how long to wait when none is left,
    so that the dispatcher delays the message instead of sleeping (a virtual clock never sleeps)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at: datetime | None = None
        self._lock = threading.Lock()

    def take(self, now: datetime) -> timedelta:
        """Take one token now (zero wait), or leave the bucket alone and say how long until one is there."""
        with self._lock:
            if self._at is not None and now > self._at:
                elapsed = (now - self._at).total_seconds()
                self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
            if self._at is None or now > self._at:
                self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return timedelta(0)
            return timedelta(seconds=(1.0 - self._tokens) / self.rate)

    def give_back(self) -> None:
        """Return a token taken for a send that did not happen (a policy skipped it afterwards)."""
        with self._lock:
            self._tokens = min(float(self.burst), self._tokens + 1.0)
