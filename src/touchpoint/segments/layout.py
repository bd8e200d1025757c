"""Segment member snapshots: one Roaring bitmap of uids per segment per business date."""

from __future__ import annotations

import pyarrow as pa

from touchpoint.store import TableLayout

SEGMENT_MEMBERS = TableLayout(
    name="segment_members",
    schema=pa.schema([("segment", pa.string()), ("count", pa.int64()), ("bitmap", pa.binary())]),
    key=("segment",),
)
