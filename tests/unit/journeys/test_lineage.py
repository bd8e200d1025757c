"""A tag's or an indicator's downstream lineage on the demo brokerage, against a scan of the stored JSON."""

from __future__ import annotations

import json

import pytest

from touchpoint.bootstrap import Container
from touchpoint.journeys.lineage import used_by
from touchpoint.journeys.service import KIND
from touchpoint.segments.service import list_segments
from touchpoint.store.operational import definitions as store
from touchpoint.tags.service import list_tags


@pytest.fixture(scope="module")
def world(demo_brokerage: Container) -> Container:
    """The shared demo brokerage (read only here)."""
    return demo_brokerage


def _mentions(tree: object, key: str, name: str) -> bool:
    """Brute force: the JSON text holds `"key": "name"`."""
    return f'"{key}": "{name}"' in json.dumps(tree, ensure_ascii=False)


def test_every_tag_is_used_exactly_by_what_names_it(world: Container) -> None:
    saved = list_segments(env=world).items()
    segments = {n: d.model_dump(mode="json", by_alias=True)["rule"] for n, d in saved}
    with world.ops.begin() as connection:
        journeys = store.current(connection, KIND)
    seen_any = False
    for tag in list_tags(env=world):
        reading = sorted(n for n, rule in segments.items() if _mentions(rule, "tag", tag))
        expected_journeys = sorted(
            j
            for j, body in journeys.items()
            if _mentions(body, "tag", tag) or any(_mentions(body, "segment", s) for s in reading)
        )
        found = used_by(env=world, kind="tag", name=tag)
        assert found == {"segments": reading, "journeys": expected_journeys}, tag
        seen_any = seen_any or bool(found["segments"] and found["journeys"])
    assert seen_any, "the demo has a tag read by a segment that a journey enters from"
