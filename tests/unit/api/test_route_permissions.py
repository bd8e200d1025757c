"""Every route declares who may call it, and refuses everyone else (issue 15).

The walk covers the app's whole route table, so a new route without a declared permission fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from support import signed_token
from touchpoint.api.app import create_app, mounted_routers
from touchpoint.api.deps import Needs, Public, SignedIn
from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM
from touchpoint.governance.model import RoleUpdate
from touchpoint.governance.permissions import ALL_PERMISSIONS
from touchpoint.governance.roles import set_role

Marker = Needs | SignedIn | Public


def _markers(dependant: Any) -> Iterator[Marker]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Needs | SignedIn | Public):
            yield dependency.call
        yield from _markers(dependency)


def _routes(container: Container) -> list[tuple[str, str, APIRoute]]:
    """Every (method, path, route) the app serves: its own routes and those of every router it mounts."""
    app = create_app(container)
    own = [("", route) for route in app.router.routes if isinstance(route, APIRoute)]
    mounted = [(prefix, route) for prefix, router in mounted_routers() for route in router.routes]
    found = [
        (method, prefix + route.path, route)
        for prefix, route in [*own, *mounted]
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]
    assert len(found) > 100
    return found


def _declared(route: APIRoute) -> Marker:
    # A route's own declaration comes first; `Needs` also appears under the route's `Caller` parameter.
    found = {type(m): m for m in _markers(route.dependant)}
    kinds = set(found)
    assert len(kinds) == 1, f"{route.path} declares {sorted(k.__name__ for k in kinds) or 'nothing'}"
    return next(iter(found.values()))


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_declares_a_permission_sign_in_or_a_public_reason(sqlite_container: Container) -> None:
    undeclared = []
    for method, path, route in _routes(sqlite_container):
        kinds = {type(m).__name__ for m in _markers(route.dependant)}
        if len(kinds) != 1:
            undeclared.append(f"{method} {path}: {sorted(kinds) or 'nothing'}")
    assert undeclared == []


def test_public_routes_are_only_those_that_prove_their_caller_otherwise(sqlite_container: Container) -> None:
    public = {
        f"{method} {path}"
        for method, path, route in _routes(sqlite_container)
        if isinstance(_declared(route), Public)
    }
    api_public = {label for label in public if " /api/" in label}
    assert api_public == {
        "POST /api/v1/auth/sign-in",
        "POST /api/v1/events",
        "GET /api/v1/channels/{channel}/receipts",
        "POST /api/v1/channels/{channel}/receipts",
    }


@pytest.fixture
def roles_without(sqlite_container: Container) -> dict[str, str]:
    """For each permission, the token of a user holding every permission but that one."""
    tokens = {}
    for permission in sorted(ALL_PERMISSIONS):
        role = f"all_but_{permission.replace(':', '_')}"
        set_role(
            sqlite_container,
            principal=SYSTEM,
            name=role,
            change=RoleUpdate(permissions=sorted(ALL_PERMISSIONS - {permission})),
        )
        tokens[permission] = signed_token(sqlite_container, roles=(role,))
    return tokens


def test_each_route_refuses_a_caller_without_credentials_or_without_its_permission(
    sqlite_container: Container, roles_without: dict[str, str]
) -> None:
    app = create_app(sqlite_container)
    wrong: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path, route in _routes(sqlite_container):
            marker = _declared(route)
            if isinstance(marker, Public):
                continue
            url = _url(path)
            anonymous = client.request(method, url)
            if anonymous.status_code != 401 or anonymous.json()["error"]["code"] != "unauthorized":
                wrong.append(f"{method} {path} without credentials: {anonymous.status_code}")
            forged = client.request(method, url, headers={"Authorization": "Bearer tp_forged"})
            if forged.status_code != 401:
                wrong.append(f"{method} {path} with an unknown token: {forged.status_code}")
            if isinstance(marker, Needs):
                token = roles_without[marker.permission]
                refused = client.request(method, url, headers={"Authorization": f"Bearer {token}"})
                if refused.status_code != 403 or marker.permission not in refused.json()["error"]["message"]:
                    wrong.append(f"{method} {path} without {marker.permission}: {refused.status_code}")
    assert wrong == []


def test_a_caller_with_only_the_declared_permission_gets_past_the_check(sqlite_container: Container) -> None:
    needed = {
        (method, path): marker.permission
        for method, path, route in _routes(sqlite_container)
        if isinstance(marker := _declared(route), Needs)
    }
    tokens = {}
    for permission in sorted(set(needed.values())):
        role = f"only_{permission.replace(':', '_')}"
        set_role(sqlite_container, principal=SYSTEM, name=role, change=RoleUpdate(permissions=[permission]))
        tokens[permission] = signed_token(sqlite_container, roles=(role,))
    refused = []
    with TestClient(create_app(sqlite_container), raise_server_exceptions=False) as client:
        for (method, path), permission in sorted(needed.items()):
            answer = client.request(
                method, _url(path), headers={"Authorization": f"Bearer {tokens[permission]}"}
            )
            if answer.status_code in (401, 403):
                refused.append(f"{method} {path} with {permission}: {answer.status_code} {answer.text[:120]}")
    assert refused == []
