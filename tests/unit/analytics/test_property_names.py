"""Names are names: an event property is addressed by its exact key in every analytics query and in segments'
event conditions — `$os` (a Sensors preset property), `fund.type`, `a/b`, `x"y`, `中文` — never read as a JSON
path. Each query is checked against pandas brute force over the same events, on keys built to be confused
with each other: `fund.type` beside a nested `fund: {type}`, `a/b` beside `a: {b}`, `/fund_type` beside
`fund_type`, `$os` beside `os`."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

from support import import_events
from touchpoint.analytics.distribution import distribution
from touchpoint.analytics.funnel import funnel
from touchpoint.analytics.model import FunnelQuery
from touchpoint.analytics.retention import retention
from touchpoint.analytics.trend import event_trend
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.indicators.properties import property_matches
from touchpoint.segments.context import property_filters
from touchpoint.segments.model import PropertyFilter

NAMES = [
    "$os",
    "fund.type",
    "a/b",
    'x"y',
    "中文",
    "/fund_type",
    "$..x",
    "it's",
    "a~b",
    "a\\b",
    "$app_version",
]
DECOYS = ["os", "fund_type", "x", "y", "~1fund_type"]  # plus the nested objects fund: {type} and a: {b}
VALUES: list[Any] = ["iOS", "p", "q", 1, 2, 2.5, True, False, None]
BASE = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2026-03-02 00:00 Beijing
DAY = date(2026, 3, 2)


def _properties(rng: random.Random) -> dict[str, Any]:
    chosen = {k: rng.choice(VALUES) for k in NAMES + DECOYS if rng.random() < 0.5}
    if rng.random() < 0.5:
        chosen["fund"] = {"type": rng.choice(VALUES)}
    if rng.random() < 0.5:
        chosen["a"] = {"b": rng.choice(VALUES)}
    return chosen


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, pd.DataFrame]]:
    rng = random.Random(14)
    rows = []
    for i in range(300):
        rows.append(
            {
                "event_id": f"e{i}",
                "distinct_id": f"P{rng.randrange(40)}",
                "event": rng.choice(["view", "buy"]),
                "time": BASE + timedelta(minutes=rng.randrange(0, 600)),
                "properties": json.dumps(_properties(rng), ensure_ascii=False),
            }
        )
    frame = pd.DataFrame(rows)
    home: Path = tmp_path_factory.mktemp("names") / "home"
    container = build(load_settings(home), clock=VirtualClock(BASE + timedelta(days=3)))
    import_events(container, frame)
    frame["props"] = frame["properties"].map(json.loads)
    yield container, frame
    container.close()


def _same(stored: Any, wanted: Any) -> bool:
    """JSON equality within one type: 1 is not true, "1" is not 1 (as the queries compare)."""
    if stored is None or wanted is None:
        return False
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return isinstance(wanted, bool) and isinstance(stored, bool) and stored == wanted
    if isinstance(wanted, int | float):
        return isinstance(stored, int | float) and float(stored) == float(wanted)
    return isinstance(stored, str) and stored == wanted


def _as_text(value: Any) -> str:
    """A property's breakdown label: a scalar as text (JSON's true/false, an integer's digits), else (无)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return "(无)"


def _kind(value: Any) -> str:
    """The JSON type a value is compared within."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "string"


def _expected(frame: pd.DataFrame, event: str, name: str, op: str, value: Any) -> pd.DataFrame:
    """The events of `event` whose property `name` (exactly that key) passes the filter."""

    def passes(props: dict[str, Any]) -> bool:
        stored = props.get(name)
        if op == "exists":
            return (stored is not None) == (value in (None, True))
        if op == "in":
            return any(_same(stored, v) for v in value)
        if op == "not_in":
            return stored is not None and not any(_same(stored, v) for v in value)
        if op == "!=":
            return _kind(stored) == _kind(value) and not _same(stored, value)
        return _same(stored, value)

    chosen = frame[(frame["event"] == event) & frame["props"].map(passes)]
    return chosen


FILTERS = [
    (op, value)
    for op, value in [
        ("=", "iOS"),
        ("=", "p"),
        ("=", 1),
        ("=", 2.5),
        ("=", True),
        ("!=", "p"),
        ("!=", 2),
        ("in", ["p", 2, False]),
        ("not_in", ["q", 1]),
        ("exists", True),
        ("exists", False),
    ]
]


@pytest.mark.parametrize("name", NAMES)
def test_every_filter_matches_the_property_of_exactly_that_name(
    world: tuple[Container, pd.DataFrame], name: str
) -> None:
    """Every operator, through the helper that analytics, segments' conditions and indicators share (one
    query per name: a column per filter)."""
    container, frame = world
    events = container.analytics.table("events")
    views = events.filter(events.event == "view")
    marks = {f"f{i}": property_matches(views, name, op, value) for i, (op, value) in enumerate(FILTERS)}
    got = views.mutate(**marks).select("event_id", *marks).to_pandas().set_index("event_id")
    for i, (op, value) in enumerate(FILTERS):
        chosen = sorted(got.index[got[f"f{i}"].fillna(False).astype(bool)])
        assert chosen == sorted(_expected(frame, "view", name, op, value)["event_id"]), (op, value)
    # Segments' behaviour and sequence conditions filter their events with it.
    filtered = property_filters(views, [PropertyFilter(property=name, op="in", value=["p", 2, False])])
    wanted = _expected(frame, "view", name, "in", ["p", 2, False])
    assert sorted(filtered.event_id.to_pyarrow().to_pylist()) == sorted(wanted["event_id"])


@pytest.mark.parametrize("name", ["$os", "fund.type", "a/b", 'x"y', "中文", "/fund_type", "$..x"])
def test_every_analytics_query_reads_exact_names(world: tuple[Container, pd.DataFrame], name: str) -> None:
    """Filters in events, distribution, funnel and retention queries; breakdowns; measures."""
    container, frame = world
    env = container
    where = [PropertyFilter(property=name, op="not_in", value=["q", 1])]
    wanted = _expected(frame, "view", name, "not_in", ["q", 1])
    got = event_trend(env=env, event="view", start=DAY, end=DAY, where=where)["total"]
    assert (got["count"], got["customers"]) == (len(wanted), wanted["distinct_id"].nunique())
    buckets = distribution(env=env, event="view", start=DAY, end=DAY, where=where)["buckets"]
    assert sum(b["customers"] for b in buckets) == wanted["distinct_id"].nunique()
    views = frame[frame["event"] == "view"]
    stored = views["props"].map(lambda p: p.get(name))
    # Breakdown: the property's scalar values as text (null and objects are (无)), top 100 so nothing folds.
    got = event_trend(env=env, event="view", start=DAY, end=DAY, by=name, top=100)["series"]
    labels = stored.map(_as_text)
    assert {r["group"]: r["count"] for r in got} == labels.value_counts().to_dict()
    # Measure: the sum of the property's numeric values.
    total = event_trend(env=env, event="view", start=DAY, end=DAY, measure=f"sum:{name}")["total"]
    numbers = [float(v) for v in stored if isinstance(v, int | float) and not isinstance(v, bool)]
    assert total["value"] == pytest.approx(sum(numbers)) if numbers else total["value"] is None
    # Funnel: a step filter on the property.
    query = FunnelQuery.model_validate(
        {
            "steps": [
                {"event": "view", "where": [{"property": name, "op": "=", "value": "p"}]},
                {"event": "buy"},
            ],
            "window": "1d",
            "from": DAY,
            "to": DAY,
        }
    )
    entered = funnel(env=env, query=query)["steps"][0]["customers"]
    assert entered == _expected(frame, "view", name, "=", "p")["distinct_id"].nunique()
    # Retention: a start filter on the property.
    cohorts = retention(
        env=env,
        start_event="view",
        return_event="buy",
        start=DAY,
        end=DAY,
        periods=1,
        start_where=[PropertyFilter(property=name, op="exists")],
    )["cohorts"]
    size = cohorts[0]["size"] if cohorts else 0
    assert size == _expected(frame, "view", name, "exists", True)["distinct_id"].nunique()


def test_a_slash_name_is_not_a_json_pointer_and_a_dotted_name_is_not_a_path() -> None:
    """`/fund_type` names the key "/fund_type" only (it used to match `fund_type`), `fund.type` the dotted key
    only (not `fund: {type}`), `$os` the key "$os" (it used to read `os`, so Sensors' presets never
    matched)."""
    table = ibis.memtable(
        pd.DataFrame(
            {
                "properties": [
                    json.dumps({"fund_type": "p"}),
                    json.dumps({"/fund_type": "p"}),
                    json.dumps({"fund": {"type": "p"}}),
                    json.dumps({"fund.type": "p"}),
                    json.dumps({"os": "p"}),
                    json.dumps({"$os": "p"}),
                ]
            }
        )
    )
    table = table.mutate(row=ibis.row_number())
    for name, row in [("/fund_type", 1), ("fund_type", 0), ("fund.type", 3), ("$os", 5), ("os", 4)]:
        got = property_filters(table, [PropertyFilter(property=name, value="p")]).row.to_pyarrow().to_pylist()
        assert got == [row], name
