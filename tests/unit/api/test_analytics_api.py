"""Behaviour analytics over HTTP on a handful of events: the four queries and their refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from fastapi.testclient import TestClient

from support import api_client, import_events
from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock

BASE = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2026-03-02 00:00 Beijing
EVENTS = [  # person, event, minutes after BASE
    ("P1", "view", 10), ("P1", "buy", 40), ("P1", "view", 1500), ("P1", "view", 1510),
    ("P2", "view", 20), ("P2", "view", 2000), ("P3", "buy", 30), ("P3", "view", -30),
]  # fmt: skip


def _client(container: Container) -> TestClient:
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(EVENTS))],
            "distinct_id": [e[0] for e in EVENTS],
            "event": [e[1] for e in EVENTS],
            "time": [BASE + timedelta(minutes=e[2]) for e in EVENTS],
        }
    )
    import_events(container, frame)
    return api_client(container)


def test_funnel_retention_events_and_distribution(sqlite_container: Container, clock: VirtualClock) -> None:
    clock.advance(timedelta(days=3))  # past the last event (03-03): every period asked for has begun
    with _client(sqlite_container) as client:
        funnel = client.post(
            "/api/v1/analytics/funnel",
            json={
                "steps": [{"event": "view"}, {"event": "buy"}],
                "window": "1h",
                "from": "2026-03-02",
                "to": "2026-03-03",
            },
        )
        assert funnel.status_code == 200, funnel.text
        assert [s["customers"] for s in funnel.json()["steps"]] == [
            2,
            1,
        ]  # P3 viewed on 03-01, before the range
        assert funnel.json()["steps"][1]["median_seconds_from_previous"] == 1800.0
        cohorts = client.post(
            "/api/v1/analytics/retention",
            json={
                "start_event": "view",
                "return_event": "view",
                "from": "2026-03-02",
                "to": "2026-03-02",
                "periods": 2,
            },
        ).json()["cohorts"]
        assert cohorts == [{"start": "2026-03-02", "size": 2, "retained": [2, 0]}]
        series = client.post(
            "/api/v1/analytics/events", json={"event": "view", "from": "2026-03-01", "to": "2026-03-03"}
        ).json()["series"]
        assert [(r["date"], r["count"], r["customers"]) for r in series] == [
            ("2026-03-01", 1, 1),
            ("2026-03-02", 2, 2),
            ("2026-03-03", 3, 2),
        ]
        filtered = client.post(
            "/api/v1/analytics/events",
            json={
                "event": "view",
                "from": "2026-03-01",
                "to": "2026-03-03",
                "where": [{"property": "page", "op": "exists"}],
            },
        )
        assert filtered.status_code == 200, filtered.text
        assert filtered.json()["series"] == []  # no event carries the property
        held = client.post(
            "/api/v1/analytics/retention",
            json={"start_event": "view", "return_event": "view", "from": "2026-03-02", "to": "2026-03-02",
                  "periods": 2, "return_where": [{"property": "page", "op": "exists"}]},
        )  # fmt: skip
        assert held.json()["cohorts"] == [{"start": "2026-03-02", "size": 2, "retained": [0, 0]}]
        buckets = client.post(
            "/api/v1/analytics/distribution", json={"event": "view", "from": "2026-03-01", "to": "2026-03-03"}
        ).json()["buckets"]
        assert {b["times"]: b["customers"] for b in buckets if b["customers"]} == {"1": 1, "2": 1, "3-5": 1}


def test_bad_queries_answer_422_or_400_naming_the_fault(sqlite_container: Container) -> None:
    """A body that breaks the query's schema is a 422 naming the field; a well-formed query that cannot run
    (an unknown event, a reversed range) is a 400."""
    with _client(sqlite_container) as client:
        bad_window = client.post(
            "/api/v1/analytics/funnel",
            json={
                "steps": [{"event": "view"}, {"event": "buy"}],
                "window": "-1d",
                "from": "2026-03-02",
                "to": "2026-03-03",
            },
        )
        assert bad_window.status_code == 422
        assert bad_window.json()["error"]["details"][0]["loc"] == ["body", "window"]
        assert "positive" in bad_window.text
        unknown = client.post(
            "/api/v1/analytics/events", json={"event": "nope", "from": "2026-03-01", "to": "2026-03-03"}
        )
        assert unknown.status_code == 400
        assert "unknown event(s) nope" in unknown.text
        reversed_range = client.post(
            "/api/v1/analytics/events", json={"event": "view", "from": "2026-03-05", "to": "2026-03-03"}
        )
        assert "is after to" in reversed_range.text
