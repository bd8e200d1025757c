"""Event trends against pandas on random events around Beijing midnight."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import exchange_calendars
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
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
        st.integers(-600, 14 * 1440),
        st.sampled_from(["x", "y", "z"]),
        st.one_of(st.none(), st.integers(-5, 500)),
    ),
    min_size=1,
    max_size=50,
)
XSHG = exchange_calendars.get_calendar("XSHG")


@settings(max_examples=100, deadline=None)
@example(  # a Saturday's view counts toward Monday's trading day
    data=[("P1", "view", 11 * 1440 + 60, "x", 3)], unit="trading_day", grouped=False, measure="sum"
)
@given(
    data=rows,
    unit=st.sampled_from(["day", "week", "month", "trading_day"]),
    grouped=st.booleans(),
    measure=st.sampled_from(["sum", "avg", "max"]),
)
def test_trend_matches_pandas(
    data: list[tuple[str, str, int, str, int | None]], unit: str, grouped: bool, measure: str
) -> None:
    """Counts, customers and the measure per period (and group), the totals and a comparison week."""
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(data))],
            "distinct_id": [r[0] for r in data],
            "event": [r[1] for r in data],
            "time": [BASE + timedelta(minutes=r[2]) for r in data],
            "properties": [
                json.dumps({"kind": r[3]} | ({} if r[4] is None else {"amount": r[4]})) for r in data
            ],
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
            first, last = date(2026, 3, 16), date(2026, 3, 22)
            got = event_trend(
                env=container.tag_env,
                event="view",
                start=first,
                end=last,
                unit=unit,  # type: ignore[arg-type]
                by="kind" if grouped else None,
                measure=f"{measure}:amount",
                compare_from=first - timedelta(days=7),
            )
        finally:
            container.close()
    views = _views(frame, first, last, unit)
    keys = ["period", "kind"] if grouped else ["period"]
    want = sorted(
        (
            str(k[0].date()) if grouped else str(k.date()),
            *((k[1],) if grouped else ()),
            len(g),
            g["distinct_id"].nunique(),
            _aggregate(g["amount"], measure),
        )
        for k, g in views.groupby(keys if grouped else "period")
    )
    have = sorted(
        (r["date"], *((r["group"],) if grouped else ()), r["count"], r["customers"], _round(r["value"]))
        for r in got["series"]
    )
    assert have == want
    earlier = _views(frame, first - timedelta(days=7), last - timedelta(days=7), unit)
    total = got["comparison"]["total"]
    assert (total["count"], total["customers"]) == (len(earlier), earlier["distinct_id"].nunique())
    assert total["value"] == pytest.approx(_aggregate(earlier["amount"], measure))
    assert got["total"]["customers"] == views["distinct_id"].nunique()


def _views(frame: pd.DataFrame, first: date, last: date, unit: str) -> pd.DataFrame:
    """The view events on Beijing days first..last with their period, kind and amount (brute force)."""
    local = frame["time"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).dt.normalize()
    views = frame[(frame["event"] == "view") & (local.dt.date >= first) & (local.dt.date <= last)].copy()
    day = local[views.index]
    sessions = [XSHG.date_to_session(d, direction="next").tz_localize(None) for d in day]
    views["period"] = {
        "day": day,
        "week": day - pd.to_timedelta(day.dt.day_of_week, unit="D"),
        "month": day.dt.to_period("M").dt.to_timestamp(),
        "trading_day": pd.Series(sessions, index=day.index, dtype="datetime64[ns]"),
    }[unit]
    views["kind"] = [json.loads(p)["kind"] for p in views["properties"]]
    views["amount"] = [json.loads(p).get("amount") for p in views["properties"]]
    return views


def _aggregate(values: pd.Series, how: str) -> float | None:
    present = values.dropna().astype(float)
    if present.empty:
        return None
    return _round(float({"sum": present.sum(), "avg": present.mean(), "max": present.max()}[how]))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
