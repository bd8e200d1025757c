"""What a tag reads (lineage) and the check that all of it exists."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from touchpoint.core.errors import ValidationError
from touchpoint.tags.attributes import ATTRIBUTE_KINDS, typed_attribute_value
from touchpoint.tags.evaluate import resolve
from touchpoint.tags.model import AllOf, AnyOf, Compare, Condition, NotOf, TagDef

ATTRIBUTES = frozenset(ATTRIBUTE_KINDS)


def compares(condition: Condition) -> Iterator[Compare]:
    """Every comparison inside a condition tree."""
    if isinstance(condition, AllOf):
        for part in condition.all:
            yield from compares(part)
    elif isinstance(condition, AnyOf):
        for part in condition.any:
            yield from compares(part)
    elif isinstance(condition, NotOf):
        yield from compares(condition.not_)
    else:
        yield condition


def conditions_of(tag: TagDef) -> list[Condition]:
    """The condition trees of a rule or model tag."""
    found: list[Condition] = [case.when for case in tag.rules or []]
    if tag.model is not None:
        found.append(tag.model.label)
    return found


def lineage(tag: TagDef) -> dict[str, list[str]]:
    """The indicators and customer attributes a tag reads."""
    indicators: list[str] = []
    attributes: list[str] = []
    for condition in conditions_of(tag):
        for item in compares(condition):
            (indicators if item.indicator else attributes).append(str(item.indicator or item.attribute))
    if tag.bucket is not None:
        indicators.append(tag.bucket.indicator)
    if tag.model is not None:
        indicators.extend(tag.model.features)
    return {"indicators": sorted(set(indicators)), "attributes": sorted(set(attributes))}


def check_tag(tag: TagDef, indicators: Collection[str]) -> None:
    """Refuse references to unknown indicators, attributes or parameters, and wrongly typed values."""
    where = f"tag {tag.name}"
    reads = lineage(tag)
    unknown = [i for i in reads["indicators"] if i not in indicators]
    if unknown:
        raise ValidationError(f"{where}: unknown indicator(s) {', '.join(unknown)}")
    strange = [a for a in reads["attributes"] if a not in ATTRIBUTES]
    if strange:
        raise ValidationError(
            f"{where}: unknown attribute(s) {', '.join(strange)} (attributes: {sorted(ATTRIBUTES)})"
        )
    for condition in conditions_of(tag):
        for item in compares(condition):
            _check_value(item, resolve(item.value, tag.params, where), where)
    if tag.bucket is not None:
        for edge in tag.bucket.edges:
            if not isinstance(resolve(edge, tag.params, where), int | float):
                raise ValidationError(f"{where}: bucket edge {edge!r} is not a number")
    if tag.model is not None:
        label_reads = {c.indicator for c in compares(tag.model.label) if c.indicator}
        leaked = sorted(label_reads & set(tag.model.features))
        if leaked:
            raise ValidationError(
                f"{where}: the model's features include its own label indicator(s) {leaked}"
            )


def _check_value(item: Compare, value: object, where: str) -> None:
    target = item.indicator or item.attribute
    if item.attribute is not None and item.op != "exists":
        typed_attribute_value(item.attribute, value, where)
    if item.op in (">", ">=", "<", "<=") and item.indicator and not isinstance(value, int | float):
        raise ValidationError(f"{where}: {target} {item.op} needs a number, got {value!r}")
    if item.op == "between" and (not isinstance(value, list) or len(value) != 2):
        raise ValidationError(f"{where}: {target} between needs [low, high], got {value!r}")
