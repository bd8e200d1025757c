"""A computation that would move many customers' tags because their inputs went missing stops instead.

A partial or late feed (an assets file for some customers only, a holdings file not yet delivered) leaves
indicators without a value; tags that read them then change for every customer the file left out. Compared
with the previous result, such a change is recognisable: the tag's value changed and an indicator it reads
had a value before and has none now. When that is true of more than `MAX_SHARE` of the customers in both
results for some tag, the computation stops with the cause and the previous result stays in place; an
operator who knows the data is right forces it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from touchpoint.core.errors import ConflictError
from touchpoint.indicators import IndicatorDef
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.store import AnalyticalStore
from touchpoint.tags.layout import TAG_VALUES
from touchpoint.tags.model import TagDef
from touchpoint.tags.references import lineage

MAX_SHARE = 0.2


class MissingInputsError(ConflictError):
    """Too many customers' tags would change because indicators they read lost their values."""


@dataclass(frozen=True)
class MovedTag:
    """One tag that would change for many customers whose inputs went missing."""

    tag: str
    moved: int
    customers: int
    missing: dict[str, int]  # indicator → customers who had a value before and have none now


def missing_input_problem(
    *,
    analytics: AnalyticalStore,
    day: date,
    definitions: Mapping[str, IndicatorDef],
    tags: Sequence[TagDef],
    indicators: pa.Table,
    values: pa.Table,
    max_share: float = MAX_SHARE,
) -> str | None:
    """Why this result should not replace the previous one, or None when it may.

    `indicators` and `values` are the new result's indicator and tag tables (both with `customer_no`).
    The previous result is the newest computed date on or before `day` (the same date when it is being
    recomputed); without one there is nothing to compare with.
    """
    before = analytics.latest_partition_on_or_before(TAG_VALUES.name, day)
    if before is None:
        return None
    read = {t.name: lineage(t)["indicators"] for t in tags if t.kind != "imported"}
    inputs = sorted(set().union(*read.values()))
    old_tags = _read(analytics, TAG_VALUES.name, before, list(read))
    old_indicators = _read(analytics, INDICATOR_VALUES.name, before, inputs)
    if old_tags is None or old_indicators is None:
        return None
    old, new = _aligned(
        Results(old_indicators, old_tags), Results(indicators, values).only(inputs, list(read))
    )
    if new.indicators.num_rows == 0:
        return None
    lost: dict[str, np.ndarray] = {}
    found = (_moved(tag, old, new, lost) for tag in tags)
    moved = [m for m in found if m is not None and m.moved > max_share * m.customers]
    return _message(moved, before, definitions, max_share) if moved else None


@dataclass(frozen=True)
class Results:
    """One computation's indicator and tag tables, each with a `customer_no` column."""

    indicators: pa.Table
    tags: pa.Table

    def only(self, indicators: Sequence[str], tags: Sequence[str]) -> Results:
        """The customer numbers and those of the indicator and tag columns the tables have."""
        return Results(_columns(self.indicators, indicators), _columns(self.tags, tags))

    def take(self, indicator_rows: pa.Array, tag_rows: pa.Array) -> Results:
        """The rows at those positions, in that order."""
        return Results(self.indicators.take(indicator_rows), self.tags.take(tag_rows))


def _read(analytics: AnalyticalStore, table: str, dt: date, names: Sequence[str]) -> pa.Table | None:
    """The customer numbers and those of `names` one stored result holds (only those are decoded)."""
    present = analytics.partition_columns(table, dt)
    if present is None:
        return None
    wanted = ["customer_no", *(n for n in names if n in present)]
    return analytics.read_partition(table, dt, columns=wanted)


def _columns(table: pa.Table, names: Sequence[str]) -> pa.Table:
    present = set(table.column_names)
    return table.select(["customer_no", *(n for n in names if n in present)])


def _aligned(old: Results, new: Results) -> tuple[Results, Results]:
    """Both results restricted to the customers all four tables hold, row i the same customer in each.

    Positions come from hash lookups of the customer numbers (Arrow's `index_in`), not from a pandas
    index: at a million customers a label lookup costs seconds per column. Tables that already list the
    same customers in the same order (the usual day) are used as they are.
    """
    customers = new.indicators["customer_no"]
    others = (old.indicators, old.tags, new.tags)
    if all(table["customer_no"].equals(customers) for table in others):
        return old, new
    positions = [pc.index_in(customers, value_set=table["customer_no"]) for table in others]
    held = pc.and_(pc.and_(pc.is_valid(positions[0]), pc.is_valid(positions[1])), pc.is_valid(positions[2]))
    rows = pc.indices_nonzero(held)
    old_rows, old_tag_rows, new_tag_rows = (p.filter(held) for p in positions)
    return old.take(old_rows, old_tag_rows), new.take(rows, new_tag_rows)


def _moved(tag: TagDef, old: Results, new: Results, lost: dict[str, np.ndarray]) -> MovedTag | None:
    """How many customers' values of `tag` changed while an indicator it reads went missing.

    `lost` remembers, per indicator, where it had a value before and has none now (tags share inputs).
    """
    names = (old.tags.column_names, new.tags.column_names)
    if tag.kind == "imported" or tag.name not in names[0] or tag.name not in names[1]:
        return None
    columns = (old.indicators.column_names, new.indicators.column_names)
    reads = [i for i in lineage(tag)["indicators"] if i in columns[0] and i in columns[1]]
    if not reads:
        return None
    for i in reads:
        if i not in lost:
            went = pc.and_(pc.is_valid(old.indicators[i]), pc.is_null(new.indicators[i]))
            lost[i] = went.to_numpy(zero_copy_only=False)
    changed = _differs(old.tags[tag.name], new.tags[tag.name])
    moved = int((np.logical_or.reduce([lost[i] for i in reads]) & changed).sum())
    missing = {i: int(lost[i].sum()) for i in reads if lost[i].any()}
    return MovedTag(tag=tag.name, moved=moved, customers=len(changed), missing=missing)


def _differs(old: pa.ChunkedArray, new: pa.ChunkedArray) -> np.ndarray:
    """Where two tag columns differ, a missing value being a value of its own."""
    both = pc.fill_null(pc.not_equal(old.cast(pa.string()), new.cast(pa.string())), True)
    same_missing = pc.and_(pc.is_null(old), pc.is_null(new))
    result: np.ndarray = pc.and_not(both, same_missing).to_numpy(zero_copy_only=False)
    return result


def _message(
    moved: Sequence[MovedTag], before: date, definitions: Mapping[str, IndicatorDef], max_share: float
) -> str:
    tags = ", ".join(f"{m.tag} {m.moved:,} of {m.customers:,} ({m.moved / m.customers:.0%})" for m in moved)
    missing: dict[str, int] = {}
    for m in moved:
        missing.update(m.missing)
    inputs = ", ".join(
        f"{name} ({'/'.join(sorted(_sources(name, definitions)))}) for {count:,}"
        for name, count in sorted(missing.items())
    )
    return (
        f"stopped: tags would change for more than {max_share:.0%} of customers because indicators they "
        f"read have no value where the result of {before} had one — {tags}. Missing now: {inputs} "
        "customers. A partial or late file? Import the complete one, or compute again with --force to "
        "accept it. The previous result stays in place."
    )


def _sources(name: str, definitions: Mapping[str, IndicatorDef]) -> set[str]:
    """The tables an indicator reads, through the formulas of derived ones."""
    definition = definitions.get(name)
    if definition is None:
        return set()
    if definition.source != "derived":
        return {definition.source}
    return set().union(*(_sources(i, definitions) for i in definition.inputs()))
