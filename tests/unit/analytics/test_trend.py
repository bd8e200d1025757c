"""Event trends against pandas on random events around Beijing midnight and across exchange holidays; trading
days come from exchange-calendars' XSHG directly, never from the project's own calendar."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import exchange_calendars
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from support import examples
from touchpoint.analytics.trend import event_trend
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_arrow

XSHG = exchange_calendars.get_calendar("XSHG")
# Beijing midnights at which the random events start: the 2025 National Day closure (10-01..10-08, the
# Saturday 10-11 a make-up working day on which the exchange stays shut), the 2026 Spring Festival closure
# (02-16..02-23) and two ordinary March weeks.
SEASONS = [
    datetime(2025, 9, 25, 16, 0, tzinfo=UTC),
    datetime(2026, 2, 9, 16, 0, tzinfo=UTC),
    datetime(2026, 3, 9, 16, 0, tzinfo=UTC),
]
rows = st.lists(
    st.tuples(
        st.sampled_from(["P1", "P2", "P3", "P4"]),
        st.sampled_from(["view", "buy"]),
        st.integers(-600, 18 * 1440),
        st.sampled_from(["x", "y", "z"]),
        st.one_of(st.none(), st.integers(-5, 500)),
    ),
    min_size=1,
    max_size=50,
)


def _frame(data: list[tuple[str, str, int, str, int | None]], base: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(data))],
            "distinct_id": [r[0] for r in data],
            "event": [r[1] for r in data],
            "time": [base + timedelta(minutes=r[2]) for r in data],
            "properties": [
                json.dumps({"kind": r[3]} | ({} if r[4] is None else {"amount": r[4]})) for r in data
            ],
        }
    )


def _container(home: str, frame: pd.DataFrame) -> Container:
    latest = frame["time"].max().to_pydatetime()
    container = build(load_settings(Path(home)), clock=VirtualClock(latest + timedelta(days=20)))
    import_arrow(
        env=container,
        principal=SYSTEM,
        table="events",
        data=pa.Table.from_pandas(frame, preserve_index=False),
        options=ImportOptions(force=True),
        source_name="e",
    )
    return container


@settings(max_examples=examples(100), deadline=None)
@example(  # a Saturday's view counts toward Monday's trading day
    data=[("P1", "view", 4 * 1440 + 60, "x", 3)], season=2, offset=0, length=6, back=7, unit="trading_day",
    grouped=False, measure="sum",
)  # fmt: skip
@example(  # the whole National Day closure rolls onto 10-09, the first trading day after it
    data=[("P1", "view", 6 * 1440, "x", 1), ("P2", "view", 13 * 1440 - 1, "y", 2),
          ("P1", "view", 14 * 1440, "x", 4)],
    season=0, offset=13, length=0, back=8, unit="trading_day", grouped=True, measure="max",
)  # fmt: skip
@example(  # a range of closed days only holds no trading day: nothing, not the next trading day's events
    data=[("P1", "view", 12 * 1440 + 600, "x", 1)], season=0, offset=12, length=0, back=1, unit="trading_day",
    grouped=False, measure="avg",
)  # fmt: skip
@example(  # the Spring Festival week: the range's first day is the last closed day
    data=[("P3", "view", 6 * 1440 + 5, "z", 1), ("P3", "view", 14 * 1440 - 1, "z", 2)],
    season=1, offset=13, length=1, back=10, unit="trading_day", grouped=False, measure="sum",
)  # fmt: skip
@given(
    data=rows,
    season=st.integers(0, len(SEASONS) - 1),
    offset=st.integers(0, 14),
    length=st.integers(0, 6),
    back=st.integers(1, 10),
    unit=st.sampled_from(["day", "week", "month", "trading_day"]),
    grouped=st.booleans(),
    measure=st.sampled_from(["sum", "avg", "max"]),
)
def test_trend_matches_pandas(
    data: list[tuple[str, str, int, str, int | None]],
    season: int,
    offset: int,
    length: int,
    back: int,
    unit: str,
    grouped: bool,
    measure: str,
) -> None:
    """Counts, customers and the measure per period (and group), the totals and a comparison period."""
    assume(any(r[1] == "view" for r in data))  # the trend of an event never seen is refused
    base = SEASONS[season]
    frame = _frame(data, base)
    first = base.date() + timedelta(days=1 + offset)  # SEASONS are 16:00 UTC: the Beijing day is the next
    last = first + timedelta(days=length)
    compare_from = first - timedelta(days=back)
    with tempfile.TemporaryDirectory() as home:
        container = _container(home, frame)
        try:
            got = event_trend(
                env=container,
                event="view",
                start=first,
                end=last,
                unit=unit,  # type: ignore[arg-type]
                by="kind" if grouped else None,
                measure=f"{measure}:amount",
                compare_from=compare_from,
            )
        finally:
            container.close()
    views = _views(frame, first, last, unit)
    assert _series(got["series"], grouped) == _expected(views, grouped, measure)
    assert got["total"]["count"] == len(views)
    assert got["total"]["customers"] == views["distinct_id"].nunique()
    assert got["total"]["value"] == pytest.approx(_aggregate(views["amount"], measure))
    earlier = _views(frame, compare_from, compare_from + (last - first), unit)
    total = got["comparison"]["total"]
    assert (total["count"], total["customers"]) == (len(earlier), earlier["distinct_id"].nunique())
    assert total["value"] == pytest.approx(_aggregate(earlier["amount"], measure))


NATIONAL_DAY = [  # (customer, Beijing wall-clock time) of `view` events around the 2025 closure
    ("P1", datetime(2025, 9, 29, 10, 0)),
    ("P2", datetime(2025, 9, 30, 23, 59)),
    ("P1", datetime(2025, 10, 1, 0, 0)),
    ("P3", datetime(2025, 10, 3, 12, 0)),
    ("P1", datetime(2025, 10, 7, 9, 0)),
    ("P2", datetime(2025, 10, 8, 9, 0)),
    ("P3", datetime(2025, 10, 8, 23, 59)),
    ("P1", datetime(2025, 10, 9, 0, 0)),
    ("P4", datetime(2025, 10, 11, 10, 0)),
    ("P4", datetime(2025, 10, 12, 10, 0)),
    ("P2", datetime(2025, 10, 13, 0, 0)),
]


@pytest.mark.parametrize(
    ("first", "last", "want"),
    [
        # The case: the closure's events all count on 10-09, whichever closed day the range starts on.
        ("2025-10-07", "2025-10-12", [("2025-10-09", 6, 3)]),
        ("2025-10-09", "2025-10-09", [("2025-10-09", 6, 3)]),
        ("2025-10-08", "2025-10-08", []),  # no trading day in the range: nothing, not 10-09's two
        ("2025-10-01", "2025-10-08", []),
        ("2025-10-09", "2025-10-13", [("2025-10-09", 6, 3), ("2025-10-13", 3, 2)]),
        ("2025-10-10", "2025-10-12", []),  # the make-up Saturday 10-11 is no trading day
        ("2025-09-30", "2025-10-08", [("2025-09-30", 1, 1)]),
        ("2025-09-29", "2025-10-09", [("2025-09-29", 1, 1), ("2025-09-30", 1, 1), ("2025-10-09", 6, 3)]),
    ],
)
def test_trading_day_range_holds_buckets_not_beijing_days(
    tmp_path: Path, first: str, last: str, want: list[tuple[str, int, int]]
) -> None:
    """An event belongs to the range exactly when its trading day (closed days rolled forward) lies in it."""
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(NATIONAL_DAY))],
            "distinct_id": [who for who, _ in NATIONAL_DAY],
            "event": "view",
            "time": [pd.Timestamp(at, tz="Asia/Shanghai").tz_convert("UTC") for _, at in NATIONAL_DAY],
            "properties": json.dumps({"kind": "x"}),
        }
    )
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    container = _container(str(tmp_path), frame)
    try:
        got = event_trend(env=container, event="view", start=start, end=end, unit="trading_day")
    finally:
        container.close()
    views = _views(frame, start, end, "trading_day")
    brute = [(str(k.date()), len(g), g["distinct_id"].nunique()) for k, g in views.groupby("period")]
    assert brute == want  # the literal figures are the brute force's, written out for the reader
    assert [(r["date"], r["count"], r["customers"]) for r in got["series"]] == want
    assert (got["total"]["count"], got["total"]["customers"]) == (len(views), views["distinct_id"].nunique())


def _views(frame: pd.DataFrame, first: date, last: date, unit: str) -> pd.DataFrame:
    """The view events in the range with their period, kind and amount (brute force). Days, weeks and
    months cut the range by Beijing day; a trading day is the day's XSHG session or the next one, and the
    range holds the events whose trading day lies in it."""
    local = frame["time"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).dt.normalize()
    sessions = pd.Series(
        [XSHG.date_to_session(d, direction="next").tz_localize(None) for d in local],
        index=frame.index,
        dtype="datetime64[ns]",
    )
    period = {
        "day": local,
        "week": local - pd.to_timedelta(local.dt.day_of_week, unit="D"),
        "month": local.dt.to_period("M").dt.to_timestamp(),
        "trading_day": sessions,
    }[unit]
    placed = sessions if unit == "trading_day" else local
    chosen = (frame["event"] == "view") & (placed.dt.date >= first) & (placed.dt.date <= last)
    views = frame[chosen].copy()
    views["period"] = period[chosen]
    views["kind"] = [json.loads(p)["kind"] for p in views["properties"]]
    views["amount"] = [json.loads(p).get("amount") for p in views["properties"]]
    return views


def _expected(views: pd.DataFrame, grouped: bool, measure: str) -> list[tuple[Any, ...]]:
    keys = ["period", "kind"] if grouped else ["period"]
    return sorted(
        (
            str(k[0].date()),
            *((k[1],) if grouped else ()),
            len(g),
            g["distinct_id"].nunique(),
            _aggregate(g["amount"], measure),
        )
        for k, g in views.groupby(keys)
    )


def _series(series: list[dict[str, Any]], grouped: bool) -> list[tuple[Any, ...]]:
    return sorted(
        (r["date"], *((r["group"],) if grouped else ()), r["count"], r["customers"], _round(r["value"]))
        for r in series
    )


def _aggregate(values: pd.Series, how: str) -> float | None:
    present = values.dropna().astype(float)
    if present.empty:
        return None
    return _round(float({"sum": present.sum(), "avg": present.mean(), "max": present.max()}[how]))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
