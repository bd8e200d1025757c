"""Making sure a data directory holds the demo brokerage, generating it only when needed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from importlib.resources import files
from typing import Any

import yaml

from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.service import activate_template, list_templates, parse_template, save_template
from touchpoint.core.errors import ConflictError
from touchpoint.core.progress import StageProgress
from touchpoint.demo.history import ReplayEnv, replay_history
from touchpoint.demo.model import DemoParams, DemoSummary
from touchpoint.demo.service import generate_demo
from touchpoint.governance import Principal
from touchpoint.governance.registry import Registry
from touchpoint.identity.service import sync_customers, sync_imported_events
from touchpoint.indicators import list_indicators
from touchpoint.ingest import TABLES, ImportEnv, clear_analytical_data
from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.service import list_journeys, parse_journey, publish, save_journey
from touchpoint.moments.service import check_rule, default_rules, list_rules, parse_rule, write_rule
from touchpoint.segments.service import SegmentDef, list_segments, save_segment
from touchpoint.store.operational.meta import delete_value, get_value, set_value
from touchpoint.tags.definitions_io import apply_import, default_library
from touchpoint.tags.service import TagEnv, compute, compute_due

DEMO_KEY = "demo.params"
REPLAY_KEY = "demo.replayed"


@dataclass(frozen=True)
class DemoOutcome:
    """The demo in the data directory, and whether this call generated it."""

    summary: DemoSummary | None
    generated: bool


def ensure_demo(
    *,
    env: ImportEnv,
    principal: Principal,
    params: DemoParams,
    reset: bool = False,
    progress: StageProgress | None = None,
) -> DemoOutcome:
    """Generate the demo unless the same demo is already there; refuse to mix it into other data."""
    recorded = _recorded_params(env)
    holds_data = any(env.analytics.partitions(name) for name in TABLES)
    if reset:
        clear_analytical_data(env=env, principal=principal)
        _forget_demo(env)
    elif recorded == params.model_dump(mode="json"):
        return DemoOutcome(summary=None, generated=False)
    elif holds_data:
        raise ConflictError(
            f"{env.analytics.root} already holds data that is not this demo; "
            "pass --reset to replace it or --home to use another data directory"
        )
    summary = generate_demo(env=env, principal=principal, params=params, progress=progress)
    with env.ops.begin() as connection:
        set_value(connection, DEMO_KEY, params.model_dump(mode="json"), now=env.clock.now())
    return DemoOutcome(summary=summary, generated=True)


def _recorded_params(env: ImportEnv) -> object:
    with env.ops.begin() as connection:
        return get_value(connection, DEMO_KEY)


def _forget_demo(env: ImportEnv) -> None:
    with env.ops.begin() as connection:
        delete_value(connection, DEMO_KEY)


DEMO_SEGMENTS = {"dormant_customers": ("沉睡客户", {"tag": "lifecycle_stage", "in": ["沉睡"]})}


def ensure_demo_moments(*, env: JourneyEnv, principal: Principal) -> list[str]:
    """Install the shipped MOT rule library unless a rule exists already (the tag library first: one rule
    reads its indicators); returns the rules added now."""
    if list_rules(env=env):
        return []
    text = yaml.safe_load(default_rules())
    rules = [parse_rule(r["name"], {k: v for k, v in r.items() if k != "name"}) for r in text["rules"]]
    for rule in rules:
        check_rule(env, rule)
    with env.ops.begin() as connection:
        for rule in rules:
            write_rule(connection, env=env, principal=principal, rule=rule)
    return [r.name for r in rules]


def ensure_demo_journeys(*, env: JourneyEnv, principal: Principal) -> list[str]:
    """Save and publish the demo journeys (and the segment one enters from, the MOT rules they start on)
    unless they exist already; returns the names published now."""
    ensure_demo_moments(env=env, principal=principal)
    saved = list_segments(env=env)
    for name, (title, rule) in DEMO_SEGMENTS.items():
        if name not in saved:
            save_segment(env=env, principal=principal, segment=SegmentDef(name=name, title=title, rule=rule))
    ensure_demo_templates(env=env, principal=principal)
    existing = {row["name"] for row in list_journeys(env=env)}
    published = []
    for body in _demo_definitions("journeys"):
        journey = parse_journey(body)
        if journey.name in existing:
            continue
        save_journey(env=env, principal=principal, journey=journey)
        publish(env=env, principal=principal, name=journey.name)
        published.append(journey.name)
    return published


def ensure_demo_templates(*, env: ChannelEnv, principal: Principal) -> list[str]:
    """Save and activate the demo message templates unless they exist already; returns those added now."""
    existing = {row["name"] for row in list_templates(env=env)}
    added = []
    for body in _demo_definitions("templates"):
        template = parse_template(body)
        if template.name in existing:
            continue
        save_template(env=env, principal=principal, template=template)
        activate_template(env=env, principal=principal, name=template.name)
        added.append(template.name)
    return added


def _demo_definitions(folder: str) -> list[Any]:
    """The YAML definitions shipped in a folder of the demo package, in file-name order."""
    paths = sorted((files("touchpoint.demo") / folder).iterdir(), key=lambda p: p.name)
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in paths if p.name.endswith(".yaml")]


def ensure_demo_history(
    *, env: ReplayEnv, claim_hours: float, progress: StageProgress | None = None
) -> dict[str, int] | None:
    """Replay the demo's recent history through its journeys and MOT rules once per generated demo (see
    demo/history.py); None when it was replayed already."""
    with env.ops.begin() as connection:
        done = get_value(connection, REPLAY_KEY)
        params = get_value(connection, DEMO_KEY)
    if done is not None and done == params:
        return None
    result = replay_history(env=env, claim_hours=claim_hours, progress=progress)
    with env.ops.begin() as connection:
        set_value(connection, REPLAY_KEY, params, now=env.clock.now())
    return result


def ensure_demo_tags(*, env: TagEnv, registry: Registry, principal: Principal) -> dict[str, Any] | None:
    """Install the default library if no indicator exists yet, then compute the newest date unless done.

    Returns the computation's summary, or None when the newest date was already computed and nothing
    it reads has changed since.
    """
    if not list_indicators(env=env):
        apply_import(registry=registry, principal=principal, text=default_library())
    # One ID first, as the worker does: the devices in the imported history count for their customers.
    identity, analytics = env, env.analytics
    sync_customers(env=identity, analytics=analytics)
    sync_imported_events(env=identity, analytics=analytics)
    day = compute_due(env=env, refresh=timedelta(days=36_500), retry=timedelta(0))
    return compute(env=env, principal=principal, day=day) if day is not None else None
