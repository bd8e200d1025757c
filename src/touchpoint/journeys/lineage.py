"""Where a tag or an indicator is used downstream: the saved segments whose rules name it and the journeys
that name it or one of those segments (a tag page's lineage: indicators → tag → segments → journeys)."""

from __future__ import annotations

from typing import Literal

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
