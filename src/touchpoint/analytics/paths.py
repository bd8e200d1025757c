"""Paths (路径分析): what customers do after a start event (or before an end event), as Sankey data.

Each customer's events are cut into sessions at 30 minutes of inactivity and consecutive repeats of one event
are collapsed. From a start event, a session's path begins at its first occurrence of that event; to an end
event, it finishes at the session's last occurrence (and the end event is always the last step). Paths keep up
to `steps` events; every path adds one to the weight of each edge (step i event → step i+1 event) it walks.
The heaviest edges are returned.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pandas as pd
from pyroaring import FrozenBitMap

from touchpoint.analytics.events import check_events, date_range, events_between
from touchpoint.core.durations import DayRef
from touchpoint.core.errors import ValidationError
from touchpoint.indicators.service import known_events
from touchpoint.tags.service import TagEnv

SESSION_GAP = timedelta(minutes=30)
MAX_STEPS = 10


def sessions(frame: pd.DataFrame) -> list[list[str]]:
    """Event names per session, consecutive duplicates collapsed (rows sorted by person, time, event_id)."""
    result: list[list[str]] = []
    previous_person, previous_time = None, None
    for person, at, event in zip(frame["person"], frame["time"], frame["event"], strict=True):
        if person != previous_person or at - previous_time > SESSION_GAP:
            result.append([event])
        elif result[-1][-1] != event:
            result[-1].append(event)
        previous_person, previous_time = person, at
    return result


def paths(
    *,
    env: TagEnv,
    start: DayRef,
    end: DayRef,
    from_event: str | None = None,
    to_event: str | None = None,
    steps: int = 5,
    limit: int = 50,
    scope: FrozenBitMap | None = None,
) -> dict[str, Any]:
    """Nodes and the heaviest links of the paths after `from_event` (or before `to_event`)."""
    start, end = date_range(env, start, end)
    if (from_event is None) == (to_event is None):
        raise ValidationError("give exactly one of from_event or to_event")
    if not 2 <= steps <= MAX_STEPS:
        raise ValidationError(f"steps {steps}: give 2 to {MAX_STEPS}")
    anchor = from_event or to_event
    assert anchor is not None
    check_events(env, [anchor])
    table = events_between(env, sorted(known_events(env.analytics)), start, end, scope=scope)
    frame: pd.DataFrame = (
        table.select("person", "time", "event", "event_id")
        .to_pandas()
        .sort_values(["person", "time", "event_id"])
    )
    weights: Counter[tuple[int, str, str]] = Counter()
    visits: Counter[tuple[int, str]] = Counter()
    for walk in sessions(frame):
        chosen = _cut(walk, from_event, to_event, steps)
        # Paths to an end event are aligned on it: the end is always the last step.
        offset = steps - len(chosen) if to_event is not None else 0
        for index, event in enumerate(chosen):
            visits[(offset + index, event)] += 1
        for index in range(len(chosen) - 1):
            weights[(offset + index, chosen[index], chosen[index + 1])] += 1
    links = [
        {"source": f"{i}:{a}", "target": f"{i + 1}:{b}", "value": n}
        for (i, a, b), n in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    ]
    kept = {link["source"] for link in links} | {link["target"] for link in links}
    nodes = [
        {"id": f"{i}:{e}", "step": i, "event": e, "sessions": n}
        for (i, e), n in sorted(visits.items())
        if f"{i}:{e}" in kept or e == anchor
    ]
    direction = "from" if from_event else "to"
    return {direction: anchor, "steps": steps, "nodes": nodes, "links": links}


def _cut(walk: list[str], from_event: str | None, to_event: str | None, steps: int) -> list[str]:
    if from_event is not None:
        if from_event not in walk:
            return []
        first = walk.index(from_event)
        return walk[first : first + steps]
    assert to_event is not None
    if to_event not in walk:
        return []
    last = len(walk) - 1 - walk[::-1].index(to_event)
    return walk[max(0, last - steps + 1) : last + 1]
