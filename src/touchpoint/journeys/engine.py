"""The journey interpreter: a pure step function. Given a run's state, the time and what can be asked about
the customer (`Facts`), it moves the run through as many nodes as it can without waiting, and returns the new
state, the steps taken (for history and statistics) and the effects to put in the outbox. It reads no clock
and writes nothing: the runtime does both, in one transaction per call, for live runs and simulations alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any, Literal, Protocol

from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.durations import shift
from touchpoint.journeys import effects
from touchpoint.journeys.model import (
    AbSplitNode,
    ActionNode,
    AdvisorTask,
    CallWebhook,
    ExitNode,
    JourneyDef,
    SendMessage,
    SplitNode,
    WaitForEventNode,
    WaitNode,
)

MAX_STEPS_PER_CALL = 100  # a sound graph waits long before this; validation refuses cycles without a wait
Trigger = Literal["enter", "timer", "event"]
ACTIVE = ("ready", "waiting", "waiting_event")


class Facts(Protocol):
    """What the engine may ask about the customer of the run being advanced."""

    def matches(self, rule: dict[str, Any]) -> bool:
        """Whether the customer satisfies a segment rule now."""
        ...

    def in_segment(self, name: str) -> bool:
        """Whether the customer is a member of a saved segment now."""
        ...

    def attribute(self, name: str) -> Any:
        """A profile attribute of the customer (None when absent)."""
        ...

    def event_since(self, node: WaitForEventNode, payload: dict[str, Any], since: datetime) -> bool:
        """Whether the customer did the node's event (filters and payload match) at or after `since`."""
        ...

    def render(self, template: str, context: dict[str, Any]) -> str:
        """The message text of a template for the customer."""
        ...


@dataclass
class Run:
    """A customer's run through one version of a journey."""

    id: str
    journey: str
    version: int
    customer_no: str
    node: str | None
    step: int
    status: str
    entered_at: datetime
    holdout: bool = False
    wake_at: datetime | None = None
    wait_event: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    end_reason: str | None = None


@dataclass(frozen=True)
class Step:
    """One node the run passed through, and how it left it."""

    node: str
    step: int
    outcome: str
    detail: str | None = None


@dataclass(frozen=True)
class Effect:
    """Something to do outside the engine, keyed by (run, node, step) so it happens once."""

    node: str
    step: int
    action: effects.Effect

    @property
    def kind(self) -> str:
        """The action's kind (send, set_tag, set_attribute, webhook), stored next to the payload."""
        return self.action.kind

    @property
    def payload(self) -> dict[str, Any]:
        """The effect as the outbox stores it (plain JSON)."""
        return effects.effect_json(self.action)


@dataclass
class Outcome:
    """The run after a call, with the steps it took and the effects it asks for."""

    run: Run
    steps: list[Step] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


def advance(
    journey: JourneyDef,
    run: Run,
    *,
    now: datetime,
    trigger: Trigger,
    facts: Facts,
    calendar: TradingCalendar,
) -> Outcome:
    """Move the run on from its node until it waits or ends."""
    out = Outcome(replace(run, context=dict(run.context)))
    if run.status not in ACTIVE:
        return out
    if _exits(journey, out, facts):
        return out
    if trigger == "enter" or run.node is None:
        out.run.node, out.run.status = journey.start, "ready"
    elif run.status != "ready":
        _leave_waiting_node(journey, out, now=now, trigger=trigger, facts=facts)
    # A ready run (new, or moved to another version's node) arrives at its node: a wait there starts afresh.
    for _ in range(MAX_STEPS_PER_CALL):
        if out.run.status not in ACTIVE or out.run.status != "ready" or out.run.node is None:
            break
        _visit(journey, out, now=now, facts=facts, calendar=calendar)
    else:
        _end(out, "failed", f"more than {MAX_STEPS_PER_CALL} steps without waiting")
    return out


def _exits(journey: JourneyDef, out: Outcome, facts: Facts) -> bool:
    for criterion in journey.exit_criteria:
        if criterion.segment is not None and facts.in_segment(criterion.segment):
            out.steps.append(Step(out.run.node or journey.start, out.run.step, "exit", criterion.segment))
            _end(out, "exited", f"segment {criterion.segment}")
            return True
    return False


def _leave_waiting_node(
    journey: JourneyDef, out: Outcome, *, now: datetime, trigger: Trigger, facts: Facts
) -> None:
    node = journey.node(str(out.run.node))
    run = out.run
    if isinstance(node, WaitNode):
        if run.wake_at is not None and now < run.wake_at:
            return  # woken early (e.g. an event for another node): keep waiting
        _go(out, node.id, "next", node.next)
    elif isinstance(node, WaitForEventNode):
        since = datetime.fromisoformat(run.context.get("reached_at", run.entered_at.isoformat()))
        if trigger == "event" or facts.event_since(node, run.context.get("payload", {}), since):
            _go(out, node.id, "on_event", node.on_event)
        elif run.wake_at is not None and now >= run.wake_at:
            _go(out, node.id, "on_timeout", node.on_timeout)
    else:
        run.status = "ready"


def _go(out: Outcome, node: str, outcome: str, target: str | None, detail: str | None = None) -> None:
    """Leave `node` along an edge: record the step and make the run ready at `target` (or end it)."""
    run = out.run
    out.steps.append(Step(node, run.step, outcome, detail))
    run.step += 1
    run.wake_at, run.wait_event = None, None
    run.context.pop("reached_at", None)
    if target is None:
        _end(out, "done", "end of path")
        return
    run.node, run.status = target, "ready"


def _end(out: Outcome, status: str, reason: str) -> None:
    run = out.run
    run.status, run.end_reason = status, reason[:32]
    run.wake_at, run.wait_event = None, None


def _visit(
    journey: JourneyDef, out: Outcome, *, now: datetime, facts: Facts, calendar: TradingCalendar
) -> None:
    run = out.run
    node = journey.node(str(run.node))
    if isinstance(node, WaitNode):
        until = wake_time(node, now=now, run=run, facts=facts, calendar=calendar)
        if until is None or until <= now:
            _go(out, node.id, "next", node.next, "no date" if until is None else None)
        else:
            run.status, run.wake_at = "waiting", until
    elif isinstance(node, WaitForEventNode):
        run.context["reached_at"] = now.isoformat()
        if facts.event_since(node, run.context.get("payload", {}), run.entered_at):
            _go(out, node.id, "on_event", node.on_event, "before reaching the node")
        else:
            run.status, run.wait_event = "waiting_event", node.event
            run.wake_at = after(now, node.timeout, calendar)
    elif isinstance(node, SplitNode):
        chosen = next((b for b in node.branches if facts.matches(b.rule)), None)
        if chosen is None:
            _go(out, node.id, "default", node.default)
        else:
            _go(out, node.id, f"branch:{chosen.name}", chosen.next)
    elif isinstance(node, AbSplitNode):
        variant = pick_variant(node, journey.name, run.customer_no)
        run.context.setdefault("variants", {})[node.id] = variant.name
        _go(out, node.id, f"variant:{variant.name}", variant.next)
    elif isinstance(node, ActionNode):
        _act(node, out, facts)
    elif isinstance(node, ExitNode):
        out.steps.append(Step(node.id, run.step, "exit"))
        run.step += 1
        _end(out, "done", "exit node")


def _act(node: ActionNode, out: Outcome, facts: Facts) -> None:
    run = out.run
    if run.holdout:
        _go(out, node.id, "skipped", node.next, "hold-out")
        return
    action = node.action
    if isinstance(action, SendMessage) and action.text is not None:
        content = facts.render(action.text, run.context.get("payload", {}))
        effect = effects.effect_of(action, content=content)
    elif isinstance(action, SendMessage | CallWebhook | AdvisorTask):  # rendered or posted when dispatched
        context = effects.EffectContext(
            payload=run.context.get("payload", {}), variants=run.context.get("variants", {})
        )
        effect = effects.effect_of(action, context=context)
    else:
        effect = effects.effect_of(action)
    out.effects.append(Effect(node.id, run.step, effect))
    _go(out, node.id, "queued", node.next)


def pick_variant(node: AbSplitNode, journey: str, customer_no: str) -> Any:
    """The variant for this customer: a stable hash of (journey, customer) over the weights."""
    digest = hashlib.sha256(f"{journey}\x00{node.id}\x00{customer_no}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(v.weight for v in node.variants)
    for variant in node.variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return node.variants[-1]


def wake_time(
    node: WaitNode, *, now: datetime, run: Run, facts: Facts, calendar: TradingCalendar
) -> datetime | None:
    """When a wait ends: after a duration, at a time of day, or at a date in the payload or attributes."""
    if node.duration is not None:
        return after(now, node.duration, calendar)
    if node.until_time is not None:
        return _next_time_of_day(now, node.until_time, node.trading_day, calendar)
    source, _, name = str(node.until_field).partition(".")
    raw = run.context.get("payload", {}).get(name) if source == "payload" else facts.attribute(name)
    moment = _as_instant(raw, calendar)
    if moment is None:
        return None
    return after(moment, node.offset, calendar) if node.offset else moment


def after(start: datetime, text: str, calendar: TradingCalendar) -> datetime:
    """The instant a duration after `start` (core.durations.shift: trading days keep the Beijing time)."""
    return shift(start, text, calendar)


def _next_time_of_day(now: datetime, text: str, trading_day: bool, calendar: TradingCalendar) -> datetime:
    hour, minute = (int(part) for part in text.split(":"))
    day = now.astimezone(calendar.tz).date()
    candidate = calendar.to_utc(day, time(hour, minute))
    if candidate <= now:
        day += timedelta(days=1)
    if trading_day and not calendar.is_trading_day(day):
        day = calendar.next_trading_day(day)
    return calendar.to_utc(day, time(hour, minute))


def _as_instant(raw: Any, calendar: TradingCalendar) -> datetime | None:
    """A date or date-time from data: ISO text, a date (its Beijing midnight) or epoch milliseconds."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, int | float):
        return datetime.fromtimestamp(raw / 1000, tz=calendar.tz)
    try:
        parsed = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=calendar.tz)
    return parsed
