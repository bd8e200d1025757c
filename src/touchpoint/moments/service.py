"""The MOT use cases: rules as registry definitions, their evaluation (condition and calendar rules at their
times and after each import; event rules by the event-log consumer), and each firing recorded once with its
derived event `mot_<rule>` and, for advisor-owned rules, its task — all in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from importlib import resources
from typing import Any, cast

import yaml
from pydantic import ValidationError as PydanticError
from sqlalchemy import Connection

from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.templates import TemplateRenderError, parse_fault, render_text
from touchpoint.core.durations import shift
from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.core.events import LogRecord
from touchpoint.core.ids import new_id
from touchpoint.governance import Principal
from touchpoint.governance.registry import (
    Bundle,
    DefinitionKind,
    Registry,
    remove_definition,
    write_definition,
)
from touchpoint.identity.service import CONSUMER as IDENTITY
from touchpoint.identity.service import attributed
from touchpoint.ingest.derived import derived_event
from touchpoint.moments import repo
from touchpoint.moments.catalogue import DETECTORS
from touchpoint.moments.data import DayData, EventFacts
from touchpoint.moments.firing import Firing, Slot
from touchpoint.moments.model import MotRule
from touchpoint.moments.rules_event import EventSeen
from touchpoint.segments.bitmap import evaluate
from touchpoint.segments.service import check as check_segment_rule
from touchpoint.segments.service import context_at, read_rule
from touchpoint.store.operational import definitions as store
from touchpoint.store.operational import derived
from touchpoint.store.operational.consumers import consume_isolated
from touchpoint.store.operational.offsets import lock_offset
from touchpoint.tasks.model import MOT_RULE_KIND, Assignment, TaskDraft
from touchpoint.tasks.service import assignments, create_tasks

KIND = MOT_RULE_KIND
CONSUMER = "moments"


# Definitions -----------------------------------------------------------------------------------------------


def parse_rule(name: str, body: Any) -> MotRule:
    """A rule from its stored or submitted body (its name from the path), or ValidationError naming faults."""
    if not isinstance(body, dict):
        raise ValidationError(f"mot rule {name}: a rule is a mapping of fields")
    try:
        return MotRule.model_validate({**body, "name": name})
    except PydanticError as exc:
        faults = [
            f"{'.'.join(str(p) for p in e['loc'][:3]) or 'rule'}: {e['msg']}".removeprefix("Value error, ")
            for e in exc.errors()[:8]
        ]
        raise ValidationError(f"mot rule {name}: " + "; ".join(faults)) from None


def check_rule(env: ChannelEnv, rule: MotRule, bundle: Bundle | None = None) -> None:
    """Refuse what parsing alone cannot see: a segment condition naming unknown tags or events (those of the
    same bundle count as saved), talking points or a title that do not parse as templates."""
    params = rule.parsed_params()
    if rule.detector == "segment":
        check_segment_rule(env=env, rule=read_rule(params.rule), bundle=bundle)
    if rule.task is not None:
        for place, text in (
            ("task.title", rule.task.title),
            ("task.talking_points", rule.task.talking_points),
        ):
            fault = parse_fault(text)
            if fault:
                raise ValidationError(f"mot rule {rule.name}: {place} {fault}")


def write_rule(connection: Connection, *, env: ChannelEnv, principal: Principal, rule: MotRule) -> int:
    """Store a new version of a rule in the caller's transaction."""
    body = rule.model_dump(mode="json", exclude={"name"})
    return write_definition(
        connection, clock=env.clock, principal=principal, kind=KIND, name=rule.name, body=body
    )


def rule_kind(env: ChannelEnv) -> DefinitionKind:
    """MOT rules as a kind of the definitions registry."""

    def delete(principal: Principal, name: str) -> None:
        with env.ops.begin() as connection:
            remove_definition(connection, clock=env.clock, principal=principal, kind=KIND, name=name)

    return DefinitionKind(
        name=KIND,
        parse=parse_rule,
        dump=lambda r: cast(MotRule, r).model_dump(mode="json", exclude={"name"}),
        check=lambda r, bundle: check_rule(env, cast(MotRule, r), bundle),
        write=lambda c, p, r: write_rule(c, env=env, principal=p, rule=cast(MotRule, r)),
        delete=delete,
        read="moment:read",
    )


def list_rules(*, env: ChannelEnv) -> dict[str, MotRule]:
    """Every rule, by name."""
    with env.ops.begin() as connection:
        bodies = store.current(connection, KIND)
    return {name: parse_rule(name, body) for name, body in sorted(bodies.items())}


def get_rule(*, env: ChannelEnv, name: str) -> MotRule:
    """One rule (NotFoundError when there is none)."""
    rules = list_rules(env=env)
    if name not in rules:
        raise NotFoundError(f"no mot rule {name!r}")
    return rules[name]


def default_rules() -> str:
    """The MOT rule library that ships with Touchpoint, as YAML text."""
    return resources.files("touchpoint.moments").joinpath("library/default.yaml").read_text(encoding="utf-8")


def install_library(*, registry: Registry, principal: Principal, text: str | None = None) -> Any:
    """Apply the shipped library (or another in its format) through the registry, in one transaction."""
    loaded = yaml.safe_load(text or default_rules()) or {}
    rules = loaded.get("rules") if isinstance(loaded, dict) else None
    if not isinstance(rules, list):
        raise ValidationError("a MOT library is a mapping with a list `rules`")
    bundle = {KIND: {str(r.get("name")): {k: v for k, v in r.items() if k != "name"} for r in rules}}
    done = registry.apply(principal, bundle)
    return done.model_copy(update={"items": [i for i in done.items if i.action != "absent"]})


# Evaluation of condition and calendar rules ----------------------------------------------------------------


def due_slots(rule: MotRule, env: ChannelEnv, now: datetime) -> list[Slot]:
    """Today's slots of the rule that have come (none on a closed day for a trading-day rule)."""
    detector = DETECTORS[rule.detector]
    day = env.calendar.business_date(now)
    if detector.kind == "event" or (detector.trading_days_only and not env.calendar.is_trading_day(day)):
        return []
    slots = []
    for clock in rule.times():
        hour, minute = (int(p) for p in clock.split(":"))
        if env.calendar.to_utc(day, time(hour, minute)) <= now:
            slots.append(Slot(day, clock, now))
    return slots


def day_data(env: ChannelEnv, day: date, at: datetime) -> DayData:
    """The day's data for detectors, with segment rules evaluated as of `at`."""

    def members(rule: dict[str, Any]) -> list[str]:
        context = context_at(env=env, at=at)
        return context.customer_numbers(evaluate(read_rule(rule), context))

    return DayData(env.analytics, env.calendar, day, members)


def detect(env: ChannelEnv, rule: MotRule, slot: Slot) -> list[Firing]:
    """What a condition or calendar rule finds at one slot (nothing is recorded)."""
    detector = DETECTORS[rule.detector]
    return detector.detect(day_data(env, slot.day, slot.now), slot, rule.parsed_params())


def evaluate_due(*, env: ChannelEnv, only: Sequence[str] | None = None) -> dict[str, Any]:
    """Evaluate every enabled condition and calendar rule whose slot has come and was not evaluated — or was,
    before the data last changed (an import or a computation since). Each rule stands alone: one that fails
    is recorded with its error and retried at the next data change; the others go on."""
    now = env.clock.now()
    with env.ops.begin() as connection:
        watermark = repo.data_watermark(connection)
    fired: dict[str, int] = {}
    errors: dict[str, str] = {}
    evaluated: list[str] = []
    for rule in list_rules(env=env).values():
        if not rule.enabled or (only is not None and rule.name not in only):
            continue
        for slot in due_slots(rule, env, now):
            key = f"{slot.day.isoformat()}T{slot.time}"
            with env.ops.begin() as connection:
                seen = repo.evaluation(connection, rule.name, key)
            if seen is not None and (watermark is None or (seen["imports_seen"] or now) >= watermark):
                continue
            evaluated.append(f"{rule.name}@{key}")
            try:
                found = detect(env, rule, slot)
                count = record(env=env, rule=rule, firings=found, fired_at=now)
                error = None
            except (
                Exception
            ) as exc:  # one rule's fault (a table not imported, a bad threshold) stops no other
                count, error = 0, f"{type(exc).__name__}: {exc}"[:1000]
                errors[rule.name] = error
            fired[rule.name] = fired.get(rule.name, 0) + count
            row = {"rule": rule.name, "slot": key, "evaluated_at": now, "imports_seen": watermark or now}
            with env.ops.begin() as connection:
                repo.save_evaluation(connection, row | {"fired": count, "error": error})
    return {"evaluated": evaluated, "fired": fired, "errors": errors}


# Event rules -----------------------------------------------------------------------------------------------


def event_rules(env: ChannelEnv) -> list[MotRule]:
    """The enabled rules that fire on an event."""
    return [r for r in list_rules(env=env).values() if r.enabled and DETECTORS[r.detector].kind == "event"]


def rule_events(rules: Sequence[MotRule]) -> set[str]:
    """The event names these event rules read."""
    return {e for r in rules for e in DETECTORS[r.detector].events(r.parsed_params())}


def route_events(*, env: ChannelEnv, limit: int = 2_000) -> int:
    """The event-log consumer: the event rules' events, each batch's firings recorded with the offset; a
    record that cannot be processed becomes a dead letter. Returns the records consumed."""
    rules = event_rules(env)
    wanted = rule_events(rules)

    def apply(connection: Connection, records: Sequence[LogRecord]) -> None:
        events = [r.payload for r in records if r.payload.get("event") in wanted]
        if events:
            seen = [seen_event(event, customer) for event, customer in attributed(connection, events)]
            record_events(connection, env, rules, seen)

    consumed = consume_isolated(
        ops=env.ops,
        consumer=CONSUMER,
        position=lambda connection: lock_offset(connection, CONSUMER, env.clock.now()),
        read=lambda after: env.log.read_after(after, limit),
        apply=apply,
        now=env.clock.now,
        behind=IDENTITY,  # who an event is comes from One ID: an event it has not linked yet waits
    )
    return consumed.records + consumed.retried


def record_events(
    connection: Connection, env: ChannelEnv, rules: Sequence[MotRule], seen: Sequence[EventSeen]
) -> None:
    """Run the event rules over events already attributed to customers, recording what fires in the
    caller's transaction (the consumer's, or a replay of history)."""
    for rule in rules:
        names = DETECTORS[rule.detector].events(rule.parsed_params())
        mine = [e for e in seen if e.name in names]
        if mine:
            _record_events(connection, env, rule, mine)


def seen_event(event: dict[str, Any], customer: str) -> EventSeen:
    """A normalised log event (times in epoch ms) as an event detector reads it."""
    at = datetime.fromtimestamp(int(event["time"]) / 1000, tz=UTC)
    properties = event.get("properties") or {}
    return EventSeen(str(event["event_id"]), str(event["event"]), customer, at, dict(properties))


def _record_events(connection: Connection, env: ChannelEnv, rule: MotRule, events: list[EventSeen]) -> None:
    detector = DETECTORS[rule.detector]
    day = env.calendar.business_date(env.clock.now())
    found = detector.detect(
        events, EventFacts(DayData(env.analytics, env.calendar, day)), rule.parsed_params()
    )
    for firing in found:  # each at its own event's time (a customer may have several in a batch)
        _record_in(connection, env, rule, [firing], firing.at or env.clock.now())


# Recording -------------------------------------------------------------------------------------------------


def record(*, env: ChannelEnv, rule: MotRule, firings: list[Firing], fired_at: datetime) -> int:
    """Record firings once each (a firing seen before adds nothing), with their derived events and tasks, in
    one transaction. Returns how many were new."""
    if not firings:
        return 0
    with env.ops.begin() as connection:
        return _record_in(connection, env, rule, firings, fired_at)


def _record_in(
    connection: Connection, env: ChannelEnv, rule: MotRule, firings: list[Firing], fired_at: datetime
) -> int:
    assigned = assignments(env, [f.customer_no for f in firings]) if rule.owner == "advisor" else {}
    new = 0
    drafts: list[tuple[str, TaskDraft]] = []
    for firing in firings:
        firing_id = new_id("mot")
        due_at = _due(rule, firing, fired_at, env)
        row = {
            "id": firing_id,
            "rule": rule.name,
            "customer_no": firing.customer_no,
            "occurrence": firing.occurrence[:128],
            "classification": rule.classification,
            "facts": firing.facts,
            "fired_at": fired_at,
            "due_at": due_at,
        }
        if not repo.insert_firing(connection, row):
            continue
        new += 1
        properties = {
            **firing.facts,
            "mot_rule": rule.name,
            "occurrence": firing.occurrence,
            "firing_id": firing_id,
            "classification": rule.classification,
            "due_at": due_at.isoformat(),
        }
        event = derived_event(rule.event, firing.customer_no, fired_at, properties)
        derived.add(connection, f"mot|{firing_id}", event, fired_at)
        if rule.owner == "advisor":
            drafts.append((firing_id, _draft(rule, firing, firing_id, fired_at, assigned, env)))
    if drafts:
        made = create_tasks(connection, drafts=[d for _, d in drafts], assigned=assigned, now=fired_at)
        for firing_id, draft in drafts:
            repo.set_task(connection, firing_id, made[draft.source_key])
    return new


def _due(rule: MotRule, firing: Firing, fired_at: datetime, env: ChannelEnv) -> datetime:
    """When the moment should be served: its SLA after firing, or its own deadline if that comes first."""
    due = shift(fired_at, rule.sla, env.calendar)
    return min(due, firing.deadline) if firing.deadline is not None else due


def _draft(
    rule: MotRule,
    firing: Firing,
    firing_id: str,
    fired_at: datetime,
    assigned: dict[str, Assignment],
    env: ChannelEnv,
) -> TaskDraft:
    spec = rule.task
    assert spec is not None
    assignment = assigned.get(firing.customer_no)
    context = {
        "facts": firing.facts,
        "rule": {"name": rule.name, "title": rule.title},
        "suitability": assignment.suitability if assignment else {},
        "customer": {"customer_no": firing.customer_no},
    }
    if spec.due_before and firing.deadline is not None:
        due_at = shift(firing.deadline, f"-{spec.due_before.strip()}", env.calendar)
    else:
        due_at = shift(fired_at, spec.due or rule.sla, env.calendar)
    return TaskDraft(
        source_key=f"mot:{firing_id}",
        source="mot",
        customer_no=firing.customer_no,
        title=_rendered("task.title", spec.title, context),
        reason=f"{rule.title} · {firing.occurrence}",
        talking_points=_rendered("task.talking_points", spec.talking_points, context),
        priority=spec.priority,
        due_at=due_at,
        facts=firing.facts,
        rule=rule.name,
    )


def _rendered(place: str, text: str, context: dict[str, Any]) -> str:
    """A task text rendered; a fault (a fact missing for this customer) is shown in place of the text, so the
    advisor still gets the task and the rule's author sees what to fix."""
    try:
        return render_text(place, text, context)
    except TemplateRenderError as exc:
        return f"[{exc}]"
