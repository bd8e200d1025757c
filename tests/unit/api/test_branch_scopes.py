"""Branch scopes (issue 15, item 3): a user limited to branches or to their own customers sees only those.

The scope is checked against a brute-force computation over the customers snapshot and One ID, and a walk over
every route with an advisor of one branch and a customer of another proves no answer shows that customer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from support import demo_world, signed_token
from touchpoint.api.app import create_app, mounted_routers
from touchpoint.bootstrap import Container
from touchpoint.channels.audience import add_do_not_disturb_list
from touchpoint.core.errors import NotFoundError
from touchpoint.governance import SYSTEM
from touchpoint.governance.masking import mask_customer_no
from touchpoint.identity.scopes import scope_for
from touchpoint.identity.service import show
from touchpoint.tags.inspect import member_list


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    for container, _ in demo_world(request, tmp_path_factory.mktemp("scopes") / "home"):
        yield container


def _customers(container: Container) -> list[dict[str, Any]]:
    newest = container.analytics.partitions("customers")[-1].dt
    table = container.analytics.read_partition("customers", newest)
    assert table is not None
    return table.select(["customer_no", "branch_id", "advisor_id"]).to_pylist()


def _expected(container: Container, branches: tuple[str, ...], advisor: str | None) -> set[int]:
    """Brute force: each customer's uid looked up one by one through One ID's `show`."""
    return {
        show(env=container, value=row["customer_no"], id_type="customer_no")["uid"]
        for row in _customers(container)
        if (not branches or row["branch_id"] in branches)
        and (advisor is None or row["advisor_id"] == advisor)
    }


@pytest.mark.parametrize(
    ("branches", "advisor"),
    [(("B1",), None), (("B1", "B3"), None), (("B1",), "A1-1"), ((), "A3-2"), (("B99",), None)],
)
def test_the_scope_is_exactly_the_customers_the_limits_allow(
    world: Container, branches: tuple[str, ...], advisor: str | None
) -> None:
    scope = scope_for(world, branches=branches, advisor_id=advisor)
    assert set(scope) == _expected(world, branches, advisor)


def _advisor(container: Container, roles: tuple[str, ...] = ("advisor",)) -> TestClient:
    token = signed_token(container, roles=roles, branches=["B1"], advisor_id="A1-1")
    return TestClient(
        create_app(container), headers={"Authorization": f"Bearer {token}"}, raise_server_exceptions=False
    )


def _own_and_foreign(container: Container) -> tuple[str, str]:
    rows = _customers(container)
    own = next(r["customer_no"] for r in rows if r["branch_id"] == "B1" and r["advisor_id"] == "A1-1")
    foreign = next(r["customer_no"] for r in rows if r["branch_id"] == "B3")
    return own, foreign


def test_an_advisor_sees_their_own_customer_and_no_other(world: Container) -> None:
    own, foreign = _own_and_foreign(world)
    with _advisor(world) as client:
        for path in (
            "/api/v1/customers/{}",
            "/api/v1/customers/{}/consent",
            "/api/v1/customers/{}/messages",
            "/api/v1/customers/{}/journeys",
        ):
            assert client.get(path.format(own)).status_code == 200, path
            refused = client.get(path.format(foreign))
            assert refused.status_code == 404, path
            assert refused.json()["error"]["message"] == f"no customer {foreign!r}"


def test_tag_members_are_counted_and_listed_within_the_scope(world: Container) -> None:
    scope = scope_for(world, branches=("B1",), advisor_id="A1-1")
    everyone = member_list(env=world, principal=SYSTEM, name="elderly", value="否", limit=10_000)
    expected = [
        n for n in everyone["customers"] if show(env=world, value=n, id_type="customer_no")["uid"] in scope
    ]
    with _advisor(world) as client:
        answer = client.get("/api/v1/tags/elderly/members", params={"value": "否", "limit": 10_000}).json()
    assert answer["count"] == len(expected)
    assert answer["customers"] == expected
    assert 0 < len(expected) < everyone["count"]


def _routes() -> list[tuple[str, str]]:
    return [
        (method, prefix + route.path)
        for prefix, router in mounted_routers()
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]


@pytest.mark.parametrize("roles", [("advisor",), ("admin",)])
def test_no_route_shows_a_scoped_user_a_customer_of_another_branch(
    world: Container, roles: tuple[str, ...]
) -> None:
    """Walked as an advisor, and as a user holding every permission but limited to the same customers: the
    limit holds whatever the permissions."""
    _, foreign = _own_and_foreign(world)
    shown: list[str] = []
    with _advisor(world, roles) as client:
        for method, path in _routes():
            url = re.sub(r"\{(customer_no|value|seed)\}", foreign, path)
            url = re.sub(r"\{name\}", "elderly", url)
            url = re.sub(r"\{[^}]+\}", "1", url)
            answer = client.request(method, url, params={"value": "否", "customer": foreign})
            if answer.status_code < 300 and foreign in answer.text:
                shown.append(f"{method} {path}: {answer.status_code}")
    assert shown == []


def test_a_rule_preview_counts_within_the_scope(world: Container) -> None:
    scope = scope_for(world, branches=("B1",), advisor_id="A1-1")
    everyone = member_list(env=world, principal=SYSTEM, name="elderly", value="否", limit=10_000)
    uids = {show(env=world, value=n, id_type="customer_no")["uid"] for n in everyone["customers"]}
    with _advisor(world, ("admin",)) as client:
        answer = client.post("/api/v1/segments/preview", json={"tag": "elderly", "in": ["否"]}).json()
    assert (answer["count"], answer["base"]) == (len(uids & set(scope)), len(scope))
    assert answer["count"] < everyone["count"]


def test_the_do_not_disturb_list_shows_only_the_scopes_customers(world: Container) -> None:
    own, foreign = _own_and_foreign(world)
    add_do_not_disturb_list(env=world, principal=SYSTEM, customers=[own, foreign], reason="客户要求", days=30)
    with _advisor(world, ("admin",)) as client:
        listed = [e["customer_no"] for e in client.get("/api/v1/do-not-disturb").json()]
    assert listed == [own]


def _person_uid(container: Container, row: dict[str, Any], cache: dict[str, int | None]) -> int | None:
    """Brute force: an event's person through One ID, one identifier at a time (customer number first)."""
    for value, id_type in ((row["customer_no"], "customer_no"), (row["distinct_id"], None)):
        if not value:
            continue
        key = f"{id_type}:{value}"
        if key not in cache:
            try:
                cache[key] = show(env=container, value=value, id_type=id_type)["uid"]
            except NotFoundError:
                cache[key] = None
        if cache[key] is not None:
            return cache[key]
    return None


def test_behaviour_analytics_count_only_the_scopes_customers(world: Container) -> None:
    """A branch manager's event trend and distribution, against the raw events of B1's customers."""
    scope = _expected(world, ("B1",), None)
    events = world.analytics.table("events")
    raw = events.filter(events.event == "login").select("customer_no", "distinct_id", "dt").to_pandas()
    cache: dict[str, int | None] = {}
    raw["uid"] = [_person_uid(world, row, cache) for row in raw.to_dict("records")]
    mine = raw[raw["uid"].isin(scope)]
    assert 0 < len(mine) < len(raw)
    first, last = (
        pd.Timestamp(raw["dt"].min()).date().isoformat(),
        pd.Timestamp(raw["dt"].max()).date().isoformat(),
    )
    token = signed_token(world, roles=("branch_manager",), branches=["B1"])
    with TestClient(create_app(world), headers={"Authorization": f"Bearer {token}"}) as manager:
        body = {"event": "login", "from": first, "to": last}
        trend = manager.post("/api/v1/analytics/events", json=body)
        assert trend.status_code == 200, trend.text
        assert trend.json()["total"]["count"] == len(mine)
        assert trend.json()["total"]["customers"] == mine["uid"].nunique()
        spread = manager.post("/api/v1/analytics/distribution", json=body).json()
        per_person = mine.groupby("uid").size()
        assert sum(b["customers"] for b in spread["buckets"]) == len(per_person)
        assert [b["customers"] for b in spread["buckets"] if b["times"] == "1"] == [
            int((per_person == 1).sum())
        ]
        funnel = {
            "steps": [{"event": "login"}, {"event": "login"}],
            "window": "7d",
            "from": first,
            "to": last,
        }
        assert manager.post("/api/v1/analytics/funnel", json=funnel).json()["steps"][0]["customers"] == len(
            per_person
        )


def test_segment_insight_and_overlap_profile_only_the_scopes_customers(world: Container) -> None:
    from touchpoint.segments.service import SegmentDef, save_segment

    rule = {"attribute": "risk_level", "in": ["C3", "C4", "C5"]}
    save_segment(env=world, principal=SYSTEM, segment=SegmentDef(name="bolder", title="进取", rule=rule))
    save_segment(
        env=world,
        principal=SYSTEM,
        segment=SegmentDef(
            name="calmer", title="稳健", rule={"attribute": "risk_level", "in": ["C1", "C2", "C3"]}
        ),
    )
    newest = world.analytics.partitions("customers")[-1].dt
    table = world.analytics.read_partition("customers", newest)
    assert table is not None
    rows = table.select(["customer_no", "branch_id", "risk_level"]).to_pylist()

    def uids(levels: set[str]) -> set[int]:  # brute force, one customer at a time through One ID
        return {
            show(env=world, value=r["customer_no"], id_type="customer_no")["uid"]
            for r in rows
            if r["branch_id"] == "B1" and r["risk_level"] in levels
        }

    bolder, calmer = uids({"C3", "C4", "C5"}), uids({"C1", "C2", "C3"})
    assert 0 < len(bolder) < sum(1 for r in rows if r["risk_level"] in {"C3", "C4", "C5"})
    token = signed_token(world, roles=("branch_manager",), branches=["B1"])
    with TestClient(create_app(world), headers={"Authorization": f"Bearer {token}"}) as manager:
        hidden = manager.get("/api/v1/segments/bolder/insight", params={"tags": "risk_level,asset_tier"})
        assert hidden.status_code == 403  # asset_tier is sensitive; a branch manager lacks tag:sensitive
        assert "asset_tier" in hidden.json()["error"]["message"]
        profile = manager.get("/api/v1/segments/bolder/insight", params={"tags": "risk_level"}).json()
        assert profile["segment_size"] == len(bolder)
        assert profile["base_size"] == len(_expected(world, ("B1",), None))
        venn = manager.get("/api/v1/insight/overlap", params={"names": "bolder,calmer"}).json()
        assert venn["sizes"] == {"bolder": len(bolder), "calmer": len(calmer)}
        both = next(r for r in venn["regions"] if r["segments"] == ["bolder", "calmer"])
        assert both["intersection"] == len(bolder & calmer)


def test_journey_statistics_and_runs_count_only_the_scopes_customers(world: Container) -> None:
    from touchpoint.journeys.runtime import admit, tick
    from touchpoint.journeys.service import parse_journey, publish, save_journey

    journey = {
        "name": "hello_scoped",
        "title": "hello",
        "entry": {"type": "api"},
        "start": "note",
        "nodes": [
            {"id": "note", "type": "action", "action": {"kind": "send", "channel": "log", "text": "hi"}}
        ],
    }
    save_journey(env=world, principal=SYSTEM, journey=parse_journey(journey))
    publish(env=world, principal=SYSTEM, name="hello_scoped")
    rows = _customers(world)
    b1 = [r["customer_no"] for r in rows if r["branch_id"] == "B1"][:3]
    b3 = [r["customer_no"] for r in rows if r["branch_id"] == "B3"][:4]
    admit(env=world, name="hello_scoped", customers=b1 + b3, payloads={})
    while tick(env=world):
        pass
    token = signed_token(world, roles=("branch_manager",), branches=["B1"])
    everyone = statistics_of(world, None)
    assert everyone["entered"] == len(b1) + len(b3)
    with TestClient(create_app(world), headers={"Authorization": f"Bearer {token}"}) as manager:
        mine = manager.get("/api/v1/journeys/hello_scoped/stats").json()
        assert mine["entered"] == len(b1)
        assert [n["entered"] for n in mine["nodes"]] == [len(b1)]
        page = manager.get("/api/v1/journeys/hello_scoped/runs").json()
        assert len(page["runs"]) == len(b1)
        assert {r["customer_no"] for r in page["runs"]} == {mask_customer_no(n) for n in b1}


def statistics_of(world: Container, principal: Any) -> dict[str, Any]:
    from touchpoint.journeys.service import statistics

    return statistics(env=world, name="hello_scoped", principal=principal)


def test_a_tags_figures_count_only_the_scopes_customers(world: Container) -> None:
    scope = scope_for(world, branches=("B1",), advisor_id="A1-1")
    everyone = member_list(env=world, principal=SYSTEM, name="elderly", value="否", limit=100_000)
    uids = {n: show(env=world, value=n, id_type="customer_no")["uid"] for n in everyone["customers"]}
    expected = sum(1 for uid in uids.values() if uid in scope)  # brute force, one customer at a time
    with _advisor(world) as client:
        detail = client.get("/api/v1/tags/elderly").json()
    counts = {row["value"]: row["count"] for row in detail["distribution"]}
    assert counts["否"] == expected
    assert detail["population"] == len(scope)
    assert sum(counts.values()) <= len(scope)
    assert detail["history"][-1]["counts"] == counts


def test_a_saved_segments_sizes_and_export_hold_only_the_scopes_customers(world: Container) -> None:
    from touchpoint.segments.service import SegmentDef, members_of, refresh_segment, save_segment

    name = "not_elderly"
    rule = {"tag": "elderly", "in": ["否"]}
    save_segment(env=world, principal=SYSTEM, segment=SegmentDef(name=name, title=name, rule=rule))
    refresh_segment(env=world, principal=SYSTEM, name=name, force=True)
    _, members = members_of(env=world, name=name)
    scope = scope_for(world, branches=("B1",), advisor_id="A1-1")
    assert 0 < len(members & scope) < len(members)
    with _advisor(world, ("admin",)) as client:
        seen = client.get(f"/api/v1/segments/{name}")
        assert seen.status_code == 200, seen.text
        assert seen.json()["size"] == len(members & scope)
        assert seen.json()["history"][-1]["size"] == len(members & scope)
        exported = client.get(f"/api/v1/segments/{name}/export")
        assert exported.status_code == 200, exported.text
    numbers = exported.text.splitlines()[1:]
    assert len(numbers) == len(members & scope)
    assert all(show(env=world, value=n, id_type="customer_no")["uid"] in scope for n in numbers)


def test_the_channel_report_and_stuck_runs_count_only_the_scopes_customers(world: Container) -> None:
    from touchpoint.channels.service import report
    from touchpoint.store.operational.schema import channel_sends

    rows = _customers(world)
    b1 = [r["customer_no"] for r in rows if r["branch_id"] == "B1"][:3]
    b3 = [r["customer_no"] for r in rows if r["branch_id"] == "B3"][:5]
    now = world.clock.now()
    with world.ops.begin() as connection:  # sends as the dispatcher records them, three of B1, five of B3
        for i, customer in enumerate(b1 + b3):
            connection.execute(
                channel_sends.insert().values(
                    id=f"snd_scope_{i}",
                    customer_no=customer,
                    channel="sms",
                    provider="log",
                    template="t",
                    template_version=1,
                    marketing=True,
                    status="sent" if i % 2 else "skipped",
                    reason=None if i % 2 else "quiet hours",
                    evidence={},
                    content="",
                    created_at=now,
                    updated_at=now,
                )
            )
    everyone = report(env=world, days=3660)
    mine = report(
        env=world,
        days=3660,
        principal=SYSTEM.model_copy(update={"scope": scope_for(world, branches=("B1",), advisor_id=None)}),
    )
    total = sum(sum(row["statuses"].values()) for row in everyone["templates"])
    scoped = sum(sum(row["statuses"].values()) for row in mine["templates"])
    assert (scoped, total) == (3, 8)
    token = signed_token(world, roles=("branch_manager",), branches=["B1"])
    with TestClient(create_app(world), headers={"Authorization": f"Bearer {token}"}) as manager:
        over_http = manager.get("/api/v1/channels/report", params={"days": 3660}).json()
        assert over_http["templates"] == mine["templates"]
        assert manager.get("/api/v1/journeys/stuck").status_code == 200


def test_the_consent_list_and_channel_health_count_only_the_scopes_customers(world: Container) -> None:
    from touchpoint.channels.audience import consent_list, set_consent
    from touchpoint.channels.service import channel_health
    from touchpoint.store.operational.schema import channel_sends

    rows = _customers(world)
    b1 = [r["customer_no"] for r in rows if r["branch_id"] == "B1"][:2]
    b3 = [r["customer_no"] for r in rows if r["branch_id"] == "B3"][:4]
    now = world.clock.now()
    with world.ops.begin() as connection:  # two failed sends of B1, four of B3, on a channel nobody else uses
        for i, customer in enumerate(b1 + b3):
            connection.execute(
                channel_sends.insert().values(
                    id=f"snd_health_{i}",
                    customer_no=customer,
                    channel="webhook",
                    provider="log",
                    template="t",
                    template_version=1,
                    marketing=True,
                    status="failed",
                    reason=f"gateway down for {customer}",
                    evidence={},
                    content="",
                    created_at=now,
                    updated_at=now + timedelta(seconds=i),
                )
            )
    for customer in b1 + b3:
        set_consent(env=world, principal=SYSTEM, customer_no=customer, channel="email", granted=False)
    manager = SYSTEM.model_copy(update={"scope": scope_for(world, branches=("B1",), advisor_id=None)})
    mine = consent_list(env=world, principal=manager, channel="email", granted=False, limit=500)
    assert {c["customer_no"] for c in mine["consents"]} == set(b1)
    everyone = consent_list(env=world, principal=SYSTEM, channel="email", granted=False, limit=500)
    assert {c["customer_no"] for c in everyone["consents"]} >= set(b1 + b3)
    webhook = next(
        c for c in channel_health(env=world, principal=manager)["channels"] if c["channel"] == "webhook"
    )
    assert (webhook["failed"], webhook["last_failure_error"]) == (2, f"gateway down for {b1[-1]}")
    token = signed_token(world, roles=("branch_manager",), branches=["B1"])
    with TestClient(create_app(world), headers={"Authorization": f"Bearer {token}"}) as client:
        listed = client.get("/api/v1/consents", params={"channel": "email", "limit": 500}).json()
        assert {c["customer_no"] for c in listed["consents"]} == set(b1)
        health = client.get("/api/v1/channels/health").json()["channels"]
        assert next(c for c in health if c["channel"] == "webhook")["failed"] == 2
