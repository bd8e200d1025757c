"""Paths against a plain re-implementation of sessions, collapsing and cutting on random events."""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from support import examples, import_events
from touchpoint.analytics.paths import paths
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError

BASE = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
rows = st.lists(
    st.tuples(st.sampled_from(["P1", "P2"]), st.sampled_from(["home", "fund", "buy"]), st.integers(0, 600)),
    min_size=1,
    max_size=40,
)


def _load(container: Container, data: list[tuple[str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i:03d}" for i in range(len(data))],
            "distinct_id": [r[0] for r in data],
            "event": [r[1] for r in data],
            "time": [BASE + timedelta(minutes=r[2]) for r in data],
        }
    )
    import_events(container, frame)
    return frame


def _expected(frame: pd.DataFrame, anchor: str, forward: bool, steps: int) -> Counter[tuple[str, str]]:
    edges: Counter[tuple[str, str]] = Counter()
    for _, mine in frame.sort_values(["distinct_id", "time", "event_id"]).groupby("distinct_id"):
        walks: list[list[str]] = []
        last_time = None
        for row in mine.itertuples():
            if last_time is None or (row.time - last_time) > timedelta(minutes=30):
                walks.append([])
            if not walks[-1] or walks[-1][-1] != row.event:
                walks[-1].append(row.event)
            last_time = row.time
        for walk in walks:
            if anchor not in walk:
                continue
            if forward:
                cut = walk[walk.index(anchor) :][:steps]
                names = [f"{i}:{e}" for i, e in enumerate(cut)]
            else:
                end = max(i for i, e in enumerate(walk) if e == anchor)
                cut = walk[max(0, end - steps + 1) : end + 1]
                names = [f"{steps - len(cut) + i}:{e}" for i, e in enumerate(cut)]
            edges.update(itertools.pairwise(names))
    return edges


@settings(max_examples=examples(40), deadline=None)
@given(data=rows, forward=st.booleans(), steps=st.integers(2, 4))
def test_paths_match_a_plain_walk(data: list[tuple[str, str, int]], forward: bool, steps: int) -> None:
    assume(any(r[1] == "fund" for r in data))  # paths from an event never seen are refused
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(BASE + timedelta(days=3)))
        try:
            frame = _load(container, data)
            anchor = {"from_event": "fund"} if forward else {"to_event": "fund"}
            got = paths(
                env=container,
                start=date(2026, 3, 2),
                end=date(2026, 3, 2),
                steps=steps,
                limit=1000,
                **anchor,
            )
        finally:
            container.close()
    have = Counter({(link["source"], link["target"]): link["value"] for link in got["links"]})
    assert have == _expected(frame, "fund", forward, steps)


def test_path_queries_are_checked(sqlite_container: Container) -> None:
    _load(sqlite_container, [("P1", "home", 0), ("P1", "fund", 5)])
    env = sqlite_container
    with pytest.raises(ValidationError, match="exactly one of"):
        paths(env=env, start=date(2026, 3, 2), end=date(2026, 3, 2))
    with pytest.raises(ValidationError, match="steps 11"):
        paths(env=env, start=date(2026, 3, 2), end=date(2026, 3, 2), from_event="home", steps=11)
