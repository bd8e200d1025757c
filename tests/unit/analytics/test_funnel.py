"""Funnels against a brute-force search of the stated semantics, on random events around Beijing midnight."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import exchange_calendars
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from support import import_events
from touchpoint.analytics.funnel import FunnelQuery, funnel
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError

NAMES = ["a", "b", "c"]
XSHG = exchange_calendars.get_calendar("XSHG")
SHANGHAI = ZoneInfo("Asia/Shanghai")
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
    st.sampled_from(["30m", "2h", "1d", "2d", "1td"]),
    st.integers(0, 2),
    st.integers(0, 2),
    st.sampled_from(["ordered", "strict", "unordered"]),
    st.one_of(st.none(), st.tuples(st.sampled_from(NAMES), st.integers(1, 3), st.integers(2, 4))),
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


def _unordered(mine: pd.DataFrame, steps: list[str], start: datetime, deadline: datetime) -> list[datetime]:
    """When each further step was reached: steps 2..k all done in [start, deadline], at the latest of them."""
    reached_at = [start]
    for step in steps:
        times = mine.loc[
            (mine["event"] == step) & (mine["time"] >= start) & (mine["time"] <= deadline), "time"
        ]
        if times.empty:
            break
        reached_at.append(max(reached_at[-1], times.min()))
    return reached_at[1:]


def _greedy(mine: pd.DataFrame, steps: list[str], row: Any, deadline: datetime) -> list[datetime]:
    """Each further step at its earliest unused occurrence at or after the previous step (time, then id)."""
    at, used, reached_at = row.time, {row.event_id}, []
    for step in steps:
        options = mine[(mine["event"] == step) & (mine["time"] >= at) & ~mine["event_id"].isin(used)]
        options = options.sort_values(["time", "event_id"])
        if options.empty or options.iloc[0]["time"] > deadline:
            break
        at = options.iloc[0]["time"]
        used.add(options.iloc[0]["event_id"])
        reached_at.append(at)
    return reached_at


def _cut(
    mine: pd.DataFrame, start: datetime, reached_at: list[datetime], exclusion: tuple[str, int, int]
) -> int:
    """Steps reached once an exclusion between steps `after` and `before` stops the chain."""
    event, after, before = exclusion
    times = [start, *reached_at]
    excluded = mine.loc[mine["event"] == event, "time"]
    for k in range(1, len(times)):  # times[k] is step k+1
        if after <= k < before and ((excluded > times[k - 1]) & (excluded < times[k])).any():
            return k
    return len(times)


def _average_gaps(
    frame: pd.DataFrame, steps: list[str], mode: str, exclusion: tuple[str, int, int]
) -> list[float | None]:
    """Mean seconds between steps over each customer's earliest chain among those going furthest."""
    best: dict[str, tuple[int, list[datetime]]] = {}
    for row in frame[frame["event"] == steps[0]].sort_values(["time", "event_id"]).itertuples():
        mine = frame[frame["distinct_id"] == row.distinct_id]
        deadline = row.time + timedelta(days=1)
        if mode == "unordered":
            done = _unordered(mine, steps[1:], row.time, deadline)
        else:
            done = _greedy(mine, steps[1:], row, deadline)
        reached = _cut(mine, row.time, done, exclusion)
        if reached > best.get(row.distinct_id, (0, []))[0]:
            best[row.distinct_id] = (reached, [row.time, *done])
    averages: list[float | None] = []
    for k in range(1, len(steps)):
        gaps = [(t[k] - t[k - 1]).total_seconds() for n, t in best.values() if n > k]
        averages.append(sum(gaps) / len(gaps) if gaps else None)
    return averages


def _deadline(start: datetime, window: str) -> datetime:
    """The window's end: a span after `start`, or the end of the Nth XSHG session after its Beijing day."""
    if not window.endswith("td"):
        return start + UNITS[window[-1]] * int(window[:-1])
    day = start.astimezone(SHANGHAI).date()
    session = XSHG.date_to_session(pd.Timestamp(day), direction="previous")
    last = XSHG.session_offset(session, int(window[:-2])).date()
    return datetime.combine(last + timedelta(days=1), datetime.min.time(), SHANGHAI) - timedelta(
        milliseconds=1
    )


def _brute_force(
    frame: pd.DataFrame,
    steps: list[str],
    window: str,
    first: date,
    last: date,
    mode: str,
    exclusion: tuple[str, int, int] | None = None,
) -> list[int]:
    local = frame["time"].dt.tz_convert("Asia/Shanghai").dt.date
    furthest: dict[str, int] = {}
    for row in frame[(frame["event"] == steps[0]) & (local >= first) & (local <= last)].itertuples():
        mine = frame[frame["distinct_id"] == row.distinct_id]
        deadline = _deadline(row.time, window)
        if mode == "strict":
            reached = 1 + _strict(mine, steps[1:], row.event_id, deadline)
        elif exclusion is not None:
            done = _greedy(mine, steps[1:], row, deadline)
            if mode == "unordered":
                done = _unordered(mine, steps[1:], row.time, deadline)
            reached = _cut(mine, row.time, done, exclusion)
        elif mode == "unordered":
            reached = 1 + len(_unordered(mine, steps[1:], row.time, deadline))
        else:
            reached = 1 + _furthest(mine, steps[1:], row.time, deadline, {row.event_id})
        furthest[row.distinct_id] = max(furthest.get(row.distinct_id, 0), reached)
    return [sum(1 for r in furthest.values() if r >= k + 1) for k in range(len(steps))]


@settings(max_examples=150, deadline=None)
@example(  # one trading day from Tuesday ends with Wednesday: Thursday's step is too late
    rows=[("P1", "a", 600), ("P1", "b", 2 * 1440 + 600)], query=(["a", "b"], "1td", 1, 2, "ordered", None)
)
@example(  # one trading day from Friday runs to the end of Monday
    rows=[("P1", "a", 3 * 1440 + 600), ("P1", "b", 6 * 1440 + 600)],
    query=(["a", "b"], "1td", 2, 2, "ordered", None),
)
@given(rows=events, query=queries)
def test_funnel_matches_brute_force(rows: list[tuple[str, str, int]], query: tuple) -> None:  # type: ignore[type-arg]
    steps, window, offset, length, mode, excluded = query
    if mode == "unordered":
        steps = list(dict.fromkeys(steps))
    exclusion = None
    if excluded is not None and mode != "strict":
        exclusion = (excluded[0], excluded[1], min(excluded[2], len(steps)))
        if exclusion[1] >= exclusion[2]:
            exclusion = None
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(BASE + timedelta(days=10)))
        try:
            frame = _load(container, rows)
            if len(steps) < 2 or not set(steps) <= set(frame["event"]):
                return
            if exclusion is not None and exclusion[0] not in set(frame["event"]):
                exclusion = None
            exclusions = (
                [] if exclusion is None else [dict(zip(["event", "after", "before"], exclusion, strict=True))]
            )
            first = date(2026, 3, 10) + timedelta(days=offset - 1)
            last = first + timedelta(days=length)
            got = funnel(
                env=container.tag_env,
                query=FunnelQuery(
                    steps=[{"event": s} for s in steps],
                    window=window,
                    start=first,
                    end=last,
                    mode=mode,
                    exclusions=exclusions,
                ),
            )
            want = _brute_force(frame, steps, window, first, last, mode, exclusion)
            assert [s["customers"] for s in got["steps"]] == want, (
                steps,
                window,
                first,
                last,
                mode,
                exclusion,
            )
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
    with pytest.raises(ValueError, match="choose ordered, strict or unordered"):
        ask(mode="sideways")
    with pytest.raises(ValidationError, match="is after to"):
        ask(start="2026-03-12", end="2026-03-10")


hours = st.integers(0, 8).map(lambda h: h * 60)
dense_events = st.tuples(
    st.tuples(hours, hours, hours, hours),  # one a, b, c and x for P1, so every example has a funnel
    st.lists(st.tuples(st.sampled_from(["P1", "P2"]), st.sampled_from([*NAMES, "x"]), hours), max_size=26),
).map(lambda drawn: [("P1", n, h) for n, h in zip([*NAMES, "x"], drawn[0], strict=True)] + drawn[1])


@settings(max_examples=120, deadline=None)
@given(
    rows=dense_events,
    mode=st.sampled_from(["ordered", "unordered"]),
    exclusion=st.tuples(st.sampled_from(["x", "b"]), st.sampled_from([(1, 2), (1, 3), (2, 3)])).map(
        lambda drawn: (drawn[0], *drawn[1])
    ),
)
def test_exclusions_on_crowded_timelines_match_brute_force(
    rows: list[tuple[str, str, int]], mode: str, exclusion: tuple[str, int, int]
) -> None:
    """Few instants, many ties: exclusions at the very instant of a step, and steps out of order."""
    steps = ["a", "b", "c"]
    if mode == "unordered":
        exclusion = ("x", exclusion[1], exclusion[2])  # an unordered funnel's steps are different events
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(BASE + timedelta(days=10)))
        try:
            frame = _load(container, rows)
            day = date(2026, 3, 10)
            got = funnel(
                env=container.tag_env,
                query=FunnelQuery(
                    steps=[{"event": s} for s in steps],
                    window="1d",
                    start=day,
                    end=day,
                    mode=mode,
                    exclusions=[dict(zip(["event", "after", "before"], exclusion, strict=True))],
                ),
            )
            want = _brute_force(frame, steps, "1d", day, day, mode, exclusion)
            assert [s["customers"] for s in got["steps"]] == want
            gaps = _average_gaps(frame, steps, mode, exclusion)
            assert [s["avg_seconds_from_previous"] for s in got["steps"][1:]] == pytest.approx(gaps)
        finally:
            container.close()


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["P1", "P2", "P3"]),
            st.sampled_from(NAMES),
            st.integers(0, 3 * 24 * 60).map(lambda m: m - m % 60),
            st.sampled_from(["x", "y", None]),
        ),
        min_size=2,
        max_size=30,
    ),
    steps=st.lists(st.sampled_from(NAMES), min_size=2, max_size=3),
)
def test_breakdown_by_property_splits_chains_by_their_first_step(
    rows: list[tuple[str, str, int, str | None]], steps: list[str]
) -> None:
    """Per group, the funnel of the chains whose first step carries that property value."""
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i:03d}" for i in range(len(rows))],
            "event": [r[1] for r in rows],
            "distinct_id": [r[0] for r in rows],
            "time": [BASE + timedelta(minutes=r[2]) for r in rows],
            "properties": [json.dumps({} if r[3] is None else {"kind": r[3]}) for r in rows],
        }
    )
    kinds = pd.Series([r[3] or "(无)" for r in rows])
    first, last = date(2026, 3, 10), date(2026, 3, 11)
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(BASE + timedelta(days=10)))
        try:
            import_events(container, frame)
            if not set(steps) <= set(frame["event"]):
                return
            got = funnel(
                env=container.tag_env,
                query=FunnelQuery(
                    steps=[{"event": s} for s in steps], window="1d", start=first, end=last, by="kind"
                ),
            )
        finally:
            container.close()
    local = frame["time"].dt.tz_convert("Asia/Shanghai").dt.date
    want = {}
    for kind in sorted(set(kinds)):
        furthest: dict[str, int] = {}
        entries = frame[(frame["event"] == steps[0]) & (local >= first) & (local <= last) & (kinds == kind)]
        for row in entries.itertuples():
            mine = frame[frame["distinct_id"] == row.distinct_id]
            deadline = row.time + timedelta(days=1)
            reached = 1 + _furthest(mine, steps[1:], row.time, deadline, {row.event_id})
            furthest[row.distinct_id] = max(furthest.get(row.distinct_id, 0), reached)
        if furthest:
            want[kind] = [sum(1 for r in furthest.values() if r >= k + 1) for k in range(len(steps))]
    have = {g["group"]: [s["customers"] for s in g["steps"]] for g in got.get("breakdown", [])}
    assert have == want
