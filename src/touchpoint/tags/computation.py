"""The daily computation's labelling, one range of customers at a time (ADR 0004).

The engine has written every customer's indicators (and the attributes the tags read) to staged Parquet in
uid order. Each range of rows is labelled, compared with the previous result, appended to the new
indicator and tag snapshots, and its members OR-ed into the tag bitmaps: this process holds one range's
frame, not every customer's indicators. What still grows with the population: the bitmaps (~2 bytes per
customer per tag), One ID's lookup tables, uploaded tags' values and the model tags' training sample (at
most MODEL_SAMPLE_ROWS). Nothing is committed until the last range is done and the guard has allowed the
result; then the indicator snapshot, the tag snapshot and the bitmaps are committed in that order, each
by its own atomic rename.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa
from pyroaring import BitMap

from touchpoint.core.progress import StageProgress
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.store import AnalyticalStore
from touchpoint.store.analytical.streamed import StagedResult
from touchpoint.tags.evaluate import Labels, bucket_values, rule_values
from touchpoint.tags.guard import MissingInputsError, MissingInputsGuard
from touchpoint.tags.layout import TAG_BITMAPS, TAG_VALUES
from touchpoint.tags.learn import FittedModel
from touchpoint.tags.model import TagDef

COMPUTE_RANGE_ROWS = 500_000
"""Customers labelled at a time: one range's frame (every indicator and attribute a tag reads, as pandas) is
what the computation holds of the customers' indicators."""


@dataclass(frozen=True)
class PreparedTags:
    """Tags ready to label any rows: model tags fitted on the day's data, uploaded values loaded."""

    tags: Sequence[TagDef]
    models: Mapping[str, FittedModel] = field(default_factory=dict)
    imported: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def label(self, frame: pd.DataFrame) -> dict[str, Labels]:
        """Every tag's value for every row of `frame` (indicators and attributes side by side)."""
        values: dict[str, Labels] = {}
        for tag in self.tags:
            if tag.kind == "rule":
                values[tag.name] = rule_values(tag, frame)
            elif tag.kind == "bucket":
                values[tag.name] = bucket_values(tag, frame)
            elif tag.kind == "model":
                values[tag.name] = self.models[tag.name].bands(frame)
            else:
                listed = self.imported[tag.name]
                values[tag.name] = Labels.of(frame["customer_no"].map(listed).to_numpy(dtype=object))
        return values

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """Each model tag's training metrics."""
        return {name: fitted.metrics for name, fitted in self.models.items()}


def write_snapshots(
    *,
    analytics: AnalyticalStore,
    day: date,
    staged: StagedResult,
    indicators: Sequence[str],
    reads: Sequence[str],
    prepared: PreparedTags,
    guard: MissingInputsGuard,
    force: bool,
    range_rows: int = COMPUTE_RANGE_ROWS,
    progress: StageProgress | None = None,
) -> str | None:
    """Label `staged` range by range, write the indicator and tag snapshots and the bitmaps of `day`.

    `indicators` are the staged columns that are indicators, `reads` those (indicators and attributes)
    the tags read. Raises MissingInputsError, committing nothing, when the guard refuses the result and
    not `force`; returns the guard's objection a forced run accepted, else None.
    """
    indicator_columns = ["uid", "customer_no", *indicators]
    indicator_schema = pa.schema([staged.schema.field(c) for c in indicator_columns])
    tag_schema = pa.schema(
        [("uid", pa.int64()), ("customer_no", pa.string()), *((t.name, pa.string()) for t in prepared.tags)]
    )
    frame_columns = ["customer_no", *(c for c in reads if c in staged.schema.names and c != "customer_no")]
    members: dict[str, dict[str, BitMap]] = {t.name: {} for t in prepared.tags}
    report = progress or (lambda _stage, _done, _total: None)
    total = staged.num_rows
    report("tags", 0, total)
    with (
        analytics.partition_writer(INDICATOR_VALUES.name, day, indicator_schema) as indicator_writer,
        analytics.partition_writer(TAG_VALUES.name, day, tag_schema) as tag_writer,
    ):
        for piece in staged.pieces(range_rows, list(dict.fromkeys([*indicator_columns, *frame_columns]))):
            values = prepared.label(piece.select(frame_columns).to_pandas())
            uids = piece["uid"]
            tag_piece = pa.table(
                {"uid": uids, "customer_no": piece["customer_no"]}
                | {name: labels.arrow() for name, labels in values.items()},
                schema=tag_schema,
            )
            indicator_piece = piece.select(indicator_columns)
            guard.add(indicator_piece, tag_piece)
            indicator_writer.write(indicator_piece)
            tag_writer.write(tag_piece)
            _gather(members, uids.to_numpy(), values)
            report("tags", indicator_writer.rows, total)
        problem = guard.problem()
        if problem is not None and not force:
            raise MissingInputsError(problem)
        analytics.commit_written(INDICATOR_VALUES.name, {day: indicator_writer})
        analytics.commit_written(TAG_VALUES.name, {day: tag_writer})
    analytics.replace_partitions(TAG_BITMAPS.name, {day: bitmap_table(members)})
    return problem


def _gather(members: dict[str, dict[str, BitMap]], uids: Any, values: Mapping[str, Labels]) -> None:
    """OR one range's members of each tag value into the whole population's bitmaps."""
    for tag, labels in values.items():
        held = members[tag]
        for value, bitmap in labels.members(uids).items():
            if value in held:
                held[value] |= bitmap
            else:
                held[value] = bitmap


def bitmap_table(members: Mapping[str, Mapping[str, BitMap]]) -> pa.Table:
    """The bitmaps snapshot: one row per tag value any customer holds, values in order within a tag.

    Each bitmap is run-optimised first, which also makes its bytes depend on its members only, not on how
    many ranges it was OR-ed from (dense uid runs get smaller too).
    """
    for values in members.values():
        for bitmap in values.values():
            bitmap.run_optimize()
    rows = [
        {"tag": tag, "value": value, "count": len(bitmap), "bitmap": bitmap.serialize()}
        for tag, values in members.items()
        for value, bitmap in sorted(values.items())
    ]
    return pa.Table.from_pylist(rows, schema=TAG_BITMAPS.schema)
