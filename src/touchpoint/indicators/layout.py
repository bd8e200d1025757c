"""Where indicator snapshots live in the analytical store: one wide row per customer per business date."""

from __future__ import annotations

import pyarrow as pa

from touchpoint.store import TableLayout

INDICATOR_VALUES = TableLayout(
    name="indicator_values",
    schema=pa.schema([("uid", pa.int64()), ("customer_no", pa.string())]),
    key=("uid",),
    open_schema=True,
)
