"""The pickers' fields: customer attributes, events and each event's property names, against a full scan."""

from __future__ import annotations

import json

import pytest

from touchpoint.bootstrap import Container
from touchpoint.indicators import known_fields


@pytest.fixture(scope="module")
def world(demo_brokerage: Container) -> Container:
    """The shared demo brokerage (read only here)."""
    return demo_brokerage


def test_fields_are_the_snapshot_columns_and_every_events_properties(world: Container) -> None:
    fields = known_fields(world)
    events = world.analytics.table("events").select("event", "properties").to_pyarrow().to_pylist()
    expected: dict[str, set[str]] = {}
    for row in events:
        expected.setdefault(row["event"], set()).update(json.loads(row["properties"] or "{}"))
    assert fields["events"] == sorted(expected)
    assert fields["event_properties"] == {e: sorted(p) for e, p in sorted(expected.items())}
    assert any(fields["event_properties"].values()), "the demo's events carry properties"
    customers = world.analytics.table("customers").columns
    assert fields["attributes"] == [c for c in customers if c not in ("customer_no", "dt", "attributes")]
    assert "risk_level" in fields["attributes"]
    # Each attribute's type, as the snapshot's column holds it, for the console to type a rule's value.
    schema = world.analytics.table("customers").schema()
    kinds = fields["attribute_kinds"]
    assert set(kinds) == set(fields["attributes"])
    assert (kinds["risk_level"], kinds["branch_id"], kinds["open_date"], kinds["consent_marketing"]) == (
        "string",
        "string",
        "date",
        "bool",
    )
    named = {"string": "is_string", "date": "is_date", "bool": "is_boolean", "float": "is_floating"}
    assert all(getattr(schema[a], named[k])() for a, k in kinds.items())
