"""Segment use cases: validate a rule, preview its count on either path, and keep saved segments."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.governance import Principal, record_operation
from touchpoint.indicators import list_indicators
from touchpoint.indicators.model import NAME_PATTERN
from touchpoint.indicators.service import known_events
from touchpoint.segments.bitmap import evaluate
from touchpoint.segments.context import Context
from touchpoint.segments.model import Rule, parse_rule
from touchpoint.segments.sql import evaluate_sql
from touchpoint.segments.validate import check_rule
from touchpoint.store.operational import definitions as store
from touchpoint.tags.layout import TAG_VALUES
from touchpoint.tags.service import TagEnv, list_tags

KIND = "segment"
Path = Literal["bitmap", "sql"]


class SegmentDef(BaseModel):
    """A saved segment: a named rule (dynamic: re-evaluated; static: a frozen list, later issues)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    title: str
    description: str = ""
    owner: str = "system"
    kind: Literal["dynamic", "static"] = "dynamic"
    rule: dict[str, Any]


def segment_from(body: dict[str, Any], name: str) -> SegmentDef:
    """A segment definition from a request body (its name from the path), faults named."""
    try:
        return SegmentDef.model_validate({"title": name, **body, "name": name})
    except PydanticError as exc:
        problems = [f"{_place(e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
        raise ValidationError(f"segment {name}: " + "; ".join(problems)) from None


def read_rule(body: Any) -> Rule:
    """A rule from JSON, or a ValidationError naming each fault's place in the tree."""
    try:
        return parse_rule(body)
    except PydanticError as exc:
        problems = [f"{_place(e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
        raise ValidationError("; ".join(problems)) from None


def _place(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]"
        elif not parts or parts[-1] != item:
            parts.append(str(item))
    return ".".join(parts)


def list_segments(*, env: TagEnv) -> dict[str, SegmentDef]:
    """Every saved segment by name."""
    with env.indicators.ops.begin() as connection:
        bodies = store.current(connection, KIND)
    return {name: SegmentDef.model_validate(body) for name, body in sorted(bodies.items())}


def get_segment(*, env: TagEnv, name: str) -> SegmentDef:
    """One saved segment, or NotFoundError."""
    found = list_segments(env=env).get(name)
    if found is None:
        raise NotFoundError(f"no segment named {name!r}")
    return found


def check(*, env: TagEnv, rule: Rule, segments: dict[str, SegmentDef] | None = None) -> None:
    """Validate a rule against the catalogue, the events seen, saved segments and lists."""
    saved = segments if segments is not None else list_segments(env=env)

    def segment_rule(name: str) -> Rule:
        if name not in saved:
            raise ValidationError(f"unknown segment {name!r}")
        return read_rule(saved[name].rule)

    check_rule(
        rule,
        tags=list_tags(env=env),
        indicators=list_indicators(env=env.indicators),
        events=known_events(env.indicators.analytics),
        segment_rule=segment_rule,
        lists=set(),
    )


def save_segment(*, env: TagEnv, principal: Principal, segment: SegmentDef) -> int:
    """Create or update a saved segment after checking its rule (a cycle through it is refused)."""
    rule = read_rule(segment.rule)
    saved = list_segments(env=env) | {segment.name: segment}
    check(env=env, rule=rule, segments=saved)
    body = segment.model_dump(mode="json")
    ienv = env.indicators
    with ienv.ops.begin() as connection:
        before = store.current(connection, KIND).get(segment.name)
        if before == body:
            return len(store.history(connection, KIND, segment.name))
        version = store.save(connection, KIND, segment.name, body, actor=principal.user, now=ienv.clock.now())
        record_operation(
            connection,
            clock=ienv.clock,
            principal=principal,
            action="segment.save",
            target_type=KIND,
            target_id=segment.name,
            before=before,
            after=body,
        )
    return version


def context_at(*, env: TagEnv, at: datetime | None = None) -> Context:
    """What rules are evaluated against as of `at` (default now): the newest tag snapshot on or before it."""
    ienv = env.indicators
    instant = at or ienv.clock.now()
    business_date = ienv.calendar.business_date(instant)
    days = [p.dt for p in ienv.analytics.partitions(TAG_VALUES.name) if p.dt <= business_date]
    if not days:
        raise ValidationError(f"no tag snapshot on or before {business_date}; run touchpoint compute first")
    saved = list_segments(env=env)

    def segment_rule(name: str) -> Rule:
        if name not in saved:
            raise ValidationError(f"unknown segment {name!r}")
        return read_rule(saved[name].rule)

    def list_members(name: str) -> list[str]:
        raise ValidationError(f"unknown list {name!r}")

    return Context(
        env=env, at=instant, snapshot=max(days), segment_rule=segment_rule, list_members=list_members
    )


def preview(
    *, env: TagEnv, rule: Any, at: datetime | None = None, path: Path = "bitmap", sample: int = 10
) -> dict[str, Any]:
    """How many customers a rule selects now (or as of `at`), with a masked sample of them."""
    parsed = read_rule(rule)
    check(env=env, rule=parsed)
    context = context_at(env=env, at=at)
    started = time.perf_counter()
    members = evaluate(parsed, context) if path == "bitmap" else evaluate_sql(parsed, context)
    elapsed = time.perf_counter() - started
    numbers = context.base.to_pandas().set_index("uid")["customer_no"]
    chosen = [numbers[uid] for uid in list(members[:sample])] if sample else []
    return {
        "count": len(members),
        "base": len(context.universe),
        "at": context.at.astimezone(env.indicators.calendar.tz).isoformat(),
        "snapshot_date": _iso(context.snapshot),
        "path": path,
        "elapsed_ms": round(elapsed * 1000, 2),
        "sample": [mask_customer_no(c) for c in chosen],
    }


def local_instant(*, env: TagEnv, text: str) -> datetime:
    """`YYYY-MM-DDTHH:MM` (or with seconds, or an offset) read in the brokerage's time zone."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"--at {text!r} is not YYYY-MM-DDTHH:MM") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=env.indicators.calendar.tz)
    return parsed


def _iso(day: date) -> str:
    return day.isoformat()


def mask_customer_no(number: str) -> str:
    """`C1000123` → `C10***23`: enough to tell rows apart, not enough to identify a customer."""
    if len(number) <= 4:
        return "*" * len(number)
    return f"{number[:3]}{'*' * (len(number) - 5)}{number[-2:]}"
