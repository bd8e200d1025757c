"""The MOT rules, the advisor workbench and the KPIs over HTTP, each caller within their scope."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mot_support import load
from support import signed_token
from touchpoint.api.app import create_app
from touchpoint.bootstrap import Container
from touchpoint.identity.service import sync_customers
from touchpoint.tasks.model import TaskDraft
from touchpoint.tasks.service import assignments, create_tasks

PEOPLE = [("K1", "B01", "ADV1"), ("K2", "B01", "ADV2"), ("K3", "B02", "ADV3")]


@pytest.fixture
def world(container: Container) -> Container:
    load(
        container,
        "customers",
        [{"customer_no": n, "branch_id": b, "advisor_id": a} for n, b, a in PEOPLE],
        date(2026, 3, 1),
    )
    sync_customers(env=container, analytics=container.analytics)
    due = container.clock.now() + timedelta(hours=4)
    drafts = [
        TaskDraft(
            source_key=f"t:{n}",
            source="mot",
            customer_no=n,
            title=f"call {n}",
            reason="r",
            talking_points="p",
            priority="high",
            due_at=due,
            rule="birthday",
        )
        for n, _, _ in PEOPLE
    ]
    with container.ops.begin() as connection:
        create_tasks(
            connection,
            drafts=drafts,
            assigned=assignments(container, [p[0] for p in PEOPLE]),
            now=container.clock.now(),
        )
    return container


def _client(c: Container, role: str, **user: Any) -> TestClient:
    token = signed_token(c, roles=(role,), **user)
    return TestClient(create_app(c), headers={"Authorization": f"Bearer {token}"})


def test_an_advisor_lists_claims_and_completes_their_own_tasks_only(world: Container) -> None:
    advisor = _client(world, "advisor", branches=["B01"], advisor_id="ADV1")
    page = advisor.get("/api/v1/tasks").json()
    assert [t["customer_no"] for t in page["tasks"]] == ["K1"]
    mine = page["tasks"][0]["id"]
    others = _client(world, "admin").get("/api/v1/tasks").json()["tasks"]
    theirs = next(t["id"] for t in others if t["customer_no"] == "K3")
    assert advisor.get(f"/api/v1/tasks/{theirs}").status_code == 404
    assert advisor.post(f"/api/v1/tasks/{theirs}/complete", json={"outcome": "reached"}).status_code == 404
    assert advisor.post(f"/api/v1/tasks/{mine}/claim").json()["claimed_by"]
    bad = advisor.post(f"/api/v1/tasks/{mine}/complete", json={"outcome": "follow_up"})
    assert bad.status_code == 400
    assert "follow_up_on" in bad.json()["error"]["message"]
    assert advisor.post(f"/api/v1/tasks/{mine}/complete", json={"outcome": "maybe"}).status_code == 422
    done = advisor.post(f"/api/v1/tasks/{mine}/complete", json={"outcome": "converted", "note": "开户"})
    assert done.status_code == 200
    assert done.json()["status"] == "done"
    assert advisor.post(f"/api/v1/tasks/{mine}/complete", json={"outcome": "reached"}).status_code == 409
    assert advisor.post(f"/api/v1/tasks/{mine}/assign", json={"advisor_id": "ADV2"}).status_code == 403
    # A customer's task history (their 360° page): done ones too with `status=all`, only within the scope.
    assert advisor.get("/api/v1/tasks", params={"customer_no": "K1"}).json()["total"] == 0
    history = advisor.get("/api/v1/tasks", params={"customer_no": "K1", "status": "all"}).json()
    assert [(t["id"], t["status"], t["outcome"]) for t in history["tasks"]] == [(mine, "done", "converted")]
    assert advisor.get("/api/v1/tasks", params={"customer_no": "K3", "status": "all"}).json()["total"] == 0
    assert advisor.get("/api/v1/tasks", params={"status": "any"}).status_code == 422


def test_a_branch_manager_sees_the_branch_and_its_kpis(world: Container) -> None:
    manager = _client(world, "branch_manager", branches=["B01"])
    assert sorted(t["customer_no"] for t in manager.get("/api/v1/tasks").json()["tasks"]) == ["K1", "K2"]
    kpis = manager.get(
        "/api/v1/kpis/service", params={"group_by": "advisor", "from": "2026-03-01", "to": "today"}
    ).json()
    assert [(r["group"], r["dispatched"]) for r in kpis["rows"]] == [("ADV1", 1), ("ADV2", 1)]
    assert (
        manager.get("/api/v1/kpis/service", params={"from": "2026-03-05", "to": "2026-03-01"}).status_code
        == 400
    )


def test_rules_are_read_by_operators_and_written_through_the_registry(world: Container) -> None:
    operator = _client(world, "operator")
    rule = {"title": "生日", "detector": "birthday", "classification": "marketing", "sla": "12h"}
    saved = operator.put("/api/v1/moments/rules/birthday", json=rule)
    assert saved.status_code == 200
    assert saved.json()["version"] == 1
    listed = operator.get("/api/v1/moments/rules").json()
    assert [(r["name"], r["kind"], r["times"]) for r in listed] == [("birthday", "condition", ["09:00"])]
    wrong = operator.put("/api/v1/moments/rules/birthday", json={**rule, "detector": "horoscope"})
    assert wrong.status_code == 400
    assert "detector 'horoscope' is unknown" in wrong.json()["error"]["message"]
    bad_owner = operator.put("/api/v1/moments/rules/birthday", json={**rule, "owner": "advisor"})
    assert bad_owner.status_code == 400  # an advisor-owned rule says what the task is
    late = operator.put("/api/v1/moments/rules/birthday", json={**rule, "at": ["25:00"]})
    assert late.status_code == 422  # the schema states the time of day
    advisor = _client(world, "advisor", advisor_id="ADV1")
    assert advisor.get("/api/v1/moments/rules").status_code == 200
    assert advisor.put("/api/v1/moments/rules/birthday", json=rule).status_code == 403
    assert operator.get("/api/v1/moments/stats").json() == []


def test_each_rule_names_the_journeys_its_event_feeds(world: Container) -> None:
    admin = _client(world, "admin")
    for name in ("birthday", "large_inflow"):
        rule = {"title": name, "detector": name, "classification": "service"}
        assert admin.put(f"/api/v1/moments/rules/{name}", json=rule).status_code == 200
    note = {"kind": "send", "channel": "log", "text": "hi"}
    journeys = {
        "greet": {"entry": {"type": "event", "event": "mot_birthday"}, "start": "a"},
        "watch": {"entry": {"type": "api"}, "start": "w", "goal": {"event": "mot_large_inflow"}},
    }
    for name, body in journeys.items():
        nodes = [{"id": "a", "type": "action", "action": note}]
        if name == "watch":
            nodes.insert(
                0,
                {
                    "id": "w",
                    "type": "wait_for_event",
                    "event": "mot_birthday",
                    "timeout": "1d",
                    "on_event": "a",
                    "on_timeout": "a",
                },
            )
        saved = admin.put(f"/api/v1/journeys/{name}", json={"title": name, **body, "nodes": nodes})
        assert saved.status_code == 200, saved.text
    fed = {r["name"]: r["journeys"] for r in admin.get("/api/v1/moments/rules").json()}
    assert fed == {"birthday": ["greet", "watch"], "large_inflow": ["watch"]}
