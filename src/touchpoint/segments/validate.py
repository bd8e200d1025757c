"""Checks that a rule names things that exist and compares them sensibly, naming each fault's place."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from touchpoint.core.errors import ValidationError
from touchpoint.indicators.model import IndicatorDef
from touchpoint.indicators.validate import CATALOGUE_EVENTS, gives_number
from touchpoint.ingest import TABLES
from touchpoint.ingest.model import Kind
from touchpoint.segments.model import (
    AllGroup,
    AnyGroup,
    AttributeCondition,
    EventCondition,
    IndicatorCondition,
    ListCondition,
    NotGroup,
    Rule,
    SegmentCondition,
    SequenceCondition,
    TagCondition,
)
from touchpoint.tags.attributes import ATTRIBUTE_KINDS, typed_attribute_value
from touchpoint.tags.evaluate import resolve
from touchpoint.tags.model import TagDef

ORDERED_KINDS = {Kind.INT, Kind.FLOAT, Kind.DATE, Kind.TIMESTAMP}


def nodes(rule: Rule, path: str = "rule") -> Iterator[tuple[str, Rule]]:
    """Every node of the tree with its place, e.g. `rule.all[1].not`."""
    yield path, rule
    if isinstance(rule, AllGroup):
        for i, part in enumerate(rule.all):
            yield from nodes(part, f"{path}.all[{i}]")
    elif isinstance(rule, AnyGroup):
        for i, part in enumerate(rule.any):
            yield from nodes(part, f"{path}.any[{i}]")
    elif isinstance(rule, NotGroup):
        yield from nodes(rule.not_, f"{path}.not")


def check_rule(
    rule: Rule,
    *,
    tags: Mapping[str, TagDef],
    indicators: Mapping[str, IndicatorDef],
    events: Collection[str],
    segment_rule: Callable[[str], Rule],
    lists: Collection[str],
    visiting: tuple[str, ...] = (),
) -> None:
    """Refuse unknown tags, values, indicators, attributes, events, segments and lists, wrong operators for a
    type, and cycles of segments; the message names the place in the tree."""
    known_events = set(events) | CATALOGUE_EVENTS
    for place, node in nodes(rule):
        where = f"{place}: "
        if isinstance(node, TagCondition):
            _check_tag(node, tags, where)
        elif isinstance(node, IndicatorCondition):
            _check_indicator(node, indicators, where)
        elif isinstance(node, AttributeCondition):
            _check_attribute(node, where)
        elif isinstance(node, EventCondition | SequenceCondition):
            named = [node.event] if isinstance(node, EventCondition) else [s.event for s in node.sequence]
            unknown = [e for e in named if e not in known_events]
            if unknown and events:
                raise ValidationError(f"{where}unknown event(s) {', '.join(unknown)}")
        elif isinstance(node, SegmentCondition):
            if node.segment in visiting:
                raise ValidationError(f"{where}segment cycle {' → '.join([*visiting, node.segment])}")
            inner = segment_rule(node.segment)
            check_rule(
                inner,
                tags=tags,
                indicators=indicators,
                events=events,
                segment_rule=segment_rule,
                lists=lists,
                visiting=(*visiting, node.segment),
            )
        elif isinstance(node, ListCondition) and node.list_ not in lists:
            raise ValidationError(f"{where}unknown list {node.list_!r}")


def _check_tag(node: TagCondition, tags: Mapping[str, TagDef], where: str) -> None:
    tag = tags.get(node.tag)
    if tag is None:
        raise ValidationError(f"{where}unknown tag {node.tag!r}")
    possible = tag.possible_values()
    named = (node.in_ or []) + (node.not_in or [])
    strange = [v for v in named if possible and v not in possible]
    if strange:
        raise ValidationError(f"{where}tag {node.tag!r} has no value {strange[0]!r} (values: {possible})")


def _check_indicator(node: IndicatorCondition, indicators: Mapping[str, IndicatorDef], where: str) -> None:
    definition = indicators.get(node.indicator)
    if definition is None:
        raise ValidationError(f"{where}unknown indicator {node.indicator!r}")
    if not gives_number(definition):
        raise ValidationError(f"{where}indicator {node.indicator!r} is text; {node.op} needs a number")


def _check_attribute(node: AttributeCondition, where: str) -> None:
    spec = TABLES["customers"]
    try:
        attribute_test(node)
    except ValidationError as exc:
        raise ValidationError(f"{where}{exc}") from None
    kind = spec.column(node.attribute).kind
    if node.op in (">", ">=", "<", "<=", "between") and kind not in ORDERED_KINDS:
        raise ValidationError(
            f"{where}attribute {node.attribute!r} is {kind.value}; {node.op} needs a number or date"
        )
    choices = spec.column(node.attribute).choices
    listed = (node.in_ or []) + (node.not_in or []) + ([node.value] if node.op in ("=", "!=") else [])
    strange = [v for v in listed if choices and v not in choices]
    if strange:
        raise ValidationError(
            f"{where}attribute {node.attribute!r} has no value {strange[0]!r} ({list(choices or ())})"
        )


def attribute_test(rule: AttributeCondition) -> tuple[str, Any]:
    """The operator of an attribute condition and its value as the customers column holds it — text, a
    number, true or false, or a date from its `YYYY-MM-DD` text — so that both evaluation paths compare like
    with like. ValidationError naming the attribute for an unknown attribute, a parameter reference
    (segments have no parameters), a value of another type than the column's, or no value at all."""
    where = f"attribute {rule.attribute}"
    if rule.attribute not in ATTRIBUTE_KINDS:
        raise ValidationError(f"unknown attribute {rule.attribute!r} (attributes: {sorted(ATTRIBUTE_KINDS)})")
    if rule.exists is not None:
        return "exists", rule.exists
    op: str
    if rule.in_ is not None:
        op, raw = "in", rule.in_
    elif rule.not_in is not None:
        op, raw = "not_in", rule.not_in
    else:
        assert rule.op is not None
        op, raw = rule.op, rule.value
    return op, typed_attribute_value(rule.attribute, resolve(raw, {}, where))
