"""Worker passes for journey tests, bounded: a test that drains the runtime's work gives up after a bounded
number of passes with a clear failure. A wake-time bug (a run that is due again at the same instant it was
advanced, so every tick claims it anew) then fails in a second instead of hanging until pytest's timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from touchpoint.identity.service import process_log
from touchpoint.journeys.runtime import route_events

MAX_PASSES = 50  # a demo world of 200 customers drains in a handful of passes (ticks take 1,000 runs each)


def drain(work: Callable[[], int], what: str, limit: int = MAX_PASSES) -> int:
    """Call `work` (a tick or a dispatch) until a pass does nothing; returns how much was done in all.
    Fails when the work is not done after `limit` passes at one virtual instant."""
    total = 0
    for _ in range(limit):
        done = work()
        if not done:
            return total
        total += done
    pytest.fail(
        f"{what} still had work after {limit} passes at one instant ({total} items): a run or an effect is "
        "due again as soon as it is handled — look at wake_at / next_attempt_at"
    )


def route(env: Any) -> int:
    """Route the event log to journeys as the worker's consumers job does: One ID links the events first
    (routing waits for it), then the journeys consumer reads them; returns the records routed."""
    process_log(env=env, log=env.log)
    return route_events(env=env)
