"""Journey use cases: save (versioned, validated), publish, pause, resume, stop, archive; read a version back.

Lifecycle: draft → live (published) → paused → live … → stopped → archived. Publishing freezes the newest
saved version; saving again while live makes the next version, which runs only once published. Runs keep the
version they entered on unless the editor moves them (mapping old nodes to new) or ends them on publishing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast, get_args

from cronsim import CronSim
from pydantic import ValidationError as PydanticError

from touchpoint.core.errors import ConflictError, NotFoundError, ValidationError
from touchpoint.governance import Principal, approvals, record_operation
from touchpoint.governance.masking import mask_customer_no
from touchpoint.governance.registry import DefinitionKind, body_diff, write_definition
from touchpoint.identity.scopes import ensure_visible, scope_numbers, visible_numbers
from touchpoint.journeys import reads, repo
from touchpoint.journeys.checks import JourneyEnv, not_ready, validate
from touchpoint.journeys.engine import ACTIVE
from touchpoint.journeys.model import (
    JourneyDef,
    RunStatus,
    SegmentEntry,
)
from touchpoint.segments.model import segment_references
from touchpoint.store.operational import definitions as store
from touchpoint.store.operational.scratch import maybe_customer_set

KIND = "journey"
InFlight = Literal["keep", "move", "end"]


def parse_journey(body: Any) -> JourneyDef:
    """A journey from JSON or YAML data, faults named by place."""
    try:
        return JourneyDef.model_validate(body)
    except PydanticError as exc:
        faults = [
            f"{'.'.join(str(p) for p in e['loc'][:4])}: {e['msg']}".removeprefix("Value error, ")
            for e in exc.errors()[:8]
        ]
        raise ValidationError("journey: " + "; ".join(faults)) from None


def save_journey(*, env: JourneyEnv, principal: Principal, journey: JourneyDef) -> int:
    """Validate and store a new version (a draft until published); returns the version."""
    validate(env=env, journey=journey)
    with env.ops.begin() as connection:
        return write_journey(connection, env=env, principal=principal, journey=journey)


def write_journey(connection: Any, *, env: JourneyEnv, principal: Principal, journey: JourneyDef) -> int:
    """Store a validated journey version in the caller's transaction (a new journey starts as a draft)."""
    body = journey.model_dump(mode="json", by_alias=True, exclude_defaults=False)
    version = write_definition(
        connection, clock=env.clock, principal=principal, kind=KIND, name=journey.name, body=body
    )
    if repo.state(connection, journey.name) is None:
        repo.set_state(connection, journey.name, env.clock.now(), status="draft")
    return version


def journey_kind(env: JourneyEnv) -> DefinitionKind:
    """Journeys as a kind of the definitions registry (versions only: publication is its own step)."""

    def parse(name: str, body: Any) -> JourneyDef:
        return parse_journey({**body, "name": name} if isinstance(body, dict) else body)

    def delete(principal: Principal, name: str) -> None:
        raise ValidationError(
            f"journey {name!r} is archived, not deleted (its runs name it): touchpoint journey archive {name}"
        )

    return DefinitionKind(
        name=KIND,
        parse=parse,
        dump=lambda j: cast(JourneyDef, j).model_dump(mode="json", by_alias=True, exclude_defaults=False),
        check=lambda j, bundle: validate(env=env, journey=cast(JourneyDef, j), bundle=bundle),
        write=lambda c, p, j: write_journey(c, env=env, principal=p, journey=cast(JourneyDef, j)),
        delete=delete,
        read="journey:read",
    )


def segments_in_use(*, env: JourneyEnv) -> set[str]:
    """The saved segments the live version of a live or paused journey names (entry, exits, splits)."""
    used: set[str] = set()
    with env.ops.begin() as connection:
        for name, st in repo.all_states(connection).items():
            if st.get("status") not in ("live", "paused") or st.get("version") is None:
                continue
            for saved in store.history(connection, KIND, name):
                if saved["version"] == st["version"] and saved["body"] is not None:
                    used |= segment_references(saved["body"])
    return used


def list_journeys(*, env: JourneyEnv) -> list[dict[str, Any]]:
    """Every journey with its status, live version and newest saved version."""
    with env.ops.begin() as connection:
        bodies = store.current(connection, KIND)
        states = repo.all_states(connection)
        rows = []
        for name in sorted(bodies):
            saved = len(store.history(connection, KIND, name))
            st = states.get(name, {})
            rows.append(
                {
                    "name": name,
                    "title": bodies[name].get("title", name),
                    "status": st.get("status", "draft"),
                    "live_version": st.get("version"),
                    "latest_version": saved,
                }
            )
    return rows


def get_journey(*, env: JourneyEnv, name: str, version: int | None = None) -> JourneyDef:
    """A journey as saved: the newest version, or the given one."""
    with env.ops.begin() as connection:
        versions = store.history(connection, KIND, name)
    if not versions or versions[-1]["body"] is None:
        raise NotFoundError(f"no journey named {name!r}")
    if version is None:
        return JourneyDef.model_validate(versions[-1]["body"])
    chosen = [v for v in versions if v["version"] == version]
    if not chosen or chosen[0]["body"] is None:
        raise NotFoundError(f"journey {name!r} has no version {version}")
    return JourneyDef.model_validate(chosen[0]["body"])


def status(*, env: JourneyEnv, name: str) -> dict[str, Any]:
    """The lifecycle row of a journey."""
    with env.ops.begin() as connection:
        found = repo.state(connection, name)
    if found is None:
        raise NotFoundError(f"no journey named {name!r}")
    return found


def publish(
    *,
    env: JourneyEnv,
    principal: Principal,
    name: str,
    in_flight: InFlight = "keep",
    node_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Make the newest saved version live. Runs on an older version stay on it (`keep`), move to the new
    version at the mapped node (`move`, every current node mapped), or end (`end`). Held as a request when
    `journey.publish` needs approval."""
    journey, version = _publishable(env, name, None)
    if approvals.required(env.ops, "journey.publish"):
        held = approvals.request(
            env.ops,
            clock=env.clock,
            principal=principal,
            name="journey.publish",
            target=f"journey/{name}",
            summary=f"publish journey {name} version {version} (in-flight runs: {in_flight})",
            payload={"name": name, "version": version, "in_flight": in_flight, "node_map": node_map or {}},
            diff=_publication_diff(env, name, journey),
        )
        live = status(env=env, name=name).get("version")
        return {
            "name": name,
            "status": "pending",
            "version": live or 0,
            "runs_changed": 0,
            "pending_approval": held.model_dump(mode="json"),
        }
    with env.ops.begin() as connection:
        return _publish_in(connection, env, principal, name, version, in_flight, node_map or {})


def _publishable(env: JourneyEnv, name: str, version: int | None) -> tuple[JourneyDef, int]:
    """The newest version, checked for publication (a `version` that is no longer the newest is stale)."""
    with env.ops.begin() as connection:
        newest = len(store.history(connection, KIND, name))
    if version is not None and version != newest:
        raise ConflictError(
            f"journey {name} has version {newest} saved since version {version} was submitted; publish again"
        )
    journey = get_journey(env=env, name=name)
    validate(env=env, journey=journey)
    unready = not_ready(env, journey)
    if unready:
        raise ValidationError(f"journey {name} cannot be published: " + "; ".join(unready))
    return journey, newest


def _publication_diff(env: JourneyEnv, name: str, journey: JourneyDef) -> str:
    live = status(env=env, name=name).get("version")
    before = (
        get_journey(env=env, name=name, version=live).model_dump(mode="json", by_alias=True) if live else None
    )
    return body_diff(KIND, name, before, journey.model_dump(mode="json", by_alias=True))


def publication_handler(env: JourneyEnv) -> approvals.Handler:
    """Approving `journey.publish`: check the requested version again (still the newest, still ready),
    then make it live as its maker asked."""

    def prepare(payload: Any, maker: Principal) -> approvals.Writer:
        name, version = str(payload["name"]), int(payload["version"])
        _publishable(env, name, version)
        in_flight, node_map = payload.get("in_flight", "keep"), dict(payload.get("node_map") or {})
        return lambda connection: _publish_in(connection, env, maker, name, version, in_flight, node_map)

    return prepare


def _publish_in(
    connection: Any,
    env: JourneyEnv,
    principal: Principal,
    name: str,
    version: int,
    in_flight: InFlight,
    node_map: dict[str, str],
) -> dict[str, Any]:
    now = env.clock.now()
    before = repo.state(connection, name) or {}
    if before.get("status") in ("stopped", "archived"):
        raise ValidationError(f"journey {name} is {before['status']}; save it under a new name to run again")
    if len(store.history(connection, KIND, name)) != version:
        raise ConflictError(f"journey {name} changed while it was being published; publish again")
    journey = JourneyDef.model_validate(
        next(v["body"] for v in store.history(connection, KIND, name) if v["version"] == version)
    )
    moved = _in_flight(connection, name, version, journey, in_flight, node_map, now)
    repo.set_state(connection, name, now, status="live", version=version, published_at=now)
    record_operation(
        connection,
        clock=env.clock,
        principal=principal,
        action="journey.publish",
        target_type=KIND,
        target_id=name,
        before={"status": before.get("status"), "version": before.get("version")},
        after={"status": "live", "version": version, "in_flight": in_flight, "runs": moved},
    )
    return {"name": name, "status": "live", "version": version, "runs_changed": moved}


def _in_flight(
    connection: Any,
    name: str,
    version: int,
    journey: JourneyDef,
    how: InFlight,
    node_map: dict[str, str],
    now: Any,
) -> int:
    older = repo.RUNS.c.journey == name
    if how == "keep":
        return 0
    if how == "end":
        return repo.end_runs(
            connection, older & (repo.RUNS.c.version < version), "stopped", "version ended", now
        )
    known = {node.id for node in journey.nodes}
    unknown = sorted(set(node_map.values()) - known)
    if unknown:
        raise ValidationError(f"node map: version {version} has no node {unknown[0]!r}")
    return repo.move_runs(connection, name, version, node_map, now)


def set_status(*, env: JourneyEnv, principal: Principal, name: str, to: str) -> dict[str, Any]:
    """Pause (hold runs where they are), resume, stop (end every run) or archive a journey."""
    allowed = {
        "paused": ("live",),
        "live": ("paused",),
        "stopped": ("live", "paused", "draft"),
        "archived": ("stopped", "draft"),
    }
    now = env.clock.now()
    with env.ops.begin() as connection:
        current = repo.state(connection, name)
        if current is None:
            raise NotFoundError(f"no journey named {name!r}")
        if current["status"] not in allowed[to]:
            raise ValidationError(f"journey {name} is {current['status']}; it cannot become {to}")
        ended = 0
        if to == "stopped":
            ended = repo.end_runs(connection, repo.RUNS.c.journey == name, "stopped", "journey stopped", now)
        repo.set_state(connection, name, now, status=to)
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action=f"journey.{to}",
            target_type=KIND,
            target_id=name,
            before={"status": current["status"]},
            after={"status": to, "runs_ended": ended},
        )
    return {"name": name, "status": to, "runs_ended": ended}


ENDED_AT_NODE = ("converted", "stopped", "failed")  # ends that record no step leaving the node


def statistics(
    *, env: JourneyEnv, name: str, journey: JourneyDef | None = None, principal: Principal | None = None
) -> dict[str, Any]:
    """Per node: runs that left it (by the edge they took), that ended there (converted by the goal, stopped,
    failed) and that wait there now, so that `entered` = the sum of `outcomes` + `waiting`; effects by
    status; goal conversion of treated runs and of the hold-out group. For the journey: runs `entered` =
    the sum of `runs` by status (active ones included). A principal limited to branches counts only the runs
    of their customers."""
    journey = journey or get_journey(env=env, name=name)
    numbers = _scope_numbers(env, principal)
    with env.ops.begin() as connection, maybe_customer_set(connection, numbers) as customers:
        counts = repo.node_counts(connection, name, customers)
        goals = repo.goal_counts(connection, name, customers)
        ended = reads.ended_counts(connection, name, customers)
    nodes: dict[str, dict[str, Any]] = {n.id: _node_item(n.id, n.type) for n in journey.nodes}
    for node, outcome, count in counts["outcomes"]:
        if outcome == "goal":
            continue  # a goal step marks a conversion; the run's end (if any) is counted by its status below
        item = nodes.setdefault(node, _node_item(node, "?"))
        item["passed"] += count
        item["outcomes"][outcome] = count
    for node, run_status, count in ended:
        if node is not None and run_status in ENDED_AT_NODE:
            item = nodes.setdefault(node, _node_item(node, "?"))
            item["ended"] += count
            item["outcomes"][run_status] = item["outcomes"].get(run_status, 0) + count
    for node, count in counts["waiting"]:
        if node in nodes:
            nodes[node]["waiting"] = count
    for node, effect_status, count in counts["effects"]:
        if node in nodes:
            nodes[node]["actions"][effect_status] = count
    for node, error, count in counts["failures"]:
        if node in nodes:
            nodes[node].setdefault("failure_reasons", {})[str(error)[:120]] = count
    for node, reason, count in counts["cancelled"]:
        if node in nodes:
            nodes[node].setdefault("skip_reasons", {})[str(reason)[:120]] = count
    for item in nodes.values():
        item["entered"] = item["passed"] + item["ended"] + item["waiting"]
        if item["type"] == "action":
            actions = item["actions"]
            actions["attempted"] = sum(n for status, n in actions.items() if status != "skipped")
            held = item["outcomes"].get("skipped", 0)
            if held:
                actions["skipped"] = actions.get("skipped", 0) + held
                item.setdefault("skip_reasons", {})["hold-out"] = held
    treated, holdout = goals[False], goals[True]
    runs = {f"{status}{' (hold-out)' if held else ''}": n for status, held, n in counts["runs"]}
    return {
        "name": name,
        "entered": sum(runs.values()),
        "runs": runs,
        "nodes": list(nodes.values()),
        "goal": {
            "treated": {"runs": treated[0], "converted": treated[1], "rate": _rate(treated)},
            "holdout": {"runs": holdout[0], "converted": holdout[1], "rate": _rate(holdout)},
        },
    }


def _scope_numbers(env: JourneyEnv, principal: Principal | None) -> list[str] | None:
    """The customer numbers a scoped principal may see (None: everyone), read before any transaction."""
    if principal is None or principal.scope is None:
        return None
    return scope_numbers(env, principal.scope)


def _node_item(node: str, kind: str) -> dict[str, Any]:
    return {
        "node": node,
        "type": kind,
        "entered": 0,
        "passed": 0,
        "ended": 0,
        "waiting": 0,
        "outcomes": {},
        "actions": {},
    }


def next_instant(*, env: JourneyEnv, after: datetime) -> datetime | None:
    """The next instant after `after` at which the journey runtime has something to do: a run wakes (a wait
    ends, a time-out), or an effect falls due (a send delayed by quiet hours or a rate limit, a retry). A
    virtual clock (simulations, `touchpoint worker --clock virtual`) jumps there; None when nothing is
    scheduled."""
    with env.ops.begin() as connection:
        found = [
            reads.next_wake_after(connection, after),
            reads.next_effect_due(connection, after),
            _next_scheduled_entry(connection, env, after),
        ]
    return min((moment for moment in found if moment is not None), default=None)


def _next_scheduled_entry(connection: Any, env: JourneyEnv, after: datetime) -> datetime | None:
    """The next cron time (Beijing) after `after` of a live journey whose segment entry recurs."""
    tz = env.calendar.tz
    upcoming = []
    for name, st in repo.all_states(connection).items():
        if st["status"] != "live" or st.get("version") is None:
            continue
        saved = [v for v in store.history(connection, KIND, name) if v["version"] == st["version"]]
        if not saved or saved[0]["body"] is None:
            continue
        entry = JourneyDef.model_validate(saved[0]["body"]).entry
        if isinstance(entry, SegmentEntry) and entry.schedule is not None:
            upcoming.append(next(CronSim(entry.schedule, after.astimezone(tz))).astimezone(UTC))
    return min(upcoming, default=None)


def _rate(pair: tuple[int, int]) -> float | None:
    return round(pair[1] / pair[0], 4) if pair[0] else None


def customer_runs(*, env: JourneyEnv, principal: Principal, customer_no: str) -> list[dict[str, Any]]:
    """Every run of a customer with where it is, why (its last steps), what it waits for, and its effects
    (sent, skipped with the channel policy's reason, delayed, failed)."""
    ensure_visible(env, principal, customer_no)
    with env.ops.begin() as connection:
        return [_run_view(connection, run) for run in repo.runs_of_customer(connection, customer_no)]


def run_path(*, env: JourneyEnv, principal: Principal, run_id: str) -> dict[str, Any]:
    """One run's path through its journey, as `customer_runs` shows each (a run of a customer outside the
    caller's scope is as unknown as one that never was)."""
    with env.ops.begin() as connection:
        run = repo.get_run(connection, run_id)
    if run is None or not visible_numbers(env, principal, [run.customer_no]):
        raise NotFoundError(f"no run {run_id!r}")
    with env.ops.begin() as connection:
        return _run_view(connection, run)


def _run_view(connection: Any, run: Any) -> dict[str, Any]:
    return {
        "run": run.id,
        "journey": run.journey,
        "version": run.version,
        "status": run.status,
        "node": run.node,
        "wake_at": run.wake_at.isoformat() if run.wake_at else None,
        "waiting_for": run.wait_event,
        "holdout": run.holdout,
        "entered_at": run.entered_at.isoformat(),
        "end_reason": run.end_reason,
        "last_error": run.context.get("last_error"),
        "steps": [
            {"node": s.node, "outcome": s.outcome, "detail": s.detail, "at": s.at.isoformat()}
            for s in repo.steps_of(connection, run.id)
        ],
        "effects": repo.effects_of(connection, run.id),
    }


RUNS_PAGE_MAX = 1_000
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)


def list_runs(
    *,
    env: JourneyEnv,
    name: str,
    node: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
    principal: Principal | None = None,
) -> dict[str, Any]:
    """A page of a journey's runs (oldest id first), optionally only those at `node` or with `status`
    (`active`: any not ended), of the principal's customers when they are limited to branches. Customer
    numbers are masked; `next_cursor` fetches the next page (None on the last one)."""
    if status is not None and status not in RUN_STATUSES:
        raise ValidationError(f"unknown run status {status!r}: choose {', '.join(RUN_STATUSES)}")
    if not 1 <= limit <= RUNS_PAGE_MAX:
        raise ValidationError(f"limit must be between 1 and {RUNS_PAGE_MAX}")
    numbers = _scope_numbers(env, principal)
    with env.ops.begin() as connection, maybe_customer_set(connection, numbers) as customers:
        if repo.state(connection, name) is None:
            raise NotFoundError(f"no journey named {name!r}")
        runs = reads.list_runs(
            connection, name, node=node, status=status, after_id=cursor, limit=limit + 1, customers=customers
        )
    page = runs[:limit]
    return {
        "journey": name,
        "runs": [_run_row(run) for run in page],
        "next_cursor": page[-1].id if len(runs) > limit else None,
    }


def _run_row(run: Any) -> dict[str, Any]:
    return {
        "run": run.id,
        "journey": run.journey,
        "version": run.version,
        "customer_no": mask_customer_no(run.customer_no),
        "status": run.status,
        "node": run.node,
        "waiting_for": run.wait_event,
        "wake_at": repo.as_utc(run.wake_at).isoformat() if run.wake_at else None,
        "entered_at": repo.as_utc(run.entered_at).isoformat(),
        "holdout": run.holdout,
        "end_reason": run.end_reason,
        "errors": int(run.context.get("errors", 0)),
    }


def stuck(
    *, env: JourneyEnv, grace_minutes: int = 10, principal: Principal | None = None
) -> list[dict[str, Any]]:
    """Active runs of live journeys whose wake-at passed more than `grace_minutes` ago (of the caller's
    customers only, for a user limited to branches)."""
    numbers = _scope_numbers(env, principal)
    visible = None if numbers is None else set(numbers)
    now = env.clock.now()
    with env.ops.begin() as connection:
        live = {n for n, s in repo.all_states(connection).items() if s["status"] == "live"}
        runs = repo.stuck_runs(connection, now - timedelta(minutes=grace_minutes))
    return [
        {
            "run": r.id,
            "journey": r.journey,
            "customer_no": mask_customer_no(r.customer_no),  # a run list: acted on by run id
            "node": r.node,
            "wake_at": r.wake_at.isoformat() if r.wake_at else None,
            "errors": r.context.get("errors", 0),
        }
        for r in runs
        if r.journey in live and (visible is None or r.customer_no in visible)
    ]


def resume_run(*, env: JourneyEnv, principal: Principal, run_id: str) -> dict[str, Any]:
    """Make a stuck or backed-off run due now (its error count cleared)."""
    return _change_run(env, principal, run_id, "resume")


def stop_run(*, env: JourneyEnv, principal: Principal, run_id: str) -> dict[str, Any]:
    """End one run (it sends nothing more)."""
    return _change_run(env, principal, run_id, "stop")


def _change_run(env: JourneyEnv, principal: Principal, run_id: str, how: str) -> dict[str, Any]:
    now = env.clock.now()
    with env.ops.begin() as connection:
        run = repo.get_run(connection, run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id!r}")
        if run.status not in ACTIVE:
            raise ValidationError(f"run {run_id} already ended ({run.status})")
        if how == "stop":
            run.status, run.end_reason, run.wake_at, run.wait_event = (
                "stopped",
                "stopped by operator",
                None,
                None,
            )
            repo.cancel_pending(connection, repo.OUTBOX.c.run_id == run_id, "run stopped by operator", now)
        else:
            run.wake_at = now
            run.context.pop("errors", None)
        repo.save_run(connection, run, now)
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action=f"journey.run_{how}",
            target_type="journey_run",
            target_id=run_id,
            after={"status": run.status},
        )
    return {"run": run_id, "status": run.status, "wake_at": run.wake_at.isoformat() if run.wake_at else None}
