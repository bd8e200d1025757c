"""Checks that an indicator reads things that exist: columns of its source, known events."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from touchpoint.core.errors import ValidationError
from touchpoint.indicators.formula import evaluation_order
from touchpoint.indicators.model import IndicatorDef
from touchpoint.ingest import TABLES

EXTRA_COLUMNS = {"dt", "attributes"}


def source_columns(source: str) -> set[str]:
    """The columns an indicator may read from a canonical table."""
    return set(TABLES[source].column_names) | EXTRA_COLUMNS


def check_indicator(
    definition: IndicatorDef,
    known_events: Collection[str],
    indicators: Mapping[str, IndicatorDef] | None = None,
) -> None:
    """Refuse unknown columns, events and (for a formula) indicators or cycles, naming what is wrong.

    `indicators` are the other definitions a derived indicator may read; None skips that check.
    """
    if definition.source == "derived":
        if indicators is not None:
            check_formula(definition, indicators)
        return
    columns = source_columns(definition.source)
    where = f"indicator {definition.name}"
    named = [definition.column] if definition.column else []
    named += [f.column for f in definition.filters if f.column]
    for column in named:
        if column.startswith("properties.") and definition.source == "events":
            continue
        if column not in columns:
            raise ValidationError(
                f"{where}: unknown column {column!r} of {definition.source} "
                f"(columns: {', '.join(sorted(columns))})"
            )
    if definition.event is not None and known_events and definition.event not in known_events:
        raise ValidationError(f"{where}: unknown event {definition.event!r} (never collected or imported)")


def check_formula(definition: IndicatorDef, indicators: Mapping[str, IndicatorDef]) -> None:
    """A formula reads indicators that exist, numeric ones, and closes no cycle through other formulas."""
    everything = {**indicators, definition.name: definition}
    for name in definition.inputs():
        used = everything.get(name)
        if used is None:
            raise ValidationError(f"indicator {definition.name}: formula reads unknown indicator {name!r}")
        if used.aggregation in ("first", "last", "value") and used.source != "derived":
            raise ValidationError(
                f"indicator {definition.name}: formula reads {name!r}, whose {used.aggregation} "
                "may not be a number"
            )
    evaluation_order({d.name: d.inputs() for d in everything.values() if d.source == "derived"})
