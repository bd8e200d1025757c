"""Event trends against pandas on random events around Beijing midnight."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint.analytics.trend import event_trend
from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_arrow

BASE = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)  # 2026-03-10 00:00 Beijing
rows = st.lists(
    st.tuples(
        st.sampled_from(["P1", "P2", "P3", "P4"]),
        st.sampled_from(["view", "buy"]),
        st.integers(-600, 10 * 1440),
        st.sampled_from(["x", "y", "z"]),
    ),
    min_size=1,
    max_size=50,
)


@settings(max_examples=40, deadline=None)
@given(data=rows, unit=st.sampled_from(["day", "week", "month"]), grouped=st.booleans())
def test_trend_matches_pandas(data: list[tuple[str, str, int, str]], unit: str, grouped: bool) -> None:
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(data))],
            "distinct_id": [r[0] for r in data],
            "event": [r[1] for r in data],
            "time": [BASE + timedelta(minutes=r[2]) for r in data],
            "properties": [json.dumps({"kind": r[3]}) for r in data],
        }
    )
    if "view" not in set(frame["event"]):
        return
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(BASE + timedelta(days=20)))
        try:
            import_arrow(
                env=container.import_env,
                principal=SYSTEM,
                table="events",
                data=pa.Table.from_pandas(frame, preserve_index=False),
                options=ImportOptions(force=True),
                source_name="e",
            )
            first, last = date(2026, 3, 10), date(2026, 3, 16)
            got = event_trend(
                env=container.tag_env,
                event="view",
                start=first,
                end=last,
                unit=unit,  # type: ignore[arg-type]
                by="kind" if grouped else None,
            )
        finally:
            container.close()
    local = frame["time"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).dt.normalize()
    views = frame[(frame["event"] == "view") & (local.dt.date >= first) & (local.dt.date <= last)].copy()
    day = local[views.index]
    views["period"] = {
        "day": day,
        "week": day - pd.to_timedelta(day.dt.day_of_week, unit="D"),
        "month": day.dt.to_period("M").dt.to_timestamp(),
    }[unit]
    views["kind"] = [json.loads(p)["kind"] for p in views["properties"]]
    keys = ["period", "kind"] if grouped else ["period"]
    want = sorted(
        (
            str(k[0].date()) if grouped else str(k.date()),
            *((k[1],) if grouped else ()),
            len(g),
            g["distinct_id"].nunique(),
        )
        for k, g in views.groupby(keys if grouped else "period")
    )
    have = sorted(
        (r["date"], *((r["group"],) if grouped else ()), r["count"], r["customers"]) for r in got["series"]
    )
    assert have == want
