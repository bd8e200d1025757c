"""Checks that an indicator reads things that exist: columns of its source, known events."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from touchpoint.core.errors import ValidationError
from touchpoint.indicators.formula import evaluation_order
from touchpoint.indicators.model import IndicatorDef
from touchpoint.ingest import TABLES
from touchpoint.ingest.model import Kind

EXTRA_COLUMNS = {"dt", "attributes"}
NUMERIC_KINDS = {Kind.INT, Kind.FLOAT, Kind.BOOL}
# Business events the default library and the native back-end integration define; an indicator may name
# them before the first one arrives (a small brokerage may see its first IPO forfeit months after install).
CATALOGUE_EVENTS = frozenset(
    {
        "$AppStart",
        "$pageview",
        "login",
        "content_view",
        "fund_detail_view",
        "fund_compare",
        "fund_subscribe",
        "autoinvest_plan_create",
        "autoinvest_deduction",
        "autoinvest_deduction_failed",
        "ipo_subscribe",
        "ipo_allotment",
        "ipo_payment",
        "ipo_forfeit",
        "message_clicked",
    }
)


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
    known = set(known_events) | CATALOGUE_EVENTS
    if definition.event is not None and known_events and definition.event not in known:
        raise ValidationError(f"{where}: unknown event {definition.event!r} (never collected or imported)")


def check_formula(definition: IndicatorDef, indicators: Mapping[str, IndicatorDef]) -> None:
    """A formula reads indicators that exist, numeric ones, and closes no cycle through other formulas."""
    everything = {**indicators, definition.name: definition}
    for name in definition.inputs():
        used = everything.get(name)
        if used is None:
            raise ValidationError(f"indicator {definition.name}: formula reads unknown indicator {name!r}")
        if not gives_number(used):
            raise ValidationError(
                f"indicator {definition.name}: formula reads {name!r}, whose {used.aggregation} "
                "may not be a number"
            )
    evaluation_order({d.name: d.inputs() for d in everything.values() if d.source == "derived"})


def gives_number(definition: IndicatorDef) -> bool:
    """Whether an indicator's values are numbers (first/last/value of a text column are not)."""
    if definition.aggregation not in ("first", "last", "value"):
        return True
    column = definition.column or ""
    if column.startswith("properties.") or column in EXTRA_COLUMNS:
        return False
    return TABLES[definition.source].column(column).kind in NUMERIC_KINDS
