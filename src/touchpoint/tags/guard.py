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
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from touchpoint.core.errors import ConflictError
from touchpoint.indicators import IndicatorDef
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.store import AnalyticalStore, PartitionInfo
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

    `indicators` and `values` are the new result's indicator and tag tables (both with `uid` and
    `customer_no`). The previous result is the newest computed date on or before `day` (the same date when it
    is being recomputed); without one there is nothing to compare with.
    """
    guard = MissingInputsGuard(analytics=analytics, day=day, definitions=definitions, tags=tags)
    guard.add(indicators, values)
    return guard.problem(max_share)


class MissingInputsGuard:
    """The comparison with the previous result, made one range of customers at a time and summed.

    Each `add` gives a range of the new result (uids ascending from one range to the next); the previous
    result is read for the same uids only, so the whole of neither is ever held.
    """

    def __init__(
        self,
        *,
        analytics: AnalyticalStore,
        day: date,
        definitions: Mapping[str, IndicatorDef],
        tags: Sequence[TagDef],
    ) -> None:
        self.definitions = definitions
        self.tags = list(tags)
        self.before = analytics.latest_partition_on_or_before(TAG_VALUES.name, day)
        self._old: tuple[Stored, Stored] | None = None  # (indicators, tags)
        if self.before is not None:
            old_tags = Stored.of(analytics, TAG_VALUES.name, self.before)
            old_indicators = Stored.of(analytics, INDICATOR_VALUES.name, self.before)
            if old_tags is not None and old_indicators is not None:
                self._old = (old_indicators, old_tags)
        self._moved: dict[str, MovedTag] = {}

    def add(self, indicators: pa.Table, values: pa.Table) -> None:
        """Compare one range of the new result (its indicator and tag tables, the same customers) with the
        previous result of the same uids."""
        if self._old is None or indicators.num_rows == 0:
            return
        uids = indicators["uid"]
        low, high = pc.min(uids).as_py(), pc.max(uids).as_py()
        previous = Results(self._old[0].within(low, high), self._old[1].within(low, high))
        old, new = _aligned(previous, Results(InMemory(indicators), InMemory(values)))
        if len(new.indicators.column("customer_no")) == 0:
            return
        lost: dict[str, np.ndarray] = {}
        for tag in self.tags:
            found = _moved(tag, old, new, lost)
            if found is not None:
                self._moved[tag.name] = _summed(self._moved.get(tag.name), found)

    def problem(self, max_share: float = MAX_SHARE) -> str | None:
        """Why the result added so far should not replace the previous one, or None when it may."""
        moved = [m for m in self._moved.values() if m.moved > max_share * m.customers]
        if not moved or self.before is None:
            return None
        return _message(moved, self.before, self.definitions, max_share)


def _summed(total: MovedTag | None, more: MovedTag) -> MovedTag:
    if total is None:
        return more
    missing = dict(total.missing)
    for name, count in more.missing.items():
        missing[name] = missing.get(name, 0) + count
    return MovedTag(
        tag=more.tag,
        moved=total.moved + more.moved,
        customers=total.customers + more.customers,
        missing=missing,
    )


class Columns(Protocol):
    """One table of a result: its column names, and a column's values in the compared customers' order."""

    @property
    def names(self) -> frozenset[str]:
        """The table's columns."""
        ...

    def column(self, name: str) -> pa.ChunkedArray:
        """The values of one column."""
        ...

    def at(self, rows: pa.Array) -> Columns:
        """The same table read at those row positions, in that order."""
        ...


@dataclass(frozen=True)
class InMemory:
    """A table the computation holds."""

    table: pa.Table
    rows: pa.Array | None = None

    @property
    def names(self) -> frozenset[str]:
        """The table's columns."""
        return frozenset(self.table.column_names)

    def column(self, name: str) -> pa.ChunkedArray:
        """The values of one column at the rows compared."""
        values = self.table[name]
        return values if self.rows is None else values.take(self.rows)

    def at(self, rows: pa.Array) -> InMemory:
        """The same table at those row positions."""
        return InMemory(self.table, rows)


@dataclass(frozen=True)
class Stored:
    """A stored result's table, each column decoded when asked for and dropped after use: the comparison
    needs one or two columns at a time, and a whole result of a million customers is most of a gigabyte.
    Every column is read from the version current when the comparison began, even if another computation
    commits meanwhile (the files of a replaced version are kept for a grace period)."""

    analytics: AnalyticalStore
    table: str
    info: PartitionInfo
    names: frozenset[str]
    rows: pa.Array | None = None
    uids: tuple[int, int] | None = None

    @classmethod
    def of(cls, analytics: AnalyticalStore, table: str, dt: date) -> Stored | None:
        """The table's partition of `dt` as it is now, or None when there is none."""
        info = next((p for p in analytics.partitions(table) if p.dt == dt), None)
        if info is None:
            return None
        return cls(analytics, table, info, frozenset(analytics.version_columns(table, info)))

    def column(self, name: str) -> pa.ChunkedArray:
        """The values of one column at the rows compared."""
        where = None if self.uids is None else ("uid", *self.uids)
        read = self.analytics.read_version(self.table, self.info, columns=[name], where_range=where)
        return read[name] if self.rows is None else read[name].take(self.rows)

    def at(self, rows: pa.Array) -> Stored:
        """The same table at those row positions."""
        return Stored(self.analytics, self.table, self.info, self.names, rows, self.uids)

    def within(self, low: int, high: int) -> Stored:
        """The same table restricted to the uids between low and high (read from the row groups that may
        hold them: the stored results are sorted by uid)."""
        return Stored(self.analytics, self.table, self.info, self.names, None, (low, high))


@dataclass(frozen=True)
class Results:
    """One computation's indicator and tag tables, each with a `customer_no` column."""

    indicators: Columns
    tags: Columns


def _aligned(old: Results, new: Results) -> tuple[Results, Results]:
    """Both results restricted to the customers all four tables hold, row i the same customer in each.

    Positions come from hash lookups of the customer numbers (Arrow's `index_in`), not from a pandas
    index: at a million customers a label lookup costs seconds per column. Tables that already list the
    same customers in the same order (the usual day) are used as they are.
    """
    customers = new.indicators.column("customer_no")
    others = [side.column("customer_no") for side in (old.indicators, old.tags, new.tags)]
    if all(numbers.equals(customers) for numbers in others):
        return old, new
    positions = [pc.index_in(customers, value_set=numbers) for numbers in others]
    held = pc.and_(pc.and_(pc.is_valid(positions[0]), pc.is_valid(positions[1])), pc.is_valid(positions[2]))
    old_rows, old_tag_rows, new_tag_rows = (p.filter(held) for p in positions)
    aligned_old = Results(old.indicators.at(old_rows), old.tags.at(old_tag_rows))
    return aligned_old, Results(new.indicators.at(pc.indices_nonzero(held)), new.tags.at(new_tag_rows))


def _moved(tag: TagDef, old: Results, new: Results, lost: dict[str, np.ndarray]) -> MovedTag | None:
    """How many customers' values of `tag` changed while an indicator it reads went missing.

    `lost` remembers, per indicator, where it had a value before and has none now (tags share inputs).
    """
    if tag.kind == "imported" or tag.name not in old.tags.names or tag.name not in new.tags.names:
        return None
    both = old.indicators.names & new.indicators.names
    reads = [i for i in lineage(tag)["indicators"] if i in both]
    if not reads:
        return None
    for i in reads:
        if i not in lost:
            went = pc.and_(pc.is_valid(old.indicators.column(i)), pc.is_null(new.indicators.column(i)))
            lost[i] = went.to_numpy(zero_copy_only=False)
    changed = _differs(old.tags.column(tag.name), new.tags.column(tag.name))
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
