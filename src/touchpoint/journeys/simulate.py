"""Simulation (旅程模拟) and single-customer test walks: the recorded events and data of a period replayed
through a journey on a virtual clock, with the same engine and runtime code as live runs.

Everything the run writes (runs, steps, outbox, kept events, the log channel's messages) goes to a throw-away
operational store that starts as a copy of the definitions, lists and identity links; the analytical store
(tag snapshots, events, customers) is read as it is. Events are replayed one by one at their own instants;
between them the clock jumps to each due wake-up, so waits, time-outs and goals resolve as they would have.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from touchpoint.analytics.events import events_between
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.core.events import AppendResult, Bookkeeping, LogEntry, LogGroup, LogRecord
from touchpoint.governance.masking import mask_customer_no
from touchpoint.journeys import reads, repo
from touchpoint.journeys.checks import JourneyEnv, validate
from touchpoint.journeys.dispatch import dispatch
from touchpoint.journeys.facts import passes
from touchpoint.journeys.model import (
    ApiEntry,
    EventEntry,
    JourneyDef,
    SegmentEntry,
    SplitNode,
    WaitForEventNode,
)
from touchpoint.journeys.runtime import Catalog, admit_in, admit_segments, route_batch, tick
from touchpoint.journeys.service import next_instant, statistics
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
from touchpoint.tags.layout import TAG_VALUES

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


class NoLog:
    """A simulation feeds events itself; nothing reads or writes the live event log."""

    def append(self, entries: Sequence[LogEntry], *, received_at: datetime) -> AppendResult:
        return AppendResult(offsets=[], duplicates=0)

    def append_groups(
        self, groups: Sequence[LogGroup], *, bookkeeping: Bookkeeping | None = None
    ) -> list[AppendResult]:
        return [AppendResult(offsets=[], duplicates=0) for _ in groups]

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
    return env.recording(ops=ops, clock=clock, log=NoLog())


def simulate(
    *,
    env: JourneyEnv,
    journey: JourneyDef,
    start: date,
    end: date,
    customers: list[str] | None = None,
    payload: dict[str, Any] | None = None,
    sample: int = 5,
    on_event: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Replay [start, end] (Beijing days) through the journey; per-node statistics and a sample of paths.
    With `customers`, only their events and runs (a test walk), and for each customer why they did not enter
    or what held their messages back; API- and segment-entry journeys admit them at the start (segment entry
    only if they are members then). `on_event(done, total)` follows the replay (a progress bar).

    The sample paths of a simulation show customer numbers masked (they only illustrate the counts); a test
    walk's paths show the numbers the caller gave, whole (see governance.masking)."""
    validate(env=env, journey=journey)
    start, notes = _first_day_with_tags(env, journey, start, end)
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
        for done, (event, customer) in enumerate(events, start=1):
            _run_until(
                sim, clock, catalog, datetime.fromtimestamp(event["time"] / 1000, tz=clock.now().tzinfo)
            )
            with sim.ops.begin() as connection:
                route_batch(connection, sim, catalog, [(event, customer)])
            drain_runtime(sim, catalog)
            if on_event is not None:
                on_event(done, len(events))
        _run_until(sim, clock, catalog, finish)
        report = _report(sim, journey, clock, events, sample, masked=customers is None) | {
            "started_on": start.isoformat(),
            "notes": notes,
        }
        if customers is not None:
            report["customers"] = [
                _why(sim, journey, customer, events, payload or {}, (start, end)) for customer in customers
            ]
        return report


def _first_day_with_tags(
    env: JourneyEnv, journey: JourneyDef, start: date, end: date
) -> tuple[date, list[str]]:
    """The day the simulation starts on: `start`, or — for a journey that reads tags (a segment entry, a
    split, an exit segment) — the first day with a tag snapshot when `start` is earlier (tags are read as they
    were on each day, and there were none before). Refused when there is no snapshot by `end`."""
    reads_tags = (
        isinstance(journey.entry, SegmentEntry)
        or any(isinstance(node, SplitNode) for node in journey.nodes)
        or any(criterion.segment for criterion in journey.exit_criteria)
    )
    if not reads_tags:
        return start, []
    days = sorted(p.dt for p in env.analytics.partitions(TAG_VALUES.name))
    first = days[0] if days else None
    if first is None or first > end:
        raise ValidationError(
            f"journey {journey.name} reads tags and there is no tag snapshot by {end}; run touchpoint compute"
        )
    if first <= start:
        return start, []
    return first, [f"started on {first}, the first day with a tag snapshot (the journey reads tags)"]


def _recorded_events(
    env: JourneyEnv, journey: JourneyDef, start: date, end: date, customers: list[str] | None
) -> list[tuple[dict[str, Any], str]]:
    """The period's events the journey listens to, oldest first, as (normalised event, customer number)."""
    return recorded_events(env, listened_events(journey), start, end, customers)


def listened_events(journey: JourneyDef) -> set[str]:
    """The events a journey reads: its entry event, the events its nodes wait for, exits and goal."""
    names = set()
    if isinstance(journey.entry, EventEntry):
        names.add(journey.entry.event)
    names |= {n.event for n in journey.nodes if isinstance(n, WaitForEventNode)}
    names |= {c.event for c in journey.exit_criteria if c.event}
    if journey.goal is not None:
        names.add(journey.goal.event)
    return names


def recorded_events(
    env: JourneyEnv, names: set[str], start: date, end: date, customers: list[str] | None = None
) -> list[tuple[dict[str, Any], str]]:
    """The recorded events of these names on Beijing days start…end of known customers, oldest first, as
    (normalised event, customer number)."""
    if not names or not env.analytics.partitions("events"):
        return []
    table = events_between(env, sorted(names), start, end)
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
        context, members = current_members(env=sim, name=journey.entry.segment)
        numbers = set(context.customer_numbers(members))
        customers = [c for c in customers if c in numbers]
    elif isinstance(journey.entry, EventEntry) or customers is None:
        return
    elif any(key not in payload for key in journey.entry.required):
        return  # the live API refuses such a call; the walk says why the customer did not enter
    with sim.ops.begin() as connection:
        admit_in(connection, sim, journey, 1, customers, dict.fromkeys(customers, payload))
    drain_runtime(sim, catalog)


def drain_runtime(sim: JourneyEnv, catalog: Catalog) -> None:
    """Advance every due run and carry out every due effect at the clock's instant."""
    while tick(env=sim, catalog=catalog):
        pass
    while dispatch(env=sim, catalog=catalog):
        pass


def _run_until(sim: JourneyEnv, clock: VirtualClock, catalog: Catalog, until: datetime) -> None:
    """Move the clock to `until`, stopping at every scheduled instant on the way: run wake-ups, and sends
    delayed (quiet hours, a rate limit) or retried after a failure."""
    drain_runtime(sim, catalog)
    while (instant := next_instant(env=sim, after=clock.now())) is not None and instant <= until:
        clock.set(instant)
        drain_runtime(sim, catalog)
    if until > clock.now():
        clock.set(until)
    drain_runtime(sim, catalog)


def _report(
    sim: JourneyEnv,
    journey: JourneyDef,
    clock: VirtualClock,
    events: list[Any],
    sample: int,
    *,
    masked: bool,
) -> dict[str, Any]:
    stats = statistics(env=sim, name=journey.name, journey=journey)
    tz = sim.calendar.tz
    show = mask_customer_no if masked else str
    with sim.ops.begin() as connection:
        paths = [
            _path(connection, run, tz, show) for run in repo.sample_runs(connection, journey.name, sample)
        ]
    return stats | {
        "events_replayed": len(events),
        "ended_at": clock.now().astimezone(tz).isoformat(),
        "paths": paths,
    }


MASKED_CONTENT = "（已脱敏：需要查看个人信息权限 · masked: needs pii:view）"


def without_message_text(result: dict[str, Any]) -> dict[str, Any]:
    """A simulation's result for a caller without `pii:view`: each sample path's messages keep their node
    but not their rendered text, which names and addresses the customer."""
    paths = [
        path | {"messages": [m | {"content": MASKED_CONTENT} for m in path.get("messages", [])]}
        for path in result.get("paths", [])
    ]
    return result | {"paths": paths}


def _path(connection: Any, run: Any, tz: Any, show: Callable[[str], str]) -> dict[str, Any]:
    """One run's walk: its steps, the log channel's notes, and each effect with when it went (or is due);
    the customer number as `show` gives it (masked in a simulation's sample)."""

    def local(moment: datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(tz).isoformat(timespec="minutes")

    def hide(text: Any) -> Any:
        """The customer number wherever a rendered message or a step's note repeats it, shown as `show`
        gives it: a masked sample must not print the number in the message text."""
        return text.replace(run.customer_no, show(run.customer_no)) if isinstance(text, str) else text

    return {
        "customer_no": show(run.customer_no),
        "status": run.status,
        "holdout": run.holdout,
        "steps": [
            {"at": local(s.at), "node": s.node, "outcome": s.outcome, "detail": hide(s.detail)}
            for s in repo.steps_of(connection, run.id)
        ],
        "messages": [
            {"node": m["node"], "content": hide(m["content"])} for m in repo.messages_of(connection, run.id)
        ],
        "effects": [
            {
                "node": e["node"],
                "kind": e["kind"],
                "status": e["status"],
                "reason": e["reason"],
                "at": local(e["done_at"]),
                "due_at": local(e["due_at"]),
            }
            for e in reads.effect_times(connection, run.id)
        ],
    }


def _why(
    sim: JourneyEnv,
    journey: JourneyDef,
    customer: str,
    events: list[tuple[dict[str, Any], str]],
    payload: dict[str, Any],
    period: tuple[date, date],
) -> dict[str, Any]:
    """Whether a walked customer entered and, in words, why not — or what kept their actions back."""
    with sim.ops.begin() as connection:
        runs = [r for r in repo.runs_of_customer(connection, customer) if r.journey == journey.name]
        effects = [e for r in runs for e in repo.effects_of(connection, r.id)]
    if not runs:
        return {
            "customer_no": customer,
            "entered": False,
            "why": _not_entered(sim, journey, customer, events, period, payload),
        }
    why = []
    if any(r.holdout for r in runs):
        why.append(
            f"in the hold-out group ({journey.holdout_percent:g} %): walks the journey, but no action is "
            "carried out (the control group of the goal's conversion)"
        )
    for effect in effects:
        if effect["status"] in ("skipped", "failed") and effect["reason"]:
            why.append(f"{effect['node']}: {effect['kind']} {effect['status']} — {effect['reason']}")
        elif effect["status"] == "pending":
            why.append(
                f"{effect['node']}: {effect['kind']} still pending — {effect['reason'] or 'not due yet'}"
            )
    return {"customer_no": customer, "entered": True, "why": why}


def _not_entered(
    sim: JourneyEnv,
    journey: JourneyDef,
    customer: str,
    events: list[tuple[dict[str, Any], str]],
    period: tuple[date, date],
    payload: dict[str, Any],
) -> list[str]:
    entry = journey.entry
    if isinstance(entry, SegmentEntry):
        context, members = current_members(env=sim, name=entry.segment)
        uid = context.uid_of.get(customer)
        if uid is None or uid not in members:
            known = uid is not None
            return [
                f"not a member of segment {entry.segment} now (the walk admits its current members)"
                if known
                else f"customer {customer} is not in the newest tag snapshot (unknown, or not computed yet)"
            ]
    elif isinstance(entry, EventEntry):
        done = [e for e, c in events if c == customer and e["event"] == entry.event]
        first, last = period
        if not done:
            return [f"did not do {entry.event} between {first} and {last} (the journey's entry event)"]
        if not any(passes(e.get("properties") or {}, entry.where) for e in done):
            return [
                f"did {entry.event} {len(done)} time(s) between {first} and {last}, "
                "none matching the entry filter"
            ]
    elif isinstance(entry, ApiEntry):
        missing = [key for key in entry.required if key not in payload]
        if missing:
            return [f"the entry payload lacks {', '.join(missing)} (give it with --payload)"]
    return ["refused by the journey's entry caps or its re-entry rule"]
