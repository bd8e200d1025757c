"""Breakdowns (分组): label each event or customer by an event property, a profile attribute or a tag value,
keeping the top N labels and folding the rest into 其他."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from ibis.expr.types import Table

from touchpoint.core.errors import ValidationError
from touchpoint.indicators.properties import property_text
from touchpoint.tags.layout import TAG_VALUES
from touchpoint.tags.service import TagEnv, list_tags

OTHER = "其他"
MISSING = "(无)"
KINDS = ("property", "attribute", "tag")


@dataclass(frozen=True)
class Breakdown:
    """What to group by: `kind` is property (of the event), attribute (of the customer) or tag."""

    kind: str
    name: str

    @classmethod
    def parse(cls, text: str) -> Breakdown:
        """`amount` or `property:amount`, `attribute:branch`, `tag:asset_tier`."""
        kind, _, name = text.partition(":") if ":" in text else ("property", "", text)
        kind, name = kind.strip(), name.strip()
        if kind not in KINDS or not name:
            raise ValidationError(f"group by {text!r}: write NAME, property:NAME, attribute:NAME or tag:NAME")
        return cls(kind, name)


def with_property(table: Table, name: str) -> Table:
    """The events with a `group` column: the value of the property named exactly `name`, as text (a number
    or a boolean as its text, as indicators read it; null, a list or an object is no value)."""
    return table.mutate(group=property_text(table, name))


def customer_labels(env: TagEnv, by: Breakdown, day: date) -> pd.Series:
    """customer_no → the customer's attribute or tag value as text, as of the latest snapshot on or before
    `day` (else the earliest there is)."""
    analytics = env.analytics
    if by.kind == "tag":
        tag = list_tags(env=env).get(by.name)
        if tag is None:
            raise ValidationError(f"group by tag {by.name!r}: no such tag")
        # A sensitive tag is masked where one customer is shown; a breakdown shows only group counts.
        table_name, column = TAG_VALUES.name, by.name
    else:
        table_name, column = "customers", by.name
    snapshot = analytics.latest_partition_on_or_before(table_name, day)
    if snapshot is None:
        stored = analytics.partitions(table_name)
        if not stored:
            raise ValidationError(f"group by {by.kind} {by.name!r}: no {table_name} snapshot yet")
        snapshot = stored[0].dt
    table = analytics.read_partition(table_name, snapshot)
    assert table is not None
    if column not in table.column_names or column in ("customer_no", "attributes"):
        raise ValidationError(f"group by {by.kind} {by.name!r}: the {table_name} snapshot has no such column")
    frame = table.select(["customer_no", column]).to_pandas()
    labels: pd.Series = frame.set_index("customer_no")[column].map(_text)
    return labels


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return MISSING
    return str(value)


def top_labels(labels: pd.Series, weights: pd.Series, top: int) -> pd.Series:
    """Labels with all but the `top` heaviest (by the sum of `weights`) replaced by 其他; missing → (无)."""
    labels = labels.fillna(MISSING).astype(str)
    heaviest = weights.groupby(labels.to_numpy()).sum().sort_values(ascending=False, kind="stable")
    leaders = set(heaviest.index[:top])
    kept: pd.Series = labels.where(labels.isin(leaders), OTHER)
    return kept
