"""The live worker on a virtual clock (`touchpoint worker --clock virtual`): a staging data directory is run
through days or weeks in minutes, to rehearse journeys before they meet customers.

The clock stands still while a pass of the jobs runs; then it jumps to the next instant something is
scheduled — a run wakes (a wait ends, a time-out), a send delayed by quiet hours or a rate limit or a retry
falls due, a recurring segment entry's cron time, a new Beijing day (segment refreshes, computations) — or by
at most `step` — and the jobs run again, until `until`. Everything is written to the data directory as the
real worker would write it, with virtual times: use a copy, never production.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.journeys.service import next_instant
from touchpoint.worker.jobs import JOB_NAMES
from touchpoint.worker.loop import PassResult, run_pass

MAX_INSTANTS = 1_000_000  # a guard against a schedule that never moves forward


@dataclass
class Rehearsal:
    """What a virtual-clock run did: the instants it stopped at and the sums of its passes."""

    started_at: datetime
    ended_at: datetime
    instants: int = 0
    identity_events: int = 0
    journey_steps: int = 0
    effects_done: int = 0
    segments_refreshed: int = 0
    computed: list[str] = field(default_factory=list)

    def add(self, result: PassResult) -> None:
        """Count one pass."""
        self.instants += 1
        self.identity_events += result.identity_events
        self.journey_steps += result.journey_steps
        self.effects_done += result.effects_done
        self.segments_refreshed += result.segments_refreshed
        if result.computed:
            self.computed.append(result.computed)


def rehearse(
    container: Container,
    clock: VirtualClock,
    until: datetime,
    *,
    step: timedelta | None = None,
    jobs: Sequence[str] = JOB_NAMES,
    on_pass: Callable[[datetime, PassResult], None] | None = None,
) -> Rehearsal:
    """Run the jobs at the clock's instant, jump to the next scheduled instant (or by `step` at most), and
    repeat until `until`; the container must run on `clock`. `on_pass(instant, result)` follows progress."""
    if container.clock is not clock:
        raise ValidationError("the container must run on the virtual clock it is rehearsed with")
    if until <= clock.now():
        raise ValidationError(f"--until {until.isoformat()} is not after --start {clock.now().isoformat()}")
    if step is not None and step <= timedelta(0):
        raise ValidationError("--step must be positive")
    done = Rehearsal(started_at=clock.now(), ended_at=clock.now())
    while done.instants < MAX_INSTANTS:
        result = run_pass(container, jobs)
        done.add(result)
        if on_pass is not None:
            on_pass(clock.now(), result)
        if clock.now() >= until:
            break
        clock.set(min(next_scheduled(container, clock.now(), step), until))
    done.ended_at = clock.now()
    return done


def next_scheduled(container: Container, now: datetime, step: timedelta | None = None) -> datetime:
    """The next instant after `now` the worker has something to do at: the journey runtime's next wake-up,
    due effect or recurring entry; the next Beijing midnight (a new business date: refreshes and
    computations); or `now + step`, whichever comes first."""
    calendar = container.calendar
    candidates = [calendar.to_utc(calendar.business_date(now) + timedelta(days=1))]
    journey = next_instant(env=container, after=now)
    if journey is not None:
        candidates.append(journey)
    if step is not None:
        candidates.append(now + step)
    return min(candidates)
