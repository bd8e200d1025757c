"""Replaying the demo's recent history through the live journeys and MOT rules, so that firings, runs, sends,
advisor tasks with outcomes, KPIs and reports exist from the first start.

The replay runs on the real operational store with a virtual clock that walks the last days in steps: at each
step the recorded events the journeys and event rules listen to are routed, the condition and calendar rules
whose times were crossed are evaluated on that day's data, the system's own events (`mot_*`,
`advisor_task_completed`) are routed to the journeys, due runs advance and effects are carried out by
recording providers (nothing is sent anywhere), and the demo's advisors work their tasks (most are closed
with an outcome; some are left to become overdue and escalate). The system's events of the past are routed
here and marked forwarded: the live worker never routes them a second time.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update

from touchpoint.core.clock import VirtualClock
from touchpoint.core.progress import StageProgress
from touchpoint.demo.model import REPLAY_DAYS
from touchpoint.governance import Principal
from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.runtime import Catalog, live_versions, route_batch
from touchpoint.journeys.simulate import NoLog, drain_runtime, listened_events, recorded_events
from touchpoint.moments.service import (
    evaluate_due,
    event_rules,
    list_rules,
    record_events,
    rule_events,
    seen_event,
)
from touchpoint.store.operational.schema_service import advisor_tasks, derived_events
from touchpoint.tags.layout import TAG_VALUES
from touchpoint.tags.service import compute
from touchpoint.tasks.model import TaskComplete
from touchpoint.tasks.service import complete_task, escalate_due

STEP = timedelta(minutes=30)
ADVISOR = Principal(
    user="demo.advisors", roles=frozenset({"advisor"}), permissions=frozenset(), source="demo"
)
OUTCOMES = (
    ("reached", 45),
    ("not_reached", 20),
    ("converted", 15),
    ("declined", 10),
    ("follow_up", 5),
    (None, 5),
)


class ReplayEnv(JourneyEnv, Protocol):
    """A journey environment that can be re-made on another clock with recording providers."""

    def recording(self, *, ops: Any, clock: Any, log: Any) -> Any:
        """The same settings on other stores and clock, every provider replaced by one that records."""
        ...


def replay_history(
    *,
    env: ReplayEnv,
    days: int = REPLAY_DAYS,
    claim_hours: float = 4.0,
    progress: StageProgress | None = None,
) -> dict[str, int]:
    """Replay the last `days` days up to now; returns how many events were routed and steps taken."""
    now = env.clock.now()
    today = env.calendar.business_date(now)
    first = max(
        today - timedelta(days=days), _first_day(env, "events", today), _first_day(env, "customers", today)
    )
    clock = VirtualClock(env.calendar.to_utc(first))
    replay = env.recording(ops=env.ops, clock=clock, log=NoLog())
    _tags_as_of(env, first)
    catalog = live_versions(replay)
    rules = event_rules(replay)
    events = _recorded(replay, catalog, rule_events(rules), first, today)
    slots = sorted({t for r in list_rules(env=replay).values() for t in r.times()})
    steps = int((now - clock.now()) / STEP) + 1
    routed = 0
    for n in range(steps):
        start, end = clock.now(), min(clock.now() + STEP, now)
        batch = [(e, c) for e, c in events[routed:] if e["time"] <= end.timestamp() * 1000]
        routed += len(batch)
        clock.set(end)
        _route(replay, catalog, rules, batch)
        if _crosses_slot(replay, slots, start, end):
            evaluate_due(env=replay)
        _route_derived(replay, catalog)
        drain_runtime(replay, catalog)
        _work_tasks(replay)
        escalate_due(env=replay, claim_hours=claim_hours)
        if progress is not None:
            progress("history", n + 1, steps)
        if end >= now:
            break
    _route_derived(replay, catalog)
    return {"events": routed, "steps": steps}


def _first_day(env: JourneyEnv, table: str, default: date) -> date:
    """The first day a table holds: no history is replayed before the events, or before a customer master
    that the day's tags could be computed from."""
    partitions = env.analytics.partitions(table)
    return partitions[0].dt if partitions else default


def _tags_as_of(env: JourneyEnv, first: date) -> None:
    """A tag snapshot on the replay's first day, so that a journey's split reads the tags as they were then
    (the demo computes only its newest day)."""
    day = env.calendar.on_or_before(first)
    if env.analytics.latest_partition_on_or_before(TAG_VALUES.name, day) is None:
        compute(env=env, principal=ADVISOR.model_copy(update={"user": "demo"}), day=day, force=True)


def _recorded(
    env: JourneyEnv, catalog: Catalog, extra: set[str], first: date, last: date
) -> list[tuple[dict[str, Any], str]]:
    """The recorded events of the days that the live journeys or the event rules listen to, oldest first (the
    system's own events are made by the replay itself)."""
    names = set(extra).union(*(listened_events(j) for j in catalog[1].values()))
    names = {n for n in names if not n.startswith("mot_") and n != "advisor_task_completed"}
    return recorded_events(env, names, first, last)


def _route(env: JourneyEnv, catalog: Catalog, rules: Any, batch: list[tuple[dict[str, Any], str]]) -> None:
    if not batch:
        return
    with env.ops.begin() as connection:
        route_batch(connection, env, catalog, batch)
        record_events(connection, env, rules, [seen_event(e, c) for e, c in batch])


def _crosses_slot(env: JourneyEnv, slots: list[str], start: datetime, end: datetime) -> bool:
    day = env.calendar.business_date(end)
    for clock in slots:
        hour, minute = (int(p) for p in clock.split(":"))
        if start < env.calendar.to_utc(day, time(hour, minute)) <= end:
            return True
    return False


def _route_derived(env: JourneyEnv, catalog: Catalog) -> None:
    """The system's own events of the replayed past, routed to the journeys and marked as forwarded."""
    with env.ops.begin() as connection:
        rows = connection.execute(
            select(derived_events.c.id, derived_events.c.payload).where(~derived_events.c.forwarded)
        ).all()
        if not rows:
            return
        batch = [(dict(payload), str(payload["distinct_id"])) for _, payload in rows]
        route_batch(connection, env, catalog, batch)
        ids = [row_id for row_id, _ in rows]
        connection.execute(update(derived_events).where(derived_events.c.id.in_(ids)).values(forwarded=True))


def _work_tasks(env: JourneyEnv) -> None:
    """The demo's advisors: a task is worked within a few hours of its creation (a stable draw per task
    says when and with which outcome; one in twenty is left open and becomes overdue)."""
    now = env.clock.now()
    with env.ops.begin() as connection:
        rows = connection.execute(
            select(advisor_tasks.c.id, advisor_tasks.c.created_at).where(advisor_tasks.c.status == "open")
        ).all()
    for task_id, created in rows:
        draw = int.from_bytes(hashlib.sha256(task_id.encode()).digest()[:8], "big")
        delay = timedelta(hours=1 + draw % 30)
        if created.replace(tzinfo=now.tzinfo) + delay > now:
            continue
        outcome = _outcome(draw // 31 % 100)
        if outcome is None:
            continue
        follow = env.calendar.business_date(now) + timedelta(days=7) if outcome == "follow_up" else None
        result = TaskComplete(outcome=outcome, note="演示 · demo", follow_up_on=follow)
        complete_task(env=env, principal=ADVISOR, task_id=task_id, result=result)


def _outcome(point: int) -> Any:
    for outcome, share in OUTCOMES:
        if point < share:
            return outcome
        point -= share
    return None
