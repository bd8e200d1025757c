"""Retention against a plain per-customer count of the stated semantics, on random events near midnight."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from support import examples, import_events
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
    min_size=2,
    max_size=60,
)
DAY = 1440


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


TODAY = date(2026, 4, 5)  # the property test's clock, BASE + 90 days, as a Beijing date


def _nth_after(period: date, unit: str, k: int) -> date:
    """The first day of the period k periods after `period`."""
    if unit == "month":
        month = period.month - 1 + k
        return date(period.year + month // 12, month % 12 + 1, 1)
    return period + timedelta(days=k * (7 if unit == "week" else 1))


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
        retained: list[int | None] = []
        for k in range(1, n + 1):
            if _nth_after(period, unit, k) > TODAY:
                retained.append(None)  # the period has not begun on the clock's day
                continue
            back = {
                p
                for p, e, d in facts
                if e == "trade" and _index(_period(d, unit), unit) - _index(period, unit) == k
            }
            retained.append(len(people & back))
        result[period.isoformat()] = (len(people), retained)
    return result


@settings(max_examples=examples(50), deadline=None)
@example(  # a start at the day's last minute and a return at the last minute of the last period count;
    # a return at the next midnight (period 3 of 2) and a start a minute before the range do not
    data=[("P1", "open", DAY - 1), ("P1", "trade", 3 * DAY - 1), ("P2", "open", 0), ("P2", "trade", 3 * DAY),
          ("P3", "open", -1), ("P3", "trade", DAY)],
    unit="day", n=2, first_time=False, offset=0, length=0,
)  # fmt: skip
@example(  # Sunday 23:59 starts the week of 01-05, Monday 00:00 returns in the next one; Monday 00:00's
    # start lies past the range, so its Sunday return makes no cohort
    data=[("P1", "open", 7 * DAY - 1), ("P1", "trade", 7 * DAY), ("P2", "open", 7 * DAY),
          ("P2", "trade", 14 * DAY - 1)],
    unit="week", n=1, first_time=False, offset=0, length=6,
)  # fmt: skip
@example(  # 01-31 23:59 to 02-01 00:00 is one month on; 03-01 00:00 is two, past the single period asked for
    data=[("P1", "open", 27 * DAY - 1), ("P1", "trade", 27 * DAY), ("P2", "open", 20 * DAY),
          ("P2", "trade", 55 * DAY)],
    unit="month", n=1, first_time=False, offset=20, length=30,
)  # fmt: skip
@example(  # first time only: an open two days before the range keeps P1 out of the 01-06 cohort
    data=[("P1", "open", -2 * DAY), ("P1", "open", DAY + 10), ("P1", "trade", 2 * DAY),
          ("P2", "open", DAY + 600), ("P2", "trade", 2 * DAY + 5)],
    unit="day", n=1, first_time=True, offset=1, length=0,
)  # fmt: skip
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
    assume({"open", "trade"} <= {r[1] for r in data})  # a retention of events never seen is refused
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(BASE + timedelta(days=90)))
        try:
            frame = _load(container, data)
            first = date(2026, 1, 5) + timedelta(days=offset)
            last = first + timedelta(days=length)
            got = retention(
                env=container,
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
    env = sqlite_container
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


def test_a_period_that_has_not_begun_has_no_value(sqlite_container: Container) -> None:
    # The clock stands at 2026-03-02 09:00 Beijing: a cohort of 03-01 can have come back on 03-02, not later.
    day = (date(2026, 3, 1) - date(2026, 1, 5)).days * DAY
    _load(sqlite_container, [("P1", "open", day + 600), ("P1", "trade", day + DAY + 60)])
    table = retention(
        env=sqlite_container,
        start_event="open",
        return_event="trade",
        start=date(2026, 3, 1),
        end=date(2026, 3, 2),
        periods=3,
    )
    assert table["cohorts"] == [{"start": "2026-03-01", "size": 1, "retained": [1, None, None]}]
