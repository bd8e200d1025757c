"""A segments Context over small snapshots written as a test lays them out (shared by tests/unit/segments)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
from pyroaring import BitMap

from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.ingest import analytical_layouts
from touchpoint.segments.context import Context, snapshot_data
from touchpoint.store import AnalyticalStore
from touchpoint.store.backends.duckdb import DuckDBBackend
from touchpoint.tags.layout import TAG_BITMAPS, TAG_VALUES

DAY = date(2026, 3, 31)


def make_context(
    root: Path,
    uids: list[int],
    indicators: dict[str, list[Any]] | None = None,
    indicator_uids: list[int] | None = None,
    tags: dict[str, dict[str, list[int]]] | None = None,
    cache_bytes: int = 1 << 20,
) -> Context:
    """A context over snapshots written as given (uids in the order listed, customer C<uid>), whose snapshot
    data keeps `cache_bytes` of indicator pieces."""
    store = AnalyticalStore(
        root,
        [*analytical_layouts(), TAG_VALUES, TAG_BITMAPS, INDICATOR_VALUES],
        DuckDBBackend(),
        derived_budget_bytes=cache_bytes,
    )
    numbers = [f"C{u}" for u in uids]
    store.replace_partitions(TAG_VALUES.name, {DAY: pa.table({"uid": uids, "customer_no": numbers})})
    rows = [
        {"tag": tag, "value": value, "count": len(members), "bitmap": BitMap(members).serialize()}
        for tag, values in (tags or {}).items()
        for value, members in values.items()
    ]
    store.replace_partitions(TAG_BITMAPS.name, {DAY: pa.Table.from_pylist(rows, TAG_BITMAPS.schema)})
    held = indicator_uids if indicator_uids is not None else uids
    values = pa.table({"uid": held, "customer_no": [f"C{u}" for u in held], **(indicators or {})})
    store.replace_partitions(INDICATOR_VALUES.name, {DAY: values})
    env: Any = SimpleNamespace(analytics=store)
    return Context(
        env=env,
        at=datetime(2026, 3, 31, 8, tzinfo=UTC),
        data=snapshot_data(store, DAY),
        segment_rule=lambda name: None,
        list_members=lambda name: [],
    )
