"""Journeys in the operational store: lifecycle, runs (state, timers), steps, the inbox of events runs may
wait for, and the outbox of effects with its attempts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    and_,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)

from touchpoint.core.errors import ValidationError
from touchpoint.journeys.engine import ACTIVE, Run, Step
from touchpoint.store.operational.bulk import fetch_tuples, insert_rows, update_rows
from touchpoint.store.operational.schema import (
    channel_log,
    journey_attempts,
    journey_inbox,
    journey_outbox,
    journey_runs,
    journey_steps,
    journeys,
)


def state(connection: Connection, name: str) -> dict[str, Any] | None:
    """A journey's lifecycle row (status, live version, times), or None for a journey never saved."""
    row = connection.execute(select(journeys).where(journeys.c.name == name)).mappings().first()
    return dict(row) if row is not None else None


def all_states(connection: Connection) -> dict[str, dict[str, Any]]:
    """Every journey's lifecycle row by name."""
    return {r["name"]: dict(r) for r in connection.execute(select(journeys)).mappings()}


def set_state(connection: Connection, name: str, now: datetime, **values: Any) -> None:
    """Create or update a journey's lifecycle row."""
    if state(connection, name) is None:
        connection.execute(insert(journeys).values(name=name, status="draft", updated_at=now))
    connection.execute(update(journeys).where(journeys.c.name == name).values(updated_at=now, **values))


def entry_facts(
    connection: Connection, journey: str, customers: list[str] | None = None
) -> dict[str, tuple[datetime, bool]]:
    """Per customer who ever entered (of `customers`, when given): (their latest entry, whether a run is still
    active)."""
    if customers is not None and len(customers) <= 1_000:
        found: dict[str, tuple[datetime, bool]] = {}
        for start in range(0, len(customers), 500):
            found |= _entry_facts(connection, journey, customers[start : start + 500])
        return found
    return _entry_facts(connection, journey, None)


def _entry_facts(
    connection: Connection, journey: str, customers: list[str] | None
) -> dict[str, tuple[datetime, bool]]:
    query = (
        select(
            journey_runs.c.customer_no,
            func.max(journey_runs.c.entered_at),
            func.count(journey_runs.c.active_key),
        )
        .where(journey_runs.c.journey == journey)
        .group_by(journey_runs.c.customer_no)
    )
    if customers is not None:
        query = query.where(journey_runs.c.customer_no.in_(customers))
    rows = connection.execute(query)  # typed rows: the driver alone would hand back SQLite's text times
    return {customer: (as_utc(entered), active > 0) for customer, entered, active in rows}


def entered_since(connection: Connection, journey: str, since: datetime | None) -> int:
    """How many runs entered the journey since `since` (ever, when None)."""
    query = select(func.count()).select_from(journey_runs).where(journey_runs.c.journey == journey)
    if since is not None:
        query = query.where(journey_runs.c.entered_at >= since)
    return int(connection.execute(query).scalar_one())


def as_utc(moment: Any) -> datetime:
    """A stored time as an aware UTC instant (an aggregate over a time column comes back as naive text on
    SQLite; other drivers may drop the zone)."""
    parsed: datetime = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def insert_runs(connection: Connection, runs: list[Run], now: datetime) -> None:
    """Store new runs (one statement for the batch)."""
    insert_rows(connection, journey_runs, [_row(run, now) for run in runs])


def _row(run: Run, now: datetime) -> dict[str, Any]:
    return {
        "id": run.id,
        "journey": run.journey,
        "version": run.version,
        "customer_no": run.customer_no,
        "node": run.node,
        "step": run.step,
        "status": run.status,
        "wake_at": run.wake_at,
        "wait_event": run.wait_event,
        "holdout": run.holdout,
        "context": run.context,
        "active_key": f"{run.journey}|{run.customer_no}" if run.status in ACTIVE else None,
        "entered_at": run.entered_at,
        "updated_at": now,
        "ended_at": None if run.status in ACTIVE else now,
        "end_reason": run.end_reason,
    }


WAKE_AT_INDEX = "ix_journey_runs_wake_at"


def claim_due(connection: Connection, now: datetime, live: Iterable[str], limit: int) -> list[Run]:
    """Active runs of live journeys whose wake-at has come, locked for this transaction; rows another worker
    holds are skipped (PostgreSQL), so two workers never take the same run."""
    names = list(live)
    if not names:
        return []
    journey: ColumnElement[Any] = journey_runs.c.journey
    if connection.dialect.name == "sqlite":
        # Without statistics SQLite chose the (journey, entered_at) index and read every run a live journey
        # ever had, ended ones too, on every tick. A unary plus (a no-op on any value) keeps the planner off
        # that index, so it takes the wake-at one, which holds only what is due (ended runs have no wake-at).
        # PostgreSQL's planner has its statistics.
        journey = literal_column("+journey_runs.journey", journey.type)
    query = (
        select(journey_runs)
        .where(journey_runs.c.status.in_(ACTIVE), journey_runs.c.wake_at <= now, journey.in_(names))
        .order_by(journey_runs.c.wake_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [run_of(row) for row in _dicts(connection.execute(query))]


def _dicts(result: Any) -> list[dict[str, Any]]:
    """A result's rows as dicts, the column names zipped in once (RowMapping builds its keys per row, which
    cost more than a tick's claim itself)."""
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result]


def run_of(row: Any) -> Run:
    """A run from its stored row."""
    return Run(
        id=row["id"],
        journey=row["journey"],
        version=row["version"],
        customer_no=row["customer_no"],
        node=row["node"],
        step=row["step"],
        status=row["status"],
        entered_at=row["entered_at"],
        holdout=bool(row["holdout"]),
        wake_at=row["wake_at"],
        wait_event=row["wait_event"],
        context=dict(row["context"] or {}),
        end_reason=row["end_reason"],
    )


def save_run(connection: Connection, run: Run, now: datetime) -> None:
    """Write a run's new state (ending it frees the customer for re-entry)."""
    values = _row(run, now)
    values.pop("id")
    values.pop("entered_at")
    values.pop("customer_no")  # a run keeps its customer (and its partition)
    if run.status in ACTIVE:
        values.pop("ended_at")
    # The customer number names the run's partition on PostgreSQL: one partition's index is probed, not all.
    c = journey_runs.c
    connection.execute(
        update(journey_runs).where(c.id == run.id, c.customer_no == run.customer_no).values(**values)
    )


_SAVED = (
    "node",
    "step",
    "status",
    "wake_at",
    "wait_event",
    "context",
    "active_key",
    "updated_at",
    "end_reason",
)


def save_runs(connection: Connection, runs: list[Run], now: datetime) -> None:
    """Write many runs' new states in one statement (a tick's batch)."""
    rows = []
    for run in runs:
        row = _row(run, now)
        rows.append(
            {"id": run.id, "customer_no": run.customer_no, "ended_at": row["ended_at"]}
            | {c: row[c] for c in _SAVED}
        )
    # By id and customer: journey_runs is partitioned by customer on PostgreSQL (one partition probed a row).
    update_rows(connection, journey_runs, ("id", "customer_no"), rows)


def insert_step_rows(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Record many steps at once (rows as `insert_steps` builds them)."""
    insert_rows(connection, journey_steps, rows)


def step_rows(run: Run, steps: list[Step], now: datetime) -> list[dict[str, Any]]:
    """The stored rows of a run's steps."""
    return [
        {
            "run_id": run.id,
            "journey": run.journey,
            "version": run.version,
            "node": s.node,
            "step": s.step,
            "outcome": s.outcome,
            "detail": s.detail,
            "at": now,
        }
        for s in steps
    ]


def insert_steps(connection: Connection, run: Run, steps: list[Step], now: datetime) -> None:
    """Record the nodes a run passed through."""
    insert_step_rows(connection, step_rows(run, steps, now))


def insert_outbox(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Queue effects; the unique (run, node, step) key refuses a second copy of one."""
    insert_rows(connection, journey_outbox, rows)


def active_runs_of(connection: Connection, customers: list[str], journeys_: list[str]) -> list[Run]:
    """Active runs of these customers in these journeys, locked for this transaction."""
    if not customers or not journeys_:
        return []
    query = (
        select(journey_runs)
        .where(
            journey_runs.c.customer_no.in_(customers),
            journey_runs.c.journey.in_(journeys_),
            journey_runs.c.status.in_(ACTIVE),
        )
        .with_for_update(skip_locked=False)
    )
    return [run_of(row) for row in connection.execute(query).mappings()]


def runs_for_goal(connection: Connection, customer: str, journey: str, since: datetime) -> list[Run]:
    """The customer's runs of a journey that entered at or after `since` (active or ended)."""
    query = select(journey_runs).where(
        journey_runs.c.customer_no == customer,
        journey_runs.c.journey == journey,
        journey_runs.c.entered_at >= since,
    )
    return [run_of(row) for row in connection.execute(query).mappings()]


def has_step(connection: Connection, run_id: str, outcome: str) -> bool:
    """Whether the run already has a step with this outcome."""
    query = (
        select(func.count())
        .select_from(journey_steps)
        .where(journey_steps.c.run_id == run_id, journey_steps.c.outcome == outcome)
    )
    return bool(connection.execute(query).scalar_one())


def add_inbox(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Keep events that runs may wait for."""
    if rows:
        connection.execute(insert(journey_inbox), rows)


def inbox_events(connection: Connection, customer: str, event: str, since: datetime) -> list[dict[str, Any]]:
    """The customer's kept events of one name at or after `since` (properties and time)."""
    query = select(journey_inbox.c.time, journey_inbox.c.properties).where(
        journey_inbox.c.customer_no == customer, journey_inbox.c.event == event, journey_inbox.c.time >= since
    )
    return [{"time": t, "properties": p} for t, p in connection.execute(query)]


def claim_outbox(
    connection: Connection, now: datetime, limit: int, live: list[str], *, claimer: str, lease_until: datetime
) -> list[dict[str, Any]]:
    """Claim pending effects of live journeys due now for `claimer` until `lease_until`, higher journey
    priority first (a capped slot goes to the more important journey); returns them in that order.

    One UPDATE whose subquery picks the due rows: on PostgreSQL it skips rows another claim is locking (FOR
    UPDATE SKIP LOCKED), on SQLite the statement holds the only writer. Commit the claim at once: the effects
    stay claimed while providers are called outside any transaction. An effect whose lease ran out (its
    dispatcher died) is due again."""
    if not live:
        return []
    c = journey_outbox.c
    due = (
        select(c.id)
        .where(c.status == "pending", c.next_attempt_at <= now, c.journey.in_(live), _unclaimed(now))
        .order_by(c.priority.desc(), c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(journey_outbox)
        .where(c.id.in_(due.scalar_subquery()), _unclaimed(now))
        .values(claimed_by=claimer, lease_until=lease_until)
        .returning(*journey_outbox.c)
    )
    rows = _dicts(connection.execute(statement))
    return sorted(rows, key=lambda r: (-int(r["priority"]), as_utc(r["next_attempt_at"]), r["id"]))


def _unclaimed(now: datetime) -> Any:
    """No dispatcher holds the effect: never claimed, released, or its lease ran out."""
    return or_(journey_outbox.c.lease_until.is_(None), journey_outbox.c.lease_until <= now)


def hold(
    connection: Connection, ids: list[str], claimer: str, lease_until: datetime, *, pending_only: bool = True
) -> set[str]:
    """Renew `claimer`'s lease on these effects and return the ids it still holds: not those claimed by
    another dispatcher after the lease ran out, nor (with `pending_only`) those cancelled meanwhile.

    Make it the first statement of a transaction that works on claimed effects: the rows it updates stay
    locked (PostgreSQL) or the writer held (SQLite) until that transaction ends, so nobody takes them over
    in between."""
    held: set[str] = set()
    c = journey_outbox.c
    for start in range(0, len(ids), 500):
        where = [c.id.in_(ids[start : start + 500]), c.claimed_by == claimer]
        if pending_only:
            where.append(c.status == "pending")
        statement = update(journey_outbox).where(*where).values(lease_until=lease_until).returning(c.id)
        held.update(connection.execute(statement).scalars())
    return held


def release(connection: Connection, ids: list[str]) -> None:
    """Let go of claimed effects that were not attempted (a batch out of time): due again at once, no
    attempt spent. Call it only after `hold` in the same transaction."""
    if ids:
        connection.execute(
            update(journey_outbox)
            .where(journey_outbox.c.id.in_(ids))
            .values(claimed_by=None, lease_until=None)
        )


def finish_attempt(
    connection: Connection, row: dict[str, Any], *, ok: bool, detail: str | None, now: datetime, **values: Any
) -> None:
    """Record one attempt and the effect's new values; the claim is released. A retry passes no `status`, so
    an effect its run cancelled meanwhile stays cancelled."""
    attempt = int(row["attempts"]) + 1
    connection.execute(
        insert(journey_attempts).values(outbox_id=row["id"], attempt=attempt, ok=ok, detail=detail, at=now)
    )
    connection.execute(
        update(journey_outbox)
        .where(journey_outbox.c.id == row["id"], journey_outbox.c.customer_no == row["customer_no"])
        .values(attempts=attempt, claimed_by=None, lease_until=None, **values)
    )


def effects_of(connection: Connection, run_id: str) -> list[dict[str, Any]]:
    """A run's effects in step order: node, kind, status, attempts and the reason it did not go (if any)."""
    c = journey_outbox.c
    query = (
        select(c.node, c.kind, c.status, c.attempts, c.last_error).where(c.run_id == run_id).order_by(c.step)
    )
    return [
        {"node": node, "kind": kind, "status": status, "attempts": attempts, "reason": reason}
        for node, kind, status, attempts, reason in connection.execute(query)
    ]


def delay_effect(connection: Connection, outbox_id: str, until: datetime, reason: str) -> None:
    """Hold an effect back until a time (quiet hours, a rate limit) without spending an attempt."""
    connection.execute(
        update(journey_outbox)
        .where(journey_outbox.c.id == outbox_id)
        .values(next_attempt_at=until, last_error=f"delayed: {reason}", claimed_by=None, lease_until=None)
    )


def runs_of_customer(connection: Connection, customer: str) -> list[Run]:
    """Every run of one customer, newest first."""
    query = (
        select(journey_runs)
        .where(journey_runs.c.customer_no == customer)
        .order_by(journey_runs.c.entered_at.desc())
    )
    return [run_of(row) for row in connection.execute(query).mappings()]


def steps_of(connection: Connection, run_id: str) -> list[Row[Any]]:
    """A run's steps in order."""
    query = select(journey_steps).where(journey_steps.c.run_id == run_id).order_by(journey_steps.c.id)
    return list(connection.execute(query))


def within(column: Any, customers: Table | None) -> Any:
    """A condition keeping rows of the customers in `customers` (a scratch set), or every row for None."""
    return true() if customers is None else column.in_(select(customers.c.customer_no))


def runs_within(column: Any, customers: Table | None) -> Any:
    """A condition keeping steps (by their run id) of runs of the customers in `customers`."""
    if customers is None:
        return true()
    return column.in_(select(journey_runs.c.id).where(within(journey_runs.c.customer_no, customers)))


def node_counts(connection: Connection, journey: str, customers: Table | None = None) -> dict[str, Any]:
    """Per node: steps by outcome; runs waiting at it; effects by status (of `customers` only, if given)."""
    steps, runs, outbox = journey_steps.c, journey_runs.c, journey_outbox.c
    outcomes = fetch_tuples(
        connection,
        select(steps.node, steps.outcome, func.count())
        .where(steps.journey == journey, runs_within(steps.run_id, customers))
        .group_by(steps.node, steps.outcome),
    )
    waiting = fetch_tuples(
        connection,
        select(runs.node, func.count())
        .where(runs.journey == journey, runs.status.in_(ACTIVE), within(runs.customer_no, customers))
        .group_by(runs.node),
    )
    mine = within(outbox.customer_no, customers)
    effects = fetch_tuples(
        connection,
        select(outbox.node, outbox.status, func.count())
        .where(outbox.journey == journey, mine)
        .group_by(outbox.node, outbox.status),
    )
    failures = fetch_tuples(
        connection,
        select(outbox.node, outbox.last_error, func.count())
        .where(outbox.journey == journey, outbox.status == "failed", mine)
        .group_by(outbox.node, outbox.last_error),
    )
    cancelled = fetch_tuples(
        connection,
        select(outbox.node, outbox.last_error, func.count())
        .where(outbox.journey == journey, outbox.status == "skipped", mine)
        .group_by(outbox.node, outbox.last_error),
    )
    ends = fetch_tuples(
        connection,
        select(runs.status, runs.holdout, func.count())
        .where(runs.journey == journey, within(runs.customer_no, customers))
        .group_by(runs.status, runs.holdout),
    )
    return {
        "outcomes": outcomes,
        "waiting": waiting,
        "effects": effects,
        "failures": failures,
        "cancelled": cancelled,
        "runs": ends,
    }


def stuck_runs(connection: Connection, before: datetime) -> list[Run]:
    """Active runs whose wake-at passed before `before` (a worker should have taken them)."""
    query = select(journey_runs).where(journey_runs.c.status.in_(ACTIVE), journey_runs.c.wake_at < before)
    return [run_of(row) for row in connection.execute(query).mappings()]


def end_runs(connection: Connection, where: Any, status: str, reason: str, now: datetime) -> int:
    """End matching active runs; what they still had queued is not sent."""
    ending = select(journey_runs.c.id).where(and_(where, journey_runs.c.status.in_(ACTIVE)))
    cancel_pending(connection, journey_outbox.c.run_id.in_(ending), f"run {status}: {reason}", now)
    result = connection.execute(
        update(journey_runs)
        .where(and_(where, journey_runs.c.status.in_(ACTIVE)))
        .values(status=status, end_reason=reason, active_key=None, ended_at=now, updated_at=now, wake_at=None)
    )
    return int(result.rowcount or 0)


def cancel_pending(connection: Connection, where: Any, reason: str, now: datetime) -> int:
    """Mark matching effects that were not carried out yet as skipped (their run ended first)."""
    result = connection.execute(
        update(journey_outbox)
        .where(and_(where, journey_outbox.c.status == "pending"))
        .values(status="skipped", last_error=reason[:500], done_at=now, next_attempt_at=None)
    )
    return int(result.rowcount or 0)


RUNS = journey_runs  # for the conditions callers pass to end_runs
OUTBOX = journey_outbox  # and to cancel_pending


def move_runs(
    connection: Connection, journey: str, version: int, node_map: dict[str, str], now: datetime
) -> int:
    """Move the active runs of older versions to `version`, each at the node its current node maps to, as if
    it had just reached it (a wait there starts afresh); refuses when a current node is not mapped."""
    older = and_(
        journey_runs.c.journey == journey, journey_runs.c.version < version, journey_runs.c.status.in_(ACTIVE)
    )
    nodes = [n for (n,) in fetch_tuples(connection, select(journey_runs.c.node).where(older).distinct())]
    # Runs not started yet (no node) simply start on the new version.
    unmapped = sorted(str(n) for n in nodes if n is not None and n not in node_map)
    if unmapped:
        raise ValidationError(f"node map: runs wait at {unmapped[0]!r}, which the map does not move")
    started = connection.execute(
        update(journey_runs)
        .where(older, journey_runs.c.node.is_(None))
        .values(version=version, updated_at=now)
    )
    moved = int(started.rowcount or 0)
    for old, new in node_map.items():
        result = connection.execute(
            update(journey_runs)
            .where(older, journey_runs.c.node == old)
            .values(version=version, node=new, status="ready", wake_at=now, wait_event=None, updated_at=now)
        )
        moved += int(result.rowcount or 0)
    return moved


def goal_counts(
    connection: Connection, journey: str, customers: Table | None = None
) -> dict[bool, tuple[int, int]]:
    """Per hold-out flag: (runs, runs that reached the goal), of `customers` only if given."""
    mine = within(journey_runs.c.customer_no, customers)
    runs: dict[Any, int] = dict(
        connection.execute(
            select(journey_runs.c.holdout, func.count())
            .where(journey_runs.c.journey == journey, mine)
            .group_by(journey_runs.c.holdout)
        ).all()
    )
    goals: dict[Any, int] = dict(
        connection.execute(
            select(journey_runs.c.holdout, func.count(func.distinct(journey_steps.c.run_id)))
            .join(journey_runs, journey_runs.c.id == journey_steps.c.run_id)
            .where(journey_steps.c.journey == journey, journey_steps.c.outcome == "goal", mine)
            .group_by(journey_runs.c.holdout)
        ).all()
    )
    return {bool(flag): (int(runs.get(flag, 0)), int(goals.get(flag, 0))) for flag in (False, True)}


def get_run(connection: Connection, run_id: str) -> Run | None:
    """One run, or None."""
    row = connection.execute(select(journey_runs).where(journey_runs.c.id == run_id)).mappings().first()
    return run_of(row) if row is not None else None


def next_wake(connection: Connection) -> datetime | None:
    """The earliest wake-at of any active run (a simulation's clock jumps there)."""
    moment = connection.execute(
        select(func.min(journey_runs.c.wake_at)).where(journey_runs.c.status.in_(ACTIVE))
    ).scalar_one_or_none()
    return None if moment is None else as_utc(moment)


def sample_runs(connection: Connection, journey: str, limit: int) -> list[Run]:
    """A few runs of a journey (a simulation's sample of paths)."""
    query = (
        select(journey_runs).where(journey_runs.c.journey == journey).order_by(journey_runs.c.id).limit(limit)
    )
    return [run_of(row) for row in connection.execute(query).mappings()]


def messages_of(connection: Connection, run_id: str) -> list[dict[str, Any]]:
    """What the log channel recorded for a run: node and content, in order."""
    query = (
        select(journey_outbox.c.node, channel_log.c.content, channel_log.c.at)
        .join(channel_log, channel_log.c.outbox_id == journey_outbox.c.id)
        .where(journey_outbox.c.run_id == run_id)
        .order_by(channel_log.c.at)
    )
    return [{"node": node, "content": content} for node, content, _ in connection.execute(query)]


def inbox_of(connection: Connection, customers: list[str], event: str) -> dict[str, list[dict[str, Any]]]:
    """Kept events of one name for many customers (a batch), by customer."""
    found: dict[str, list[dict[str, Any]]] = {}
    wanted = sorted(set(customers))
    for start in range(0, len(wanted), 500):
        query = select(journey_inbox.c.customer_no, journey_inbox.c.time, journey_inbox.c.properties).where(
            journey_inbox.c.event == event, journey_inbox.c.customer_no.in_(wanted[start : start + 500])
        )
        for customer, at, props in connection.execute(query):
            found.setdefault(customer, []).append({"time": as_utc(at), "properties": props})
    return found


def log_messages(connection: Connection, rows: list[dict[str, Any]], now: datetime) -> int:
    """The log channel's send for many effects at once: a row per outbox id not logged before; the effects
    marked sent with their attempts recorded. Returns how many were newly logged."""
    if not rows:
        return 0
    ids = [r["id"] for r in rows]
    logged = {
        outbox_id
        for start in range(0, len(ids), 500)
        for (outbox_id,) in connection.execute(
            select(channel_log.c.outbox_id).where(channel_log.c.outbox_id.in_(ids[start : start + 500]))
        )
    }
    fresh = [r for r in rows if r["id"] not in logged]
    insert_rows(
        connection,
        channel_log,
        [
            {
                "outbox_id": r["id"],
                "channel": "log",
                "customer_no": r["customer_no"],
                "content": r["payload"]["content"],
                "at": now,
            }
            for r in fresh
        ],
    )
    insert_rows(
        connection,
        journey_attempts,
        [
            {
                "outbox_id": r["id"],
                "attempt": int(r["attempts"]) + 1,
                "ok": True,
                "detail": "already logged" if r["id"] in logged else "logged",
                "at": now,
            }
            for r in rows
        ],
    )
    sent = {"status": "sent", "done_at": now, "claimed_by": None, "lease_until": None}
    update_rows(
        connection,
        journey_outbox,
        ("id", "customer_no"),  # partitioned by customer on PostgreSQL
        [
            {"id": r["id"], "customer_no": r["customer_no"], "attempts": int(r["attempts"]) + 1} | sent
            for r in rows
        ],
    )
    return len(fresh)
