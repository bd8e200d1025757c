"""Signing in over HTTP: the session cookie and its CSRF token, sign-out, a one-time password that must be
changed first, users disabled by an admin, permissions, and the audit log's routes (issue 15)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import httpx
from fastapi.testclient import TestClient

from support import api_client
from touchpoint.api.app import create_app
from touchpoint.api.deps import CSRF_HEADER, SESSION_COOKIE
from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM
from touchpoint.governance.accounts import create_token, create_user
from touchpoint.governance.model import TokenCreate, UserCreate
from touchpoint.governance.permissions import BUILTIN_BY_NAME

PASSWORD = "Blue-harbour-2718"
CSRF_REFUSED = f"a change needs the session's CSRF token in {CSRF_HEADER}"
MUST_CHANGE = "change your password first (POST /api/v1/auth/password)"
SESSION_ENDED = "the session has ended; sign in again"


def _error(response: httpx.Response, status: int, code: str, message: str) -> None:
    """The answer is an error in the one shape, with exactly this status, code and message."""
    assert response.status_code == status, response.text
    assert response.json() == {"error": {"code": code, "message": message, "details": []}}


def _user(container: Container, username: str, *, roles: tuple[str, ...] = ("admin",), **more: Any) -> None:
    create_user(
        container,
        principal=SYSTEM,
        user=UserCreate(username=username, roles=list(roles), password=PASSWORD, **more),
    )


def _signed_in(container: Container, username: str, password: str = PASSWORD) -> tuple[TestClient, str, str]:
    """A client holding the session cookie of `username`, with the cookie's secret and the CSRF token."""
    client = TestClient(create_app(container))
    answer = client.post("/api/v1/auth/sign-in", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    secret = client.cookies.get(SESSION_COOKIE)
    assert secret is not None
    return client, secret, answer.json()["csrf_token"]


def test_sign_in_sets_an_http_only_same_site_cookie_and_returns_the_csrf_token(
    sqlite_container: Container,
) -> None:
    _user(sqlite_container, "alice", roles=("analyst",), display_name="Alice")
    client = TestClient(create_app(sqlite_container))

    answer = client.post("/api/v1/auth/sign-in", json={"username": "alice", "password": PASSWORD})

    assert answer.status_code == 200, answer.text
    cookie = SimpleCookie(answer.headers["set-cookie"])[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert cookie["secure"] == ""
    assert cookie["max-age"] == str(12 * 3600)
    assert len(answer.headers.get_list("set-cookie")) == 1
    body = answer.json()
    assert len(body["csrf_token"]) >= 32
    assert body["csrf_token"] != cookie.value
    assert {k: v for k, v in body.items() if k != "csrf_token"} == {
        "username": "alice",
        "display_name": "Alice",
        "roles": ["analyst"],
        "permissions": sorted(BUILTIN_BY_NAME["analyst"].permissions),
        "branches": [],
        "advisor_id": None,
        "scoped": False,
        "must_change_password": False,
    }
    # The session reads back with the same CSRF token.
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert (me.json()["username"], me.json()["csrf_token"]) == ("alice", body["csrf_token"])


def test_a_wrong_password_is_refused_without_a_cookie(sqlite_container: Container) -> None:
    _user(sqlite_container, "alice")
    client = TestClient(create_app(sqlite_container))
    answer = client.post("/api/v1/auth/sign-in", json={"username": "alice", "password": "Not-the-one-1"})
    _error(answer, 401, "unauthorized", "wrong username or password, or the user is disabled")
    assert "set-cookie" not in answer.headers
    _error(
        client.get("/api/v1/auth/me"),
        401,
        "unauthorized",
        "sign in (POST /api/v1/auth/sign-in) or send 'Authorization: Bearer <token>'",
    )


def test_with_the_cookie_a_read_works_and_a_change_needs_the_csrf_header(sqlite_container: Container) -> None:
    _user(sqlite_container, "alice")
    client, _, csrf = _signed_in(sqlite_container, "alice")

    assert client.get("/api/v1/users").status_code == 200
    change = {"permissions": ["journey:read", "journey:publish"]}

    _error(client.put("/api/v1/roles/analyst", json=change), 403, "forbidden", CSRF_REFUSED)
    _error(
        client.put("/api/v1/roles/analyst", json=change, headers={CSRF_HEADER: csrf + "x"}),
        403,
        "forbidden",
        CSRF_REFUSED,
    )
    _error(client.post("/api/v1/auth/sign-out"), 403, "forbidden", CSRF_REFUSED)
    roles = {r["name"]: r for r in client.get("/api/v1/roles").json()}
    assert roles["analyst"]["edited"] is False

    answer = client.put("/api/v1/roles/analyst", json=change, headers={CSRF_HEADER: csrf})

    assert answer.status_code == 200, answer.text
    assert answer.json()["permissions"] == ["journey:publish", "journey:read"]
    assert client.get("/api/v1/auth/me").status_code == 200


def test_a_bearer_token_needs_no_csrf_header(sqlite_container: Container) -> None:
    client = api_client(sqlite_container, roles=("admin",))
    answer = client.put("/api/v1/roles/analyst", json={"permissions": ["journey:read"]})
    assert answer.status_code == 200, answer.text


def test_after_sign_out_the_cookie_no_longer_works(sqlite_container: Container) -> None:
    _user(sqlite_container, "alice")
    client, secret, csrf = _signed_in(sqlite_container, "alice")

    answer = client.post("/api/v1/auth/sign-out", headers={CSRF_HEADER: csrf})

    assert answer.status_code == 204
    assert client.cookies.get(SESSION_COOKIE) is None
    replayed = TestClient(create_app(sqlite_container))
    replayed.cookies.set(SESSION_COOKIE, secret)
    _error(replayed.get("/api/v1/auth/me"), 401, "unauthorized", SESSION_ENDED)
    _error(replayed.get("/api/v1/users"), 401, "unauthorized", SESSION_ENDED)


def test_a_one_time_password_must_be_changed_before_anything_else(sqlite_container: Container) -> None:
    admin = api_client(sqlite_container, roles=("admin",))
    created = admin.post("/api/v1/users", json={"username": "bob", "roles": ["operator"]})
    assert created.status_code == 201, created.text
    assert created.json()["must_change_password"] is True
    one_time = created.json()["password"]
    assert isinstance(one_time, str)
    assert len(one_time) == 16

    client, _, csrf = _signed_in(sqlite_container, "bob", one_time)

    _error(client.get("/api/v1/journeys"), 403, "forbidden", MUST_CHANGE)
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert (me.json()["username"], me.json()["must_change_password"]) == ("bob", True)
    _error(
        client.post("/api/v1/auth/tokens", json={"name": "script"}, headers={CSRF_HEADER: csrf}),
        403,
        "forbidden",
        MUST_CHANGE,
    )

    changed = client.post(
        "/api/v1/auth/password", json={"current": one_time, "new": PASSWORD}, headers={CSRF_HEADER: csrf}
    )

    assert changed.status_code == 204, changed.text
    assert client.get("/api/v1/journeys").status_code == 200
    assert client.get("/api/v1/auth/me").json()["must_change_password"] is False


def test_changing_the_password_with_a_wrong_current_one_is_refused(sqlite_container: Container) -> None:
    _user(sqlite_container, "alice")
    client, _, csrf = _signed_in(sqlite_container, "alice")
    answer = client.post(
        "/api/v1/auth/password",
        json={"current": "Not-the-one-1", "new": "Fresh-start-3141"},
        headers={CSRF_HEADER: csrf},
    )
    _error(answer, 401, "unauthorized", "the current password is wrong")


def test_an_admin_creates_and_disables_a_user_whose_token_then_fails(sqlite_container: Container) -> None:
    admin = api_client(sqlite_container, roles=("admin",), username="root")

    created = admin.post(
        "/api/v1/users",
        json={"username": "carol", "roles": ["analyst"], "password": PASSWORD, "display_name": "Carol"},
    )

    assert created.status_code == 201, created.text
    assert created.json()["password"] is None
    assert created.json()["must_change_password"] is False
    assert created.json()["created_by"] == "root"
    read = admin.get("/api/v1/users/carol")
    assert read.status_code == 200
    assert "password" not in read.json()
    assert "password_hash" not in read.json()
    token = create_token(
        sqlite_container, principal=SYSTEM, username="carol", token=TokenCreate(name="t")
    ).token
    carol = TestClient(create_app(sqlite_container), headers={"Authorization": f"Bearer {token}"})
    assert carol.get("/api/v1/auth/me").json()["username"] == "carol"
    assert carol.get("/api/v1/journeys").status_code == 200

    disabled = admin.patch("/api/v1/users/carol", json={"disabled": True})

    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    refused = "unknown, revoked or expired token, or its user is disabled"
    _error(carol.get("/api/v1/journeys"), 401, "unauthorized", refused)
    _error(carol.get("/api/v1/auth/me"), 401, "unauthorized", refused)


def test_a_duplicate_user_over_the_api_is_a_conflict(sqlite_container: Container) -> None:
    admin = api_client(sqlite_container, roles=("admin",))
    body = {"username": "carol", "roles": ["analyst"], "password": PASSWORD}
    assert admin.post("/api/v1/users", json=body).status_code == 201
    _error(admin.post("/api/v1/users", json=body), 409, "conflict", "user 'carol' exists")


def test_an_analyst_may_not_publish_a_journey(sqlite_container: Container) -> None:
    analyst = api_client(sqlite_container, roles=("analyst",))
    _error(
        analyst.post("/api/v1/journeys/x/publish"),
        403,
        "forbidden",
        "this needs the permission 'journey:publish'",
    )
    _error(
        analyst.post("/api/v1/users", json={"username": "eve", "roles": ["admin"]}),
        403,
        "forbidden",
        "this needs the permission 'user:manage'",
    )


def test_an_unknown_token_is_unauthorized(sqlite_container: Container) -> None:
    client = TestClient(create_app(sqlite_container), headers={"Authorization": "Bearer tp_made_up"})
    _error(
        client.get("/api/v1/auth/me"),
        401,
        "unauthorized",
        "unknown, revoked or expired token, or its user is disabled",
    )
    basic = TestClient(create_app(sqlite_container), headers={"Authorization": "Basic YTpi"})
    _error(
        basic.get("/api/v1/auth/me"),
        401,
        "unauthorized",
        "the Authorization header must be 'Bearer <token>'",
    )


def test_the_audit_log_filters_by_user_and_action(sqlite_container: Container) -> None:
    admin = api_client(sqlite_container, roles=("admin",), username="root")
    compliance = api_client(sqlite_container, roles=("compliance",), username="cora")
    for name in ("dan", "erin"):
        assert (
            admin.post(
                "/api/v1/users", json={"username": name, "roles": ["analyst"], "password": PASSWORD}
            ).status_code
            == 201
        )
    assert admin.patch("/api/v1/users/dan", json={"display_name": "Dan"}).status_code == 200
    _signed_in(sqlite_container, "erin")
    erin_fails = TestClient(create_app(sqlite_container)).post(
        "/api/v1/auth/sign-in", json={"username": "erin", "password": "Not-the-one-1"}
    )
    assert erin_fails.status_code == 401

    by_root = compliance.get("/api/v1/audit", params={"user": "root", "action": "user.create"})
    assert by_root.status_code == 200, by_root.text
    assert [(e["actor"], e["action"], e["target_id"]) for e in by_root.json()] == [
        ("root", "user.create", "erin"),
        ("root", "user.create", "dan"),
    ]
    assert all(e["source"] == "api:testclient" for e in by_root.json())
    everything_by_root = compliance.get("/api/v1/audit", params={"user": "root"}).json()
    assert [(e["action"], e["target_id"]) for e in everything_by_root] == [
        ("user.update", "dan"),
        ("user.create", "erin"),
        ("user.create", "dan"),
    ]
    by_erin = compliance.get("/api/v1/audit", params={"user": "erin"}).json()
    assert [(e["action"], e["after"]) for e in by_erin] == [
        ("auth.sign_in_failed", {"reason": "wrong password"}),
        ("auth.sign_in", None),
    ]
    seqs = [e["seq"] for e in compliance.get("/api/v1/audit").json()]
    assert seqs == sorted(seqs, reverse=True)
    assert compliance.get("/api/v1/audit", params={"user": "nobody"}).json() == []

    _error(
        api_client(sqlite_container, roles=("analyst",)).get("/api/v1/audit"),
        403,
        "forbidden",
        "this needs the permission 'audit:read'",
    )


def test_audit_verify_over_the_api_is_ok(sqlite_container: Container) -> None:
    admin = api_client(sqlite_container, roles=("admin",))
    assert (
        admin.post(
            "/api/v1/users", json={"username": "dan", "roles": ["analyst"], "password": PASSWORD}
        ).status_code
        == 201
    )
    entries = len(admin.get("/api/v1/audit", params={"limit": 1000}).json())

    answer = admin.get("/api/v1/audit/verify")

    assert answer.status_code == 200
    assert answer.json() == {"entries": entries, "ok": True, "problems": []}
    assert entries == 3  # the admin and its token (made by `api_client`), then dan
