"""Funnels against a brute-force search of the stated semantics, on random events around Beijing midnight."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support import import_events
from touchpoint.analytics.funnel import FunnelQuery, funnel
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError

NAMES = ["a", "b", "c"]
BASE = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)  # 2026-03-10 00:00 Beijing
UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
events = st.lists(
    st.tuples(
        st.sampled_from(["P1", "P2", "P3"]),
        st.sampled_from(NAMES),
        st.integers(-3 * 60, 4 * 24 * 60).map(lambda m: m - m % 30),  # minutes; multiples of 30 give ties
    ),
    min_size=1,
    max_size=40,
)
queries = st.tuples(
    st.lists(st.sampled_from(NAMES), min_size=2, max_size=4),
    st.sampled_from(["30m", "2h", "1d", "2d"]),
    st.integers(0, 2),
    st.integers(0, 2),
    st.sampled_from(["ordered", "strict"]),
)


def _load(container: Container, rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i:03d}" for i in range(len(rows))],
            "event": [r[1] for r in rows],
            "distinct_id": [r[0] for r in rows],
            "time": [BASE + timedelta(minutes=r[2]) for r in rows],
        }
    )
    import_events(container, frame)
    return frame


def _furthest(
    rows: pd.DataFrame, steps: list[str], start: datetime, deadline: datetime, used: set[str]
) -> int:
    """How many more steps can follow from `start`, trying every occurrence (the brute force)."""
    if not steps:
        return 0
    best = 0
    candidates = rows[(rows["event"] == steps[0]) & (rows["time"] >= start) & (rows["time"] <= deadline)]
    for row in candidates.itertuples():
        if row.event_id not in used:
            best = max(best, 1 + _furthest(rows, steps[1:], row.time, deadline, used | {row.event_id}))
    return best


def _strict(mine: pd.DataFrame, steps: list[str], start_id: str, deadline: datetime) -> int:
    """Steps done as the very next events after `start_id` in the customer's stream (time, then id)."""
    stream = mine.sort_values(["time", "event_id"]).reset_index(drop=True)
    at = int(stream.index[stream["event_id"] == start_id][0])
    done = 0
    for step in steps:
        at += 1
        if at >= len(stream) or stream.loc[at, "event"] != step or stream.loc[at, "time"] > deadline:
            break
        done += 1
    return done


def _brute_force(
    frame: pd.DataFrame, steps: list[str], window: str, first: date, last: date, mode: str
) -> list[int]:
    span = UNITS[window[-1]] * int(window[:-1])
    local = frame["time"].dt.tz_convert("Asia/Shanghai").dt.date
    furthest: dict[str, int] = {}
    for row in frame[(frame["event"] == steps[0]) & (local >= first) & (local <= last)].itertuples():
        mine = frame[frame["distinct_id"] == row.distinct_id]
        if mode == "strict":
            reached = 1 + _strict(mine, steps[1:], row.event_id, row.time + span)
        else:
            reached = 1 + _furthest(mine, steps[1:], row.time, row.time + span, {row.event_id})
        furthest[row.distinct_id] = max(furthest.get(row.distinct_id, 0), reached)
    return [sum(1 for r in furthest.values() if r >= k + 1) for k in range(len(steps))]


@settings(max_examples=60, deadline=None)
@given(rows=events, query=queries)
def test_funnel_matches_brute_force(rows: list[tuple[str, str, int]], query: tuple) -> None:  # type: ignore[type-arg]
    steps, window, offset, length, mode = query
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(BASE + timedelta(days=10)))
        try:
            frame = _load(container, rows)
            if not set(steps) <= set(frame["event"]):
                return
            first = date(2026, 3, 10) + timedelta(days=offset - 1)
            last = first + timedelta(days=length)
            got = funnel(
                env=container.tag_env,
                query=FunnelQuery(
                    steps=[{"event": s} for s in steps], window=window, start=first, end=last, mode=mode
                ),
            )
            want = _brute_force(frame, steps, window, first, last, mode)
            assert [s["customers"] for s in got["steps"]] == want, (steps, window, first, last, mode)
        finally:
            container.close()


def test_bad_queries_name_the_fault(sqlite_container: Container) -> None:
    _load(sqlite_container, [("P1", "a", 0), ("P1", "b", 10)])
    env = sqlite_container.tag_env
    base = {
        "steps": [{"event": "a"}, {"event": "b"}],
        "window": "7d",
        "start": "2026-03-10",
        "end": "2026-03-12",
    }

    def ask(**changes: object) -> dict[str, object]:
        return funnel(env=env, query=FunnelQuery.model_validate(base | changes))

    assert [s["customers"] for s in ask()["steps"]] == [1, 1]  # type: ignore[index]
    with pytest.raises(ValidationError, match="unknown event"):
        ask(steps=[{"event": "a"}, {"event": "zzz"}])
    with pytest.raises(ValueError, match="longer than zero"):
        ask(window="0d")
    with pytest.raises(ValueError, match="at most 20"):
        ask(steps=[{"event": "a"}] * 21)
    with pytest.raises(ValueError, match="choose ordered or strict"):
        ask(mode="sideways")
    with pytest.raises(ValidationError, match="is after to"):
        ask(start="2026-03-12", end="2026-03-10")
