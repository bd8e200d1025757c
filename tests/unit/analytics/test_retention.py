"""Retention against a plain per-customer count of the stated semantics, on random events near midnight."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support import import_events
from touchpoint.analytics.retention import retention
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError

BASE = datetime(2026, 1, 4, 16, 0, tzinfo=UTC)  # 2026-01-05 00:00 Beijing, a Monday
rows = st.lists(
    st.tuples(
        st.sampled_from(["P1", "P2", "P3", "P4"]),
        st.sampled_from(["open", "trade"]),
        st.integers(-2 * 1440, 70 * 1440),
    ),
    min_size=1,
    max_size=60,
)


def _load(container: Container, data: list[tuple[str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(data))],
            "distinct_id": [r[0] for r in data],
            "event": [r[1] for r in data],
            "time": [BASE + timedelta(minutes=r[2]) for r in data],
        }
    )
    import_events(container, frame)
    return frame


def _period(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def _index(day: date, unit: str) -> int:
    if unit == "month":
        return day.year * 12 + day.month
    return day.toordinal() // 7 if unit == "week" else day.toordinal()


def _brute_force(frame: pd.DataFrame, first: date, last: date, n: int, unit: str, first_time: bool) -> dict:  # type: ignore[type-arg]
    local = [t.tz_convert("Asia/Shanghai").date() for t in frame["time"]]
    facts = [(p, e, d) for p, e, d in zip(frame["distinct_id"], frame["event"], local, strict=True)]
    cohorts: dict[date, set[str]] = {}
    for person, event, day in facts:
        if event != "open" or not first <= day <= last:
            continue
        period = _period(day, unit)
        if first_time and any(e == "open" and _period(d, unit) < period for p, e, d in facts if p == person):
            continue
        cohorts.setdefault(period, set()).add(person)
    result = {}
    for period, people in cohorts.items():
        retained = []
        for k in range(1, n + 1):
            back = {
                p
                for p, e, d in facts
                if e == "trade" and _index(_period(d, unit), unit) - _index(period, unit) == k
            }
            retained.append(len(people & back))
        result[period.isoformat()] = (len(people), retained)
    return result


@settings(max_examples=50, deadline=None)
@given(
    data=rows,
    unit=st.sampled_from(["day", "week", "month"]),
    n=st.integers(1, 4),
    first_time=st.booleans(),
    offset=st.integers(0, 20),
    length=st.integers(0, 30),
)
def test_retention_matches_brute_force(
    data: list[tuple[str, str, int]], unit: str, n: int, first_time: bool, offset: int, length: int
) -> None:
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(BASE + timedelta(days=90)))
        try:
            frame = _load(container, data)
            if not {"open", "trade"} <= set(frame["event"]):
                return
            first = date(2026, 1, 5) + timedelta(days=offset)
            last = first + timedelta(days=length)
            got = retention(
                env=container.tag_env,
                start_event="open",
                return_event="trade",
                start=first,
                end=last,
                periods=n,
                unit=unit,  # type: ignore[arg-type]
                first_time=first_time,
            )
        finally:
            container.close()
    have = {c["start"]: (c["size"], c["retained"]) for c in got["cohorts"]}
    assert have == _brute_force(frame, first, last, n, unit, first_time)


def test_bad_retention_queries_are_refused(sqlite_container: Container) -> None:
    _load(sqlite_container, [("P1", "open", 0), ("P1", "trade", 1500)])
    env = sqlite_container.tag_env
    with pytest.raises(ValidationError, match="periods 0"):
        retention(
            env=env,
            start_event="open",
            return_event="trade",
            start=date(2026, 1, 5),
            end=date(2026, 1, 6),
            periods=0,
        )
    with pytest.raises(ValidationError, match="unknown event"):
        retention(
            env=env,
            start_event="opn",
            return_event="trade",
            start=date(2026, 1, 5),
            end=date(2026, 1, 6),
            periods=3,
        )
    with pytest.raises(ValidationError, match="is after to"):
        retention(
            env=env,
            start_event="open",
            return_event="trade",
            start=date(2026, 1, 7),
            end=date(2026, 1, 6),
            periods=3,
        )
    table = retention(
        env=env,
        start_event="open",
        return_event="trade",
        start=date(2026, 1, 5),
        end=date(2026, 1, 5),
        periods=2,
    )
    assert table["cohorts"] == [{"start": "2026-01-05", "size": 1, "retained": [1, 0]}]
