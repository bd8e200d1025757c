"""Simulation (旅程模拟) and single-customer test walks: the recorded events and data of a period replayed
through a journey on a virtual clock, with the same engine and runtime code as live runs.

Everything the run writes (runs, steps, outbox, kept events, the log channel's messages) goes to a throw-away
operational store that starts as a copy of the definitions, lists and identity links; the analytical store
(tag snapshots, events, customers) is read as it is. Events are replayed one by one at their own instants;
between them the clock jumps to each due wake-up, so waits, time-outs and goals resolve as they would have.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.progress import Progress

from touchpoint.analytics.events import events_between
from touchpoint.core.clock import VirtualClock
from touchpoint.core.events import AppendResult, LogEntry, LogRecord
from touchpoint.identity.service import IdentityEnv
from touchpoint.indicators.service import IndicatorEnv
from touchpoint.journeys import repo
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.model import EventEntry, JourneyDef, SegmentEntry, WaitForEventNode
from touchpoint.journeys.runtime import Catalog, admit_in, admit_segments, route_batch, tick
from touchpoint.journeys.service import JourneyEnv, statistics, validate
from touchpoint.segments.service import current_members
from touchpoint.store.operational.bulk import copy_table
from touchpoint.store.operational.db import OperationalStore
from touchpoint.store.operational.schema import (
    channel_consents,
    channel_dnd,
    channel_templates,
    definitions,
    identity_links,
    segment_list_members,
    segment_lists,
    tag_imports,
)
from touchpoint.tags.service import TagEnv

COPIED = (
    definitions,
    segment_lists,
    segment_list_members,
    identity_links,
    tag_imports,
    channel_templates,
    channel_consents,
    channel_dnd,
)


class _NoLog:
    """A simulation feeds events itself; nothing reads or writes the live event log."""

    def append(self, entries: Sequence[LogEntry], *, received_at: datetime) -> AppendResult:
        return AppendResult(offsets=[], duplicates=0)

    def read_after(self, offset: int, limit: int) -> list[LogRecord]:
        return []

    def head(self) -> int:
        return 0

    def forget_dedupe_keys(self, *, older_than: datetime) -> int:
        return 0

    def trim(self, *, up_to: int, older_than: datetime) -> int:
        return 0


def sandbox(env: JourneyEnv, clock: VirtualClock, workdir: Path) -> JourneyEnv:
    """A journey environment on a fresh operational store holding copies of what journeys read."""
    ops = OperationalStore(f"sqlite:///{workdir / 'simulation.db'}")
    ops.upgrade()
    with env.ops.begin() as source, ops.begin() as target:
        for table in COPIED:
            copy_table(source, target, table)
    live = env.tags.indicators
    identity = IdentityEnv(ops=ops, clock=clock, policy=live.identity.policy)
    indicators: IndicatorEnv = replace(live, ops=ops, clock=clock, identity=identity)
    tags = TagEnv(indicators=indicators)
    channels = env.channels.recording(tags, _NoLog()) if env.channels is not None else None
    return JourneyEnv(tags=tags, log=_NoLog(), channels=channels)


def simulate(
    *,
    env: JourneyEnv,
    journey: JourneyDef,
    start: date,
    end: date,
    customers: list[str] | None = None,
    payload: dict[str, Any] | None = None,
    sample: int = 5,
    progress: bool = False,
) -> dict[str, Any]:
    """Replay [start, end] (Beijing days) through the journey; per-node statistics and a sample of paths.
    With `customers`, only their events and runs (a test walk); API- and segment-entry journeys admit them at
    the start (segment entry only if they are members then)."""
    validate(env=env, journey=journey)
    calendar = env.calendar
    clock = VirtualClock(calendar.to_utc(start))
    finish = calendar.to_utc(end + timedelta(days=1))
    with tempfile.TemporaryDirectory(prefix="touchpoint-sim-") as workdir:
        sim = sandbox(env, clock, Path(workdir))
        catalog: Catalog = (
            {
                journey.name: {
                    "status": "live",
                    "version": 1,
                    "published_at": clock.now(),
                    "admitted_at": None,
                }
            },
            {(journey.name, 1): journey},
        )
        events = _recorded_events(env, journey, start, end, customers)
        _admit_at_start(sim, journey, catalog, customers, payload or {})
        with Progress(transient=True, disable=not progress) as bar:
            task = bar.add_task("replaying events", total=len(events))
            for event, customer in events:
                _run_until(
                    sim, clock, catalog, datetime.fromtimestamp(event["time"] / 1000, tz=clock.now().tzinfo)
                )
                with sim.ops.begin() as connection:
                    route_batch(connection, sim, catalog, [(event, customer)])
                _drain(sim, catalog)
                bar.advance(task)
            _run_until(sim, clock, catalog, finish)
        return _report(sim, journey, clock, events, sample)


def _recorded_events(
    env: JourneyEnv, journey: JourneyDef, start: date, end: date, customers: list[str] | None
) -> list[tuple[dict[str, Any], str]]:
    """The period's events the journey listens to, oldest first, as (normalised event, customer number)."""
    names = set()
    if isinstance(journey.entry, EventEntry):
        names.add(journey.entry.event)
    names |= {n.event for n in journey.nodes if isinstance(n, WaitForEventNode)}
    names |= {c.event for c in journey.exit_criteria if c.event}
    if journey.goal is not None:
        names.add(journey.goal.event)
    if not names or not env.tags.indicators.analytics.partitions("events"):
        return []
    table = events_between(env.tags, sorted(names), start, end)
    table = table.filter(table.customer_no.notnull())
    if customers is not None:
        table = table.filter(table.customer_no.isin(customers))
    rows = table.select("event_id", "event", "time", "properties", "customer_no").order_by(
        ["time", "event_id"]
    )
    replay = []
    for row in rows.to_pyarrow().to_pylist():
        props = row["properties"]
        event = {
            "event_id": row["event_id"],
            "event": row["event"],
            "time": int(row["time"].timestamp() * 1000),
            "properties": _json(props),
        }
        replay.append((event, str(row["customer_no"])))
    return replay


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    loaded = orjson.loads(value) if value else {}
    return loaded if isinstance(loaded, dict) else {}


def _admit_at_start(
    sim: JourneyEnv,
    journey: JourneyDef,
    catalog: Catalog,
    customers: list[str] | None,
    payload: dict[str, Any],
) -> None:
    if isinstance(journey.entry, SegmentEntry):
        if customers is None:
            admit_segments(env=sim, catalog=catalog)
            return
        context, members = current_members(env=sim.tags, name=journey.entry.segment)
        numbers = set(context.customer_numbers(members))
        customers = [c for c in customers if c in numbers]
    elif isinstance(journey.entry, EventEntry) or customers is None:
        return
    with sim.ops.begin() as connection:
        admit_in(connection, sim, journey, 1, customers, dict.fromkeys(customers, payload))
    _drain(sim, catalog)


def _drain(sim: JourneyEnv, catalog: Catalog) -> None:
    while tick(env=sim, catalog=catalog):
        pass
    while dispatch(env=sim, catalog=catalog):
        pass


def _run_until(sim: JourneyEnv, clock: VirtualClock, catalog: Catalog, until: datetime) -> None:
    """Move the clock to `until`, stopping at every wake-up on the way."""
    while True:
        with sim.ops.begin() as connection:
            wake = repo.next_wake(connection)
        if wake is None or wake > until:
            break
        if wake > clock.now():
            clock.set(wake)
        _drain(sim, catalog)
    if until > clock.now():
        clock.set(until)
    _drain(sim, catalog)


def _report(
    sim: JourneyEnv, journey: JourneyDef, clock: VirtualClock, events: list[Any], sample: int
) -> dict[str, Any]:
    stats = statistics(env=sim, name=journey.name, journey=journey)
    tz = sim.calendar.tz
    with sim.ops.begin() as connection:
        paths = []
        for run in repo.sample_runs(connection, journey.name, sample):
            steps = repo.steps_of(connection, run.id)
            messages = repo.messages_of(connection, run.id)
            paths.append(
                {
                    "customer_no": run.customer_no,
                    "status": run.status,
                    "holdout": run.holdout,
                    "steps": [
                        {
                            "at": s.at.astimezone(tz).isoformat(timespec="minutes"),
                            "node": s.node,
                            "outcome": s.outcome,
                            "detail": s.detail,
                        }
                        for s in steps
                    ],
                    "messages": messages,
                }
            )
    return stats | {
        "events_replayed": len(events),
        "ended_at": clock.now().astimezone(tz).isoformat(),
        "paths": paths,
    }
