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
import pandas as pd
import pyarrow as pa

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
    values: Mapping[str, np.ndarray],
    max_share: float = MAX_SHARE,
) -> str | None:
    """Why this result should not replace the previous one, or None when it may.

    The previous result is the newest computed date on or before `day` (the same date when it is being
    recomputed); without one there is nothing to compare with.
    """
    before = analytics.latest_partition_on_or_before(TAG_VALUES.name, day)
    if before is None:
        return None
    old_tags = analytics.read_partition(TAG_VALUES.name, before)
    old_indicators = analytics.read_partition(INDICATOR_VALUES.name, before)
    if old_tags is None or old_indicators is None:
        return None
    now = indicators.to_pandas().set_index("customer_no")
    old = Results(
        old_indicators.to_pandas().set_index("customer_no"), old_tags.to_pandas().set_index("customer_no")
    )
    new = Results(now, pd.DataFrame(dict(values), index=now.index))
    common = old.indicators.index.intersection(now.index)
    if common.empty:
        return None
    found = (_moved(tag, old.on(common), new.on(common)) for tag in tags)
    moved = [m for m in found if m is not None and m.moved > max_share * m.customers]
    return _message(moved, before, definitions, max_share) if moved else None


@dataclass(frozen=True)
class Results:
    """One computation's indicator and tag values, indexed by customer number."""

    indicators: pd.DataFrame
    tags: pd.DataFrame

    def on(self, customers: pd.Index) -> Results:
        """The same results for `customers` only, in that order."""
        return Results(self.indicators.loc[customers], self.tags.loc[customers])


def _moved(tag: TagDef, old: Results, new: Results) -> MovedTag | None:
    """How many customers' values of `tag` changed while an indicator it reads went missing."""
    if tag.kind == "imported" or tag.name not in old.tags.columns or tag.name not in new.tags.columns:
        return None
    reads = [i for i in lineage(tag)["indicators"] if i in old.indicators.columns and i in new.indicators]
    if not reads:
        return None
    lost = {i: (old.indicators[i].notna() & new.indicators[i].isna()).to_numpy() for i in reads}
    changed = (old.tags[tag.name].fillna("\0") != new.tags[tag.name].fillna("\0")).to_numpy()
    moved = int((np.logical_or.reduce(list(lost.values())) & changed).sum())
    missing = {i: int(mask.sum()) for i, mask in lost.items() if mask.any()}
    return MovedTag(tag=tag.name, moved=moved, customers=len(changed), missing=missing)


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
