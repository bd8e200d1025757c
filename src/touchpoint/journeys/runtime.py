"""The journey runtime: admits customers, advances due runs and routes events to runs (`dispatch` drains the
outbox they fill).

Every call is one transaction: a batch of runs advanced together with their steps and outbox rows; a batch of
log records routed together with the consumer offset. A crash anywhere
rolls the whole batch back, and the outbox's unique (run, node, step) key means a retried step can never
queue a second send. Due runs and effects are claimed with FOR UPDATE SKIP LOCKED (PostgreSQL), so several
workers never take the same one; on SQLite the single writer does the same job.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cronsim import CronSim

from touchpoint.core.errors import ValidationError
from touchpoint.core.events import LogRecord, RoutedEvent, routed_parts
from touchpoint.core.ids import new_id
from touchpoint.identity.service import CONSUMER as IDENTITY
from touchpoint.identity.service import attributed
from touchpoint.ingest.ports import RoutedLog
from touchpoint.journeys import repo
from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.engine import ACTIVE, Outcome, Run, Step, Trigger, advance, after
from touchpoint.journeys.facts import LiveFacts, Snapshot, passes
from touchpoint.journeys.model import (
    ApiEntry,
    Duration,
    EventEntry,
    JourneyDef,
    SegmentEntry,
    WaitForEventNode,
)
from touchpoint.journeys.routing import (
    REPUBLISHER,
    ROUTED,
    layout_to_route,
    partition_of,
    partition_place,
    reads_routed_stream,
)
from touchpoint.journeys.service import KIND
from touchpoint.segments.service import current_members
from touchpoint.store.operational import dead_letters
from touchpoint.store.operational import definitions as store
from touchpoint.store.operational.consumers import (
    caught_up,
    consume_isolated,
    is_transient,
    retry_dead_letters,
)
from touchpoint.store.operational.offsets import (
    all_offsets,
    claim_existing_offset,
    get_offset,
    set_offset,
)

log = logging.getLogger("touchpoint.journeys")
MAX_ERRORS = 5
BATCH = 1_000
ADMIT_BATCH = 10_000  # runs built and inserted at a time by an admission


Catalog = tuple[dict[str, dict[str, Any]], dict[tuple[str, int], JourneyDef]]


# The newest catalog per operational store, with the lifecycle rows it was built from: saved versions never
# change, so while no journey's status or version moves, the catalog is the same (the worker asks for it on
# every poll, and reading and validating every saved version cost more than the poll's own queries).
_CATALOGS: dict[str, tuple[tuple[Any, ...], Catalog]] = {}


def live_versions(env: JourneyEnv, catalog: Catalog | None = None) -> Catalog:
    """Lifecycle rows, and every saved version of journeys that are live or paused (a simulation hands in
    its own catalog instead)."""
    if catalog is not None:
        return catalog
    with env.ops.begin() as connection:
        states = repo.all_states(connection)
        marker = tuple(
            sorted((name, st["status"], st["version"], st["updated_at"]) for name, st in states.items())
        )
        cached = _CATALOGS.get(env.ops.url)
        if cached is not None and cached[0] == marker:
            return cached[1]
        versions: dict[tuple[str, int], JourneyDef] = {}
        for name, st in states.items():
            if st["status"] not in ("live", "paused"):
                continue
            for saved in store.history(connection, KIND, name):
                if saved["body"] is not None:
                    versions[(name, saved["version"])] = JourneyDef.model_validate(saved["body"])
    _CATALOGS[env.ops.url] = (marker, (states, versions))
    return states, versions


def listened_events(catalog: Catalog) -> set[str]:
    """The event names that live or paused journeys act on: entries, waits, goals and exits. Routing reads
    only these; the rest of the log (most of it: page views, clicks) is passed over before One ID."""
    states, versions = catalog
    names: set[str] = set()
    for (name, _), journey in versions.items():
        if states.get(name, {}).get("status") not in ("live", "paused"):
            continue
        if isinstance(journey.entry, EventEntry):
            names.add(journey.entry.event)
        names.update(n.event for n in journey.nodes if isinstance(n, WaitForEventNode))
        if journey.goal is not None:
            names.add(journey.goal.event)
        names.update(c.event for c in journey.exit_criteria if c.event)
    return names


# Admission -------------------------------------------------------------------------------------------------


def admit(
    *, env: JourneyEnv, name: str, customers: list[str], payloads: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Admit customers to a live journey (re-entry rule, caps and hold-out applied); returns the counts."""
    states, versions = live_versions(env)
    st = states.get(name)
    if st is None or st["status"] != "live":
        raise ValidationError(f"journey {name!r} is not live; publish it first")
    journey = versions[(name, st["version"])]
    if isinstance(journey.entry, ApiEntry):
        for customer in customers:
            missing = [k for k in journey.entry.required if k not in (payloads or {}).get(customer, {})]
            if missing:
                raise ValidationError(
                    f"journey {name}: the payload for {customer} lacks {', '.join(missing)}"
                )
    with env.ops.begin() as connection:
        return admit_in(connection, env, journey, st["version"], customers, payloads or {})


def admit_in(
    connection: Any,
    env: JourneyEnv,
    journey: JourneyDef,
    version: int,
    customers: list[str],
    payloads: dict[str, dict[str, Any]],
    entered: dict[str, datetime] | None = None,
) -> dict[str, Any]:
    """Admission inside the caller's transaction (event entry shares the routing transaction); `entered` gives
    a run's entry time (an event entry enters at its event's time), else now."""
    now = env.clock.now()
    wanted = list(dict.fromkeys(customers))
    history = repo.entry_facts(connection, journey.name, wanted)
    allowed = _reentry_filter(journey, history, wanted, now)
    room = _room(connection, env, journey, now)
    admitted = allowed[:room] if room is not None else allowed
    holdout = 0
    # Built and stored 10,000 at a time: a segment of 10M customers as Run objects at once would hold ~6 GB.
    for start in range(0, len(admitted), ADMIT_BATCH):
        runs = [
            Run(
                id=new_id("run"),
                journey=journey.name,
                version=version,
                customer_no=customer,
                node=None,
                step=0,
                status="ready",
                entered_at=(entered or {}).get(customer, now),
                holdout=in_holdout(journey, customer),
                wake_at=now,
                context={"payload": payloads.get(customer, {})},
            )
            for customer in admitted[start : start + ADMIT_BATCH]
        ]
        repo.insert_runs(connection, runs, now)
        holdout += sum(r.holdout for r in runs)
    return {
        "admitted": len(admitted),
        "holdout": holdout,
        "refused_by_reentry": len(wanted) - len(allowed),
        "refused_by_cap": len(allowed) - len(admitted),
    }


def _reentry_filter(
    journey: JourneyDef, history: dict[str, tuple[datetime, bool]], customers: list[str], now: datetime
) -> list[str]:
    rule = journey.reentry
    keep = []
    for customer in customers:
        seen = history.get(customer)
        if seen is None:
            keep.append(customer)
            continue
        last, active = seen
        if active or rule.mode == "never":
            continue
        if rule.mode == "interval":
            span = Duration(str(rule.interval)).span() or timedelta(days=Duration(str(rule.interval)).n)
            if repo.as_utc(last) + span > now:
                continue
        keep.append(customer)
    return keep


def _room(connection: Any, env: JourneyEnv, journey: JourneyDef, now: datetime) -> int | None:
    caps = journey.caps
    rooms = []
    if caps.total is not None:
        rooms.append(caps.total - repo.entered_since(connection, journey.name, None))
    if caps.per_day is not None:
        midnight = env.calendar.to_utc(env.calendar.business_date(now))
        rooms.append(caps.per_day - repo.entered_since(connection, journey.name, midnight))
    return max(0, min(rooms)) if rooms else None


def in_holdout(journey: JourneyDef, customer: str) -> bool:
    """Whether the customer is in the journey's hold-out group (a stable hash below the share)."""
    if journey.holdout_percent <= 0:
        return False
    digest = hashlib.sha256(f"holdout\x00{journey.name}\x00{customer}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < journey.holdout_percent * 100


def admit_segments(*, env: JourneyEnv, catalog: Catalog | None = None) -> int:
    """Admit the members of segment-entry journeys that are due: at publishing, and for recurring ones again
    at each cron time (Beijing) after that. Returns how many runs were admitted."""
    states, versions = live_versions(env, catalog)
    now = env.clock.now()
    admitted = 0
    for name, st in sorted(states.items()):
        if st["status"] != "live":
            continue
        journey = versions[(name, st["version"])]
        entry = journey.entry
        if not isinstance(entry, SegmentEntry) or not _entry_due(entry, st, now, env):
            continue
        try:
            context, members = current_members(env=env, name=entry.segment)
        except Exception as exc:
            if is_transient(exc):
                raise
            # One journey's segment that cannot be evaluated (a definition an upgrade now refuses) must not
            # hold back the journeys after it; it is tried again at the next pass, and logged each time.
            log.error(
                "journey %s: segment %s could not be evaluated, none admitted: %s", name, entry.segment, exc
            )
            continue
        customers = context.customer_numbers(members)
        with env.ops.begin() as connection:
            admitted += admit_in(connection, env, journey, st["version"], customers, {})["admitted"]
            repo.set_state(connection, name, now, admitted_at=now)
        st["admitted_at"] = now  # a simulation's catalog lives in memory
    return admitted


def _entry_due(entry: SegmentEntry, st: dict[str, Any], now: datetime, env: JourneyEnv) -> bool:
    last = st.get("admitted_at")
    if last is None:
        return True  # the first admission happens at publishing, recurring or not
    if entry.schedule is None:
        return False
    start = repo.as_utc(last).astimezone(env.calendar.tz)
    upcoming = next(CronSim(entry.schedule, start))
    return upcoming <= now.astimezone(env.calendar.tz)


# Advancing -------------------------------------------------------------------------------------------------


def tick(*, env: JourneyEnv, limit: int = BATCH, catalog: Catalog | None = None) -> int:
    """Advance up to `limit` due runs of live journeys; returns how many were taken."""
    states, versions = live_versions(env, catalog)
    live = [name for name, st in states.items() if st["status"] == "live"]
    now = env.clock.now()
    with env.ops.begin() as connection:
        runs = repo.claim_due(connection, now, live, limit)
        snapshot = Snapshot(env, [run.customer_no for run in runs])
        outcomes = []
        for run in runs:
            journey = versions[(run.journey, run.version)]
            trigger: Trigger = "enter" if run.node is None else "timer"
            if run.context.pop("event_at", None):
                trigger = "event"
            facts = LiveFacts(connection, snapshot, run.customer_no)
            try:
                outcome = advance(journey, run, now=now, trigger=trigger, facts=facts, calendar=env.calendar)
            except Exception as exc:  # a fact that cannot be read now (e.g. no tag snapshot yet): retry later
                outcome = _backed_off(run, now, exc)
            outcomes.append(outcome)
        _persist(connection, outcomes, now, versions)
    return len(runs)


def _backed_off(run: Run, now: datetime, exc: Exception) -> Outcome:
    errors = int(run.context.get("errors", 0)) + 1
    run.context["errors"] = errors
    run.context["last_error"] = str(exc)[:300]
    if errors >= MAX_ERRORS:
        run.status, run.end_reason, run.wake_at = "failed", "errors", None
    else:
        run.wake_at = now + timedelta(minutes=2**errors)
    log.warning("journey %s run %s: %s (attempt %d)", run.journey, run.id, exc, errors)
    return Outcome(run)


def _persist(
    connection: Any, outcomes: list[Outcome], now: datetime, versions: dict[tuple[str, int], JourneyDef]
) -> None:
    """A batch's runs, steps and outbox rows, a few statements for all of them."""
    repo.save_runs(connection, [o.run for o in outcomes], now)
    for outcome in outcomes:
        run = outcome.run
        if run.status == "exited":
            # An exit (e.g. into an exit segment) also stops what the run had queued before; a run that ends
            # normally keeps its last action, queued in this very call.
            reason = f"run exited: {run.end_reason}"
            repo.cancel_pending(connection, repo.OUTBOX.c.run_id == run.id, reason, now)
    repo.insert_step_rows(connection, [r for o in outcomes for r in repo.step_rows(o.run, o.steps, now)])
    repo.insert_outbox(
        connection,
        [
            {
                "id": new_id("obx"),
                "run_id": o.run.id,
                "journey": o.run.journey,
                "node": effect.node,
                "step": effect.step,
                "customer_no": o.run.customer_no,
                "kind": effect.kind,
                "payload": effect.payload,
                "priority": versions[(o.run.journey, o.run.version)].priority,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for o in outcomes
            for effect in o.effects
        ],
    )


# Routing events --------------------------------------------------------------------------------------------


def route_events(*, env: JourneyEnv, limit: int = 2_000) -> int:
    """Route the next records: event entries, kept events for waits, goals, exits, and wake-ups of runs
    waiting for the event. The offset commits with all of it; a record that cannot be routed becomes a
    dead letter and the offset moves past it. Returns the records consumed (and dead letters retried).

    Routing is split by customer hash into `routing_partitions` partitions, each with its own offset, and a
    worker routes every partition no other worker holds at that moment (SKIP LOCKED): several workers route
    at once, and each customer's events stay in order in one partition. The partitions read the event log,
    or the routed stream (`journey_routing_source`, journeys/routing.py)."""
    catalog = live_versions(env)
    listened = listened_events(catalog)
    layout = layout_to_route(env, env.routing_partitions, routed=env.routing_source == "routed")
    count = len(layout.names)
    seen = _Seen()
    consumed = _retry_earlier_layouts_letters(env, catalog, listened, seen, layout.names)
    # Start at a different partition each call, so that workers do not all queue for the first one.
    first = secrets.randbelow(count)
    for index in [*range(first, count), *range(first)]:
        place = _Place(layout.names[index], index, count, layout.routed)
        consumed += _route_partition(env, catalog, listened, seen, place, layout.bound, limit)
    return consumed


def republish(*, env: JourneyEnv, limit: int = 2_000) -> int:
    """Hand the next events One ID has linked to the routed stream, each on its customer's subject (ADR
    0005); returns the log records passed (and dead letters retried). Only events some live or paused
    journey listens to are handed on, and only once routing has switched to the routed stream (the
    republisher's offset exists).

    No transaction is open while publishing: the offset commits after the server has stored the batch. A
    republisher stopped between the two finds, at the stream's end, what it had published past its offset
    (`sources_after`) and publishes only the rest — however late it comes back, and even if the server
    stored a later event of the batch but refused an earlier one. Two workers at the same place publish the
    same records in the same order, and the stream drops copies by source offset within its duplicate
    window. An event the stream refuses (larger than a message may be) becomes a dead letter of `routed`,
    committed with the offset."""
    routed = env.routed
    if env.routing_source != "routed" or routed is None:
        return 0
    with env.ops.engine.connect() as connection:
        offsets = all_offsets(connection)
    if REPUBLISHER not in offsets:
        return 0
    committed, newest = offsets[REPUBLISHER], routed.last_source()
    if newest is None and any(reads_routed_stream(name) and offset > 0 for name, offset in offsets.items()):
        raise RuntimeError(
            "the routed stream is gone while routing partitions had read it: route from the log"
            " (journey_routing_source = 'log') to start again, or restore the stream"
        )
    retried = 0
    if (newest or 0) <= committed:  # nothing published past the offset: a retried letter hides no batch
        retried = _retry_republisher_letters(env, routed)
    bound = offsets.get(IDENTITY, 0)  # who an event is comes from One ID: an event it has not linked waits
    if committed >= bound:
        return retried
    records = [r for r in env.log.read_after(committed, limit) if r.offset <= bound]
    if not records:
        return retried
    held = routed.sources_after(committed) if (newest or 0) > committed else set()
    if held is None:
        log.warning(
            "%s: too much published past its offset to read back; the duplicate window dedupes", REPUBLISHER
        )
        held = set()
    listened = listened_events(live_versions(env))
    wanted = [r for r in records if r.offset not in held and r.payload.get("event") in listened]
    with env.ops.engine.connect() as connection:
        named = attributed(connection, [r.payload for r in wanted])
    owners = {id(event): customer for event, customer in named}
    events = [
        RoutedEvent(r.offset, owners[id(r.payload)], r.event_id, r.received_at, r.payload)
        for r in wanted
        if id(r.payload) in owners
    ]
    refused = routed.publish(events)
    by_source = {r.offset: r for r in records}
    now = env.clock.now()
    with env.ops.begin() as connection:
        for event, why in refused:
            record = by_source[event.source]
            dead_letters.add(connection, consumer=REPUBLISHER, record=record, error=why, now=now)
            log.error("%s: offset %d is a dead letter: %s", REPUBLISHER, record.offset, why)
        set_offset(connection, REPUBLISHER, records[-1].offset, now)
    return len(records) + retried


def _retry_republisher_letters(env: JourneyEnv, routed: RoutedLog) -> int:
    """Publish again the republisher's dead letters an operator asked to retry (mended, say), then record
    each outcome; returns how many were tried. Published before it is marked, so a worker stopped between
    the two publishes it again, and the stream drops the copy by its source offset. Called only while the
    routed partitions exist and nothing is published past the republisher's offset."""
    with env.ops.engine.connect() as connection:
        letters = dead_letters.retries_requested(connection, REPUBLISHER)
    for letter in letters:
        record = letter.log_record()
        with env.ops.engine.connect() as connection:
            named = attributed(connection, [record.payload])
        event = [RoutedEvent(record.offset, c, record.event_id, record.received_at, e) for e, c in named]
        error: str | None = "One ID names no customer for it"
        if event:
            refused = routed.publish(event)
            error = refused[0][1] if refused else None
        with env.ops.begin() as connection:
            dead_letters.mark_retried(connection, letter.id, error=error, now=env.clock.now())
    return len(letters)


@dataclass(frozen=True)
class _Place:
    """A routing partition: its consumer's name, its index of `count`, whether it reads the routed stream."""

    name: str
    index: int
    count: int
    routed: bool


@dataclass
class _Seen:
    """What one routing call has read and whom One ID named for each event: partitions at the same place in
    the log read it and look its senders up once, and all of them see one attribution of each event."""

    reads: dict[tuple[int, int | None], list[LogRecord]] = field(default_factory=dict)
    owners: dict[int, str | None] = field(default_factory=dict)

    def read(self, log: Any, after: int, limit: int, bound: int | None) -> list[LogRecord]:
        """The records after `after` (at most `limit`, none past `bound`), read once per call."""
        key = (after, bound)
        if key not in self.reads:
            records = log.read_after(after, limit)
            self.reads[key] = records if bound is None else [r for r in records if r.offset <= bound]
        return self.reads[key]

    def attributed(self, connection: Any, records: Sequence[LogRecord]) -> list[tuple[dict[str, Any], str]]:
        """Each record's event with the customer One ID names for it (those it names), looked up once."""
        missing = [r for r in records if r.offset not in self.owners]
        if missing:
            named = attributed(connection, [r.payload for r in missing])
            found = {id(event): customer for event, customer in named}
            self.owners.update({r.offset: found.get(id(r.payload)) for r in missing})
        return [(r.payload, owner) for r in records if (owner := self.owners[r.offset]) is not None]


def _route_partition(
    env: JourneyEnv,
    catalog: Catalog,
    listened: set[str],
    seen: _Seen,
    place: _Place,
    bound: int | None,
    limit: int,
) -> int:
    """Route one partition's events after its offset, unless another worker holds it. From the log:
    records past One ID's committed offset, or past `bound`, wait; from the routed stream: records past
    `bound` wait (every routed record is linked already)."""
    route = _partition_router(env, catalog, listened, seen, place)
    name, routed = place.name, env.routed if place.routed else None

    def read(after: int) -> Sequence[LogRecord]:
        if routed is None:
            return seen.read(env.log, after, limit, bound)
        records = routed.read(after, limit, index=place.index, count=place.count)
        return records if bound is None else [r for r in records if r.offset <= bound]

    def done() -> bool:
        if routed is None:
            head = env.log.head if bound is None else (lambda: bound)
            return caught_up(env.ops, name, head, behind=IDENTITY)
        with env.ops.engine.connect() as connection:
            offset = get_offset(connection, name)
        following = routed.next_offset(offset, index=place.index, count=place.count)
        if following is None and offset > routed.head():
            # The stream numbers from 1 again (deleted and made anew): its records would all be skipped.
            raise RuntimeError(
                f"{name} is at offset {offset}, past the routed stream's newest record {routed.head()}: the"
                " stream was made anew; route from the log (journey_routing_source = 'log') to start again"
            )
        return following is None or (bound is not None and following > bound)

    consumed = consume_isolated(
        ops=env.ops,
        consumer=name,
        # A row that is gone belongs to a layout another worker replaced: this partition is skipped.
        position=lambda connection: claim_existing_offset(connection, name),
        read=read,
        apply=route,
        now=env.clock.now,
        caught_up=done,
        behind=IDENTITY if routed is None else None,
    )
    return consumed.records + consumed.retried


def _partition_router(
    env: JourneyEnv, catalog: Catalog, listened: set[str], seen: _Seen, place: _Place
) -> Callable[[Any, Sequence[LogRecord]], None]:
    """Routes, in the caller's transaction, the events of records whose customer is in the partition: from
    the log, those One ID names in it; from the routed stream, every record (each names its customer)."""

    def route_log(connection: Any, records: Sequence[LogRecord]) -> None:
        wanted = [r for r in records if r.payload.get("event") in listened]
        if not wanted:
            return
        found = seen.attributed(connection, wanted)
        mine = [(e, c) for e, c in found if place.count == 1 or partition_of(c, place.count) == place.index]
        if mine:
            route_batch(connection, env, catalog, mine)

    def route_routed(connection: Any, records: Sequence[LogRecord]) -> None:
        events = [(event, customer) for event, customer, _ in map(routed_parts, records)]
        mine = [(e, c) for e, c in events if e.get("event") in listened]
        if mine:
            route_batch(connection, env, catalog, mine)

    return route_routed if place.routed else route_log


def _retry_earlier_layouts_letters(
    env: JourneyEnv, catalog: Catalog, listened: set[str], seen: _Seen, names: list[str]
) -> int:
    """Retry the dead letters, asked for by an operator, of routing partitions that no longer exist (the
    number of partitions or their source changed since they were written): each as its own partition would
    have, routing only that partition's customers, so a record lettered by several partitions is still
    routed once."""
    with env.ops.engine.connect() as connection:
        retrying = dead_letters.consumers_retrying(connection)
    retried = 0
    for name in sorted(retrying - set(names)):
        found = partition_place(name)
        if found is not None:
            prefix, index, count = found
            place = _Place(name, index, count, prefix == ROUTED)
            route = _partition_router(env, catalog, listened, seen, place)
            retried += retry_dead_letters(ops=env.ops, consumer=name, apply=route, now=env.clock.now)
    return retried


def route_batch(
    connection: Any, env: JourneyEnv, catalog: Catalog, events: list[tuple[dict[str, Any], str]]
) -> None:
    """Route (event, customer number) pairs in the caller's transaction (simulations replay through it): the
    batch's kept events in one insert, its waiting runs read at once, its entries admitted per journey."""
    states, versions = catalog
    current = {
        n: versions[(n, st["version"])] for n, st in states.items() if st["status"] in ("live", "paused")
    }
    now = env.clock.now()
    waited = {n.event for j in versions.values() for n in j.nodes if isinstance(n, WaitForEventNode)}
    goals_exits = {j.goal.event for j in current.values() if j.goal} | {
        c.event for j in current.values() for c in j.exit_criteria if c.event
    }
    kept = waited | {j.goal.event for j in current.values() if j.goal}
    waiting = _waiting_runs(connection, versions, [c for e, c in events if e["event"] in waited])
    entries: dict[str, dict[str, tuple[dict[str, Any], datetime]]] = {}
    inbox, woken = [], {}
    for event, customer in events:
        name, props = str(event["event"]), event.get("properties") or {}
        at = datetime.fromtimestamp(int(event["time"]) / 1000, tz=UTC)
        if name in kept:
            inbox.append({"customer_no": customer, "event": name, "time": at, "properties": props})
        if name in goals_exits:
            _admit_entries(connection, env, current, states, entries)  # a run entered earlier in the batch
            waiting.pop(customer, None)  # may end now: its state is read afresh when it wakes
            _goals_and_exits(connection, env, current, name, props, customer, at, now)
        for run in waiting.get(customer, []) if name in waited else []:
            if _wakes(versions, run, name, props, at):
                run.context["event_at"] = at.isoformat()
                run.wake_at = now
                woken[run.id] = run
        for jname, journey in current.items():
            entry = journey.entry
            live = states[jname]["status"] == "live"
            if live and isinstance(entry, EventEntry) and entry.event == name and passes(props, entry.where):
                entries.setdefault(jname, {}).setdefault(customer, (props, at))
    repo.add_inbox(connection, inbox)
    repo.save_runs(connection, list(woken.values()), now)
    _admit_entries(connection, env, current, states, entries)


def _admit_entries(
    connection: Any,
    env: JourneyEnv,
    current: dict[str, JourneyDef],
    states: dict[str, dict[str, Any]],
    entries: dict[str, dict[str, tuple[dict[str, Any], datetime]]],
) -> None:
    """Admit the event entries gathered so far, one call per journey, each run entered at its event's time."""
    for jname, chosen in entries.items():
        payloads = {customer: props for customer, (props, _) in chosen.items()}
        entered = {customer: at for customer, (_, at) in chosen.items()}
        admit_in(connection, env, current[jname], states[jname]["version"], list(chosen), payloads, entered)
    entries.clear()


def _goals_and_exits(
    connection: Any,
    env: JourneyEnv,
    current: dict[str, JourneyDef],
    name: str,
    props: dict[str, Any],
    customer: str,
    at: datetime,
    now: datetime,
) -> None:
    for jname, journey in current.items():
        if journey.goal is not None and journey.goal.event == name and passes(props, journey.goal.where):
            _convert(connection, env, journey, customer, at, now)
        for criterion in journey.exit_criteria:
            if criterion.event == name and passes(props, criterion.where):
                for run in repo.active_runs_of(connection, [customer], [jname]):
                    step = Step(run.node or "-", run.step, "exit", f"event {name}")
                    repo.insert_steps(connection, run, [step], now)
                where = (repo.RUNS.c.journey == jname) & (repo.RUNS.c.customer_no == customer)
                repo.end_runs(connection, where, "exited", f"event {name}"[:32], now)


def _convert(
    connection: Any, env: JourneyEnv, journey: JourneyDef, customer: str, at: datetime, now: datetime
) -> None:
    """A goal event converts the customer's runs that entered within the attribution window before it: an
    active run ends as converted; an ended one (or a hold-out's) is still counted, once."""
    assert journey.goal is not None
    within = Duration(journey.goal.within)
    generous = within.span() or timedelta(days=within.n * 2 + 10)  # trading days: filtered exactly below
    for run in repo.runs_for_goal(connection, customer, journey.name, at - generous):
        entered = repo.as_utc(run.entered_at)
        if not entered <= at <= after(entered, journey.goal.within, env.calendar):
            continue
        if repo.has_step(connection, run.id, "goal"):
            continue
        repo.insert_steps(connection, run, [_goal_step(run)], now)
        if run.status in ACTIVE:
            run.status, run.end_reason, run.wake_at, run.wait_event = "converted", "goal", None, None
            repo.save_run(connection, run, now)
            # Converted: a message still queued (e.g. "please subscribe") would now be wrong.
            repo.cancel_pending(connection, repo.OUTBOX.c.run_id == run.id, "run converted", now)


def _goal_step(run: Run) -> Step:
    return Step(run.node or "-", run.step, "goal", "hold-out" if run.holdout else None)


def _waiting_runs(
    connection: Any, versions: dict[tuple[str, int], JourneyDef], customers: list[str]
) -> dict[str, list[Run]]:
    """The active runs of these customers, by customer (one query per 500 customers)."""
    journeys = sorted({j for (j, _) in versions})
    wanted = sorted(set(customers))
    found: dict[str, list[Run]] = {}
    for start in range(0, len(wanted), 500):
        for run in repo.active_runs_of(connection, wanted[start : start + 500], journeys):
            found.setdefault(run.customer_no, []).append(run)
    return found


def _wakes(
    versions: dict[tuple[str, int], JourneyDef], run: Run, name: str, props: dict[str, Any], at: datetime
) -> bool:
    """Whether this event releases a run waiting for it (any event since entry counts: one that came before
    the node was reached is not lost)."""
    if run.status != "waiting_event" or run.wait_event != name or run.node is None:
        return False
    node = versions[(run.journey, run.version)].node(run.node)
    return at >= repo.as_utc(run.entered_at) and _correlated(node, run, props)


def _correlated(node: WaitForEventNode, run: Run, props: dict[str, Any]) -> bool:
    payload = run.context.get("payload", {})
    matched = all(
        props.get(prop) == payload.get(source.removeprefix("payload.")) for prop, source in node.match.items()
    )
    return matched and passes(props, node.where)
