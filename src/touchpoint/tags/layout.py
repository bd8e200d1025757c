"""Tag snapshots (one wide row per customer per date) and their Roaring bitmaps (one row per tag value)."""

from __future__ import annotations

import pyarrow as pa

from touchpoint.store import TableLayout

TAG_VALUES = TableLayout(
    name="tag_values",
    schema=pa.schema([("uid", pa.int64()), ("customer_no", pa.string())]),
    key=("uid",),
    open_schema=True,
)
TAG_BITMAPS = TableLayout(
    name="tag_bitmaps",
    schema=pa.schema(
        [("tag", pa.string()), ("value", pa.string()), ("count", pa.int64()), ("bitmap", pa.binary())]
    ),
    key=("tag", "value"),
)
