"""Checks that an indicator reads things that exist: columns of its source, known events."""

from __future__ import annotations

from collections.abc import Collection

from touchpoint.core.errors import ValidationError
from touchpoint.indicators.model import IndicatorDef
from touchpoint.ingest import TABLES

EXTRA_COLUMNS = {"dt", "attributes"}


def source_columns(source: str) -> set[str]:
    """The columns an indicator may read from a canonical table."""
    return set(TABLES[source].column_names) | EXTRA_COLUMNS


def check_indicator(definition: IndicatorDef, known_events: Collection[str]) -> None:
    """Refuse unknown columns and events, naming the indicator and what is wrong."""
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
