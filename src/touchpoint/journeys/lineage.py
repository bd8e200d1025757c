"""Where a tag or an indicator is used downstream: the saved segments whose rules name it and the journeys
that name it or one of those segments (a tag page's lineage: indicators → tag → segments → journeys)."""

from __future__ import annotations

from typing import Any, Literal

from touchpoint.journeys.checks import JourneyEnv
from touchpoint.journeys.service import KIND
from touchpoint.segments.model import references, segment_references
from touchpoint.segments.service import list_segments
from touchpoint.store.operational import definitions as store

Used = Literal["tag", "indicator"]


def used_by(*, env: JourneyEnv, kind: Used, name: str) -> dict[str, list[str]]:
    """The segments and journeys (current versions) that read this tag or indicator, directly or, for a
    journey, through a segment that does."""
    segments = sorted(
        segment
        for segment, definition in list_segments(env=env).items()
        if name in references(definition.model_dump(mode="json", by_alias=True)["rule"], kind)
    )
    with env.ops.begin() as connection:
        journeys = store.current(connection, KIND)
    reading = sorted(
        journey
        for journey, body in journeys.items()
        if name in references(body, kind) or segment_references(body) & set(segments)
    )
    return {"segments": segments, "journeys": reading}


def journeys_by_event(*, env: JourneyEnv) -> dict[str, list[str]]:
    """For each event a journey (current version) listens for — its entry, a wait for an event, its goal or an
    exit criterion — the journeys that do, sorted (an MOT rule feeds the journeys naming its `mot_<rule>`)."""
    with env.ops.begin() as connection:
        journeys = store.current(connection, KIND)
    listening: dict[str, set[str]] = {}
    for journey, body in journeys.items():
        for event in _events_named(body):
            listening.setdefault(event, set()).add(journey)
    return {event: sorted(names) for event, names in listening.items()}


def _events_named(body: dict[str, Any]) -> set[str]:
    named = {str(body.get("entry", {}).get("event") or "")}
    named |= {str(n.get("event") or "") for n in body.get("nodes", []) if n.get("type") == "wait_for_event"}
    named.add(str((body.get("goal") or {}).get("event") or ""))
    named |= {str(c.get("event") or "") for c in body.get("exit_criteria", [])}
    return named - {""}
