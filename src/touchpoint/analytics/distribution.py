"""Distribution (分布): customers by how many times they did an event in a period (1, 2, 3–5, 6–10, …)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pyroaring import FrozenBitMap

from touchpoint.analytics.events import check_events, date_range, events_between
from touchpoint.core.durations import DayRef
from touchpoint.segments.model import PropertyFilter
from touchpoint.tags.service import TagEnv

# Lower bounds of each bucket; the last is open-ended.
BUCKETS = [1, 2, 3, 6, 11, 21, 51, 101]


def distribution(
    *,
    env: TagEnv,
    event: str,
    start: DayRef,
    end: DayRef,
    where: list[PropertyFilter] | None = None,
    scope: FrozenBitMap | None = None,
) -> dict[str, Any]:
    """How many customers did the event 1, 2, 3–5, 6–10, 11–20, 21–50, 51–100 and over 100 times."""
    start, end = date_range(env, start, end)
    check_events(env, [event])
    frame: pd.DataFrame = events_between(env, [event], start, end, where, scope).select("person").to_pandas()
    per_person = frame.groupby("person").size().to_numpy()
    which = np.searchsorted(BUCKETS, per_person, side="right") - 1
    counts = np.bincount(which, minlength=len(BUCKETS)) if len(which) else np.zeros(len(BUCKETS), int)
    rows = []
    for i, low in enumerate(BUCKETS):
        high = BUCKETS[i + 1] - 1 if i + 1 < len(BUCKETS) else None
        label = str(low) if high == low else (f"{low}-{high}" if high else f"{low}+")
        rows.append({"times": label, "low": low, "high": high, "customers": int(counts[i])})
    return {"event": event, "from": start.isoformat(), "to": end.isoformat(), "buckets": rows}
