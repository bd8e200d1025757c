"""What a journey may name and whether it is sound: the checks a save runs (`validate`), the canvas's
check of an unfinished definition (`check_journey`), and what would stop publication (`not_ready`)."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import ValidationError as PydanticError

from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.events import MESSAGE_EVENTS
from touchpoint.channels.model import CHANNELS
from touchpoint.channels.service import template_fault, template_ready
from touchpoint.core.errors import ValidationError
from touchpoint.governance.registry import Bundle
from touchpoint.indicators.service import known_events
from touchpoint.indicators.validate import CATALOGUE_EVENTS
from touchpoint.ingest.ports import RoutedLog
from touchpoint.journeys.model import ActionNode, CallWebhook, JourneyDef, SendMessage
from touchpoint.journeys.validate import Known, finding, problems, shape_fault
from touchpoint.segments.service import check, list_segments, read_rule
from touchpoint.store.operational import definitions as store
from touchpoint.tags.service import list_tags
from touchpoint.tasks.model import COMPLETED_EVENT, MOT_RULE_KIND


class JourneyEnv(ChannelEnv, Protocol):
    """What journey use cases and the runtime read and write: everything channels do (journeys send)."""

    routing_partitions: int  # journey_routing_partitions: routing split by customer hash
    routed: RoutedLog | None  # the routed stream beside a NATS event log (journeys/routing.py)
    routing_source: str  # journey_routing_source: "log" or "routed"


def validate(*, env: JourneyEnv, journey: JourneyDef, bundle: Bundle | None = None) -> None:
    """Refuse a journey whose graph or references are unsound, naming every fault. Segments and templates
    of the same `bundle` (a definitions directory being applied) count as saved."""
    found = problems(journey, _known(env, bundle))
    if found:
        raise ValidationError(f"journey {journey.name}: " + "; ".join(found))


def check_journey(*, env: JourneyEnv, body: dict[str, Any]) -> dict[str, Any]:
    """Every fault of a journey definition as the canvas edits it, unfinished or not — what stops a save
    (`faults`) and what would stop publication (`not_ready`) — each with the node it concerns."""
    try:
        journey = JourneyDef.model_validate(body | {"name": body.get("name") or "draft"})
    except PydanticError as exc:
        return {"faults": [shape_fault(body, e["loc"], e["msg"]) for e in exc.errors()], "not_ready": []}
    return {
        "faults": [finding(text) for text in problems(journey, _known(env, None))],
        "not_ready": [finding(text) for text in not_ready(env, journey)],
    }


def _known(env: JourneyEnv, bundle: Bundle | None) -> Known:
    """What a journey may name: events, saved segments (and those of `bundle`), imported tags, channels,
    split rules that check, templates that exist for their channel."""
    coming = bundle or {}
    segments = list_segments(env=env) | dict(coming.get("segment", {}))
    templates = coming.get("template", {})

    def check_rule(rule: dict[str, Any]) -> None:
        check(env=env, rule=read_rule(rule), segments=segments)

    def template_problem(name: str, channel: str) -> str | None:
        if name in templates:
            theirs = templates[name].channel
            return None if theirs == channel else f"template {name!r} is for {theirs}, not {channel}"
        return _template_fault(env, name, channel)

    return Known(
        events=set(known_events(env.analytics))
        | set(CATALOGUE_EVENTS)
        | set(MESSAGE_EVENTS)
        | derived_events(env, bundle),
        segments=set(segments),
        tags={name: tag.values or [] for name, tag in list_tags(env=env).items() if tag.kind == "imported"},
        channels=CHANNELS,
        check_rule=check_rule,
        template_fault=template_problem,
    )


def derived_events(env: JourneyEnv, bundle: Bundle | None) -> set[str]:
    """The events the system derives that a journey may name: `mot_<rule>` of every MOT rule (saved or in
    the same bundle) and `advisor_task_completed`."""
    with env.ops.begin() as connection:
        rules = set(store.current(connection, MOT_RULE_KIND))
    rules |= set((bundle or {}).get(MOT_RULE_KIND, {}))
    return {f"mot_{name}" for name in rules} | {COMPLETED_EVENT}


def _template_fault(env: JourneyEnv, name: str, channel: str) -> str | None:
    return template_fault(env=env, name=name, channel=channel)


def not_ready(env: JourneyEnv, journey: JourneyDef) -> list[str]:
    """Sends whose template is not active or whose channel has no provider, and webhook actions without the
    webhook provider that signs them (publishing waits for all: such a run would only fail at run time)."""
    found = []
    for node in journey.nodes:
        if not isinstance(node, ActionNode):
            continue
        if isinstance(node.action, SendMessage) and node.action.template:
            why = template_ready(env=env, name=node.action.template, channel=node.action.channel)
            if why:
                found.append(f"nodes.{node.id}.action.template: {why}")
        elif isinstance(node.action, CallWebhook) and "webhook" not in env.providers:
            found.append(
                f"nodes.{node.id}.action: a webhook action needs channels.webhook, which is not configured "
                "(未配置 webhook 渠道); add [channels.webhook] with a url and a secret to the settings"
            )
    return found
