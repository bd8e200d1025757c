"""Without pii:view no answer shows a full phone number or a full name (issue 15, item 4).

A user holding every permission but pii:view walks every route of the API on a demo brokerage, with a real
customer in each customer parameter and the demo's own templates, segment, tags and journeys in the others;
every answer is scanned for every customer's phone number and name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from support import demo_world, signed_token
from touchpoint.api.app import create_app, mounted_routers
from touchpoint.bootstrap import Container
from touchpoint.demo.runs import ensure_demo_journeys
from touchpoint.governance import SYSTEM
from touchpoint.governance.model import RoleUpdate
from touchpoint.governance.permissions import ALL_PERMISSIONS
from touchpoint.governance.roles import set_role

NAMES_BY_PREFIX = {
    "/api/v1/templates/": "fund_autoinvest_offer",
    "/api/v1/segments/": "dormant_customers",
    "/api/v1/tags/": "elderly",
    "/api/v1/indicators/": "age_days",
    "/api/v1/journeys/": "dormant_wakeup",
}


def _prepare(container: Container) -> None:
    ensure_demo_journeys(env=container, principal=SYSTEM)


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """A fresh demo for each walk: a walk deletes and changes what it finds (tags, templates, journeys)."""
    request = type("Param", (), {"param": "sqlite"})()
    for container, _ in demo_world(request, tmp_path_factory.mktemp("pii") / "home", _prepare):
        yield container


def _customers(container: Container) -> list[dict[str, Any]]:
    newest = container.analytics.partitions("customers")[-1].dt
    table = container.analytics.read_partition("customers", newest)
    assert table is not None
    return table.select(["customer_no", "name", "phone"]).to_pylist()


def _fund(container: Container) -> str:
    newest = container.analytics.partitions("products")[-1].dt
    products = container.analytics.read_partition("products", newest)
    assert products is not None
    return next(p["product_code"] for p in products.to_pylist() if p["product_type"] == "fund")


def _client(container: Container, *, pii: bool) -> TestClient:
    granted = ALL_PERMISSIONS if pii else ALL_PERMISSIONS - {"pii:view"}
    role = "sees_pii" if pii else "no_pii"
    set_role(container, principal=SYSTEM, name=role, change=RoleUpdate(permissions=sorted(granted)))
    token = signed_token(container, roles=(role,))
    return TestClient(
        create_app(container), headers={"Authorization": f"Bearer {token}"}, raise_server_exceptions=False
    )


def _url(path: str, customer: str) -> str:
    path = re.sub(r"\{(customer_no|value|seed)\}", customer, path)
    name = next((n for prefix, n in NAMES_BY_PREFIX.items() if path.startswith(prefix)), "1")
    path = path.replace("{name}", name)
    return re.sub(r"\{[^}]+\}", "1", path)


def _answers(container: Container, *, pii: bool) -> dict[str, str]:
    """Every route's answer as text, by route."""
    customer = _customers(container)[0]["customer_no"]
    params = {"value": "否", "customer": customer, "attributes": "customer_no,name,phone,city"}
    bodies = {
        "POST /api/v1/templates/{name}/preview": {
            "customer_no": customer,
            "payload": {"fund_code": _fund(container)},
        }
    }
    answers = {}
    routes = [
        (f"{method} {prefix}{route.path}", method, prefix + route.path)
        for prefix, router in mounted_routers()
        for route in router.routes
        if isinstance(route, APIRoute) and not route.path.startswith("/auth")
        for method in sorted(route.methods)
    ]
    # The routes given a body first: the walk deletes and retires what it finds on the way.
    routes.sort(key=lambda r: r[0] not in bodies)
    with _client(container, pii=pii) as client:
        for label, method, path in routes:
            answer = client.request(method, _url(path, customer), params=params, json=bodies.get(label))
            answers[label] = f"{answer.status_code} {answer.text}"
    return answers


def test_no_answer_shows_a_full_phone_number_or_name_without_pii_view(world: Container) -> None:
    customers = _customers(world)
    answers = _answers(world, pii=False)
    leaks = [
        f"{label}: …{text[max(0, text.index(value) - 80) : text.index(value) + 40]}…"
        for label, text in answers.items()
        for row in customers
        for value in (row["phone"], row["name"])
        if value and len(value) > 1 and value in text
    ]
    assert leaks == []


def test_the_same_walk_with_pii_view_shows_them(world: Container) -> None:
    """The check above can fail: with pii:view the 360 view, the export and the preview show the data."""
    row = _customers(world)[0]
    answers = _answers(world, pii=True)
    showing = {label for label, text in answers.items() if row["phone"] in text or row["name"] in text}
    expected = {
        "GET /api/v1/customers/{customer_no}",
        "GET /api/v1/segments/{name}/export",
        "POST /api/v1/templates/{name}/preview",
    }
    assert {label: answers[label][:300] for label in expected - showing} == {}


@pytest.mark.parametrize("pii", [False, True])
def test_a_draft_cannot_reshape_personal_data_past_the_mask(world: Container, pii: bool) -> None:
    """A previewed draft renders a masked profile for a caller without pii:view: spelling a phone number
    digit by digit or a name character by character shows no more than the mask (with pii:view, all)."""
    row = _customers(world)[0]
    body = "{{ customer.phone|list|join('-') }} / {{ customer.name|list|join('-') }}"
    draft = {"title": "t", "channel": "inbox", "classification": "service", "subject": "s", "body": body}
    asked = {"customer_no": row["customer_no"], "draft": draft}
    with _client(world, pii=pii) as client:
        shown = client.post("/api/v1/templates/anything/preview", json=asked)
    assert shown.status_code == 200, shown.text
    spelled = shown.json()["body"].replace("-", "")
    assert (row["phone"] in spelled and row["name"] in spelled) is pii, spelled
