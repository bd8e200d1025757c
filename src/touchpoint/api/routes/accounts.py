"""Sign-in, the caller's own account and tokens, users and roles (admins), and the audit log."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from touchpoint.api.days import resolve_day
from touchpoint.api.deps import (
    SESSION_COOKIE,
    Needs,
    SignedIn,
    container,
    ensure_password_changed,
    needs,
    public,
    signed_in,
    source_of,
)
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.core.durations import DAY_FORMS, DAY_PATTERN
from touchpoint.governance import Principal
from touchpoint.governance import accounts as service
from touchpoint.governance import roles as role_service
from touchpoint.governance.accounts import Account
from touchpoint.governance.audit import search, verify
from touchpoint.governance.model import (
    AuditEntryRead,
    AuditVerifyRead,
    MeRead,
    PasswordChange,
    PermissionRead,
    RoleName,
    RoleRead,
    RoleUpdate,
    SignIn,
    TokenCreate,
    TokenCreatedRead,
    TokenRead,
    UserCreate,
    UserCreatedRead,
    UserRead,
    UserUpdate,
)
from touchpoint.governance.permissions import PERMISSIONS

router = APIRouter(tags=["accounts"])
Deps = Annotated[Container, Depends(container)]
Me = Annotated[Account, Depends(SignedIn())]
UserAdmin = Annotated[Principal, Depends(Needs("user:manage"))]
RoleAdmin = Annotated[Principal, Depends(Needs("role:manage"))]


def _me(account: Account) -> MeRead:
    return MeRead(
        username=account.username,
        display_name=account.display_name,
        roles=sorted(account.roles),
        permissions=sorted(account.permissions),
        branches=list(account.branches),
        advisor_id=account.advisor_id,
        scoped=account.scoped,
        must_change_password=account.must_change_password,
        csrf_token=account.csrf_token,
    )


@router.post(
    "/auth/sign-in",
    dependencies=[public("signing in")],
    response_model=MeRead,
    responses=errors(400, 401),
)
def sign_in(body: SignIn, request: Request, response: Response, c: Deps) -> MeRead:
    """Check a username and password and open a session: an HttpOnly, SameSite=Lax cookie, and the CSRF token
    the console sends back in `X-CSRF-Token` on every change."""
    opened = service.sign_in(c, username=body.username, password=body.password, source=source_of(request))
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        httponly=True,
        samesite="lax",
        secure=c.account_policy.cookie_secure,
        max_age=c.account_policy.session_max_hours * 3600,
        path="/",
    )
    return _me(replace(opened.account, csrf_token=opened.csrf_token))


@router.post("/auth/sign-out", dependencies=[signed_in()], status_code=204, responses=errors(401, 403))
def sign_out(me: Me, response: Response, c: Deps) -> None:
    """End this session."""
    service.sign_out(c, account=me)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", dependencies=[signed_in()], response_model=MeRead, responses=errors(401))
def who_am_i(me: Me) -> MeRead:
    """The signed-in caller: roles, permissions, branches and the session's CSRF token."""
    return _me(me)


@router.post("/auth/password", dependencies=[signed_in()], status_code=204, responses=errors(400, 401, 403))
def change_password(body: PasswordChange, me: Me, c: Deps) -> None:
    """Change one's own password (the current one proves it)."""
    service.change_password(c, account=me, current=body.current, new=body.new)


@router.get("/auth/tokens", dependencies=[signed_in()], response_model=list[TokenRead], responses=errors(401))
def my_tokens(me: Me, c: Deps) -> list[TokenRead]:
    """One's own API tokens (never their secrets)."""
    return service.list_tokens(c, username=me.username)


@router.post(
    "/auth/tokens",
    dependencies=[signed_in()],
    response_model=TokenCreatedRead,
    responses=errors(400, 401, 403),
)
def new_token(body: TokenCreate, me: Me, request: Request, c: Deps) -> TokenCreatedRead:
    """A personal API token for scripts; its secret is in this answer only."""
    ensure_password_changed(me)
    return service.create_token(
        c, principal=me.principal(source=source_of(request)), username=me.username, token=body
    )


@router.delete(
    "/auth/tokens/{token_id}",
    dependencies=[signed_in()],
    response_model=TokenRead,
    responses=errors(401, 404),
)
def revoke_my_token(token_id: int, me: Me, request: Request, c: Deps) -> TokenRead:
    """Revoke one of one's own tokens."""
    return service.revoke_token(
        c, principal=me.principal(source=source_of(request)), username=me.username, token_id=token_id
    )


@router.get(
    "/users", dependencies=[needs("user:manage")], response_model=list[UserRead], responses=errors(401, 403)
)
def users(c: Deps) -> list[UserRead]:
    """Every user."""
    return service.list_users(c)


@router.post(
    "/users",
    dependencies=[needs("user:manage")],
    response_model=UserCreatedRead,
    status_code=201,
    responses=errors(400, 401, 403, 409),
)
def create_user(body: UserCreate, caller: UserAdmin, c: Deps) -> UserCreatedRead:
    """Add a user; without a password one is generated, shown in this answer only, to change at first
    sign-in."""
    return service.create_user(c, principal=caller, user=body)


@router.get(
    "/users/{username}",
    dependencies=[needs("user:manage")],
    response_model=UserRead,
    responses=errors(401, 403, 404),
)
def user(username: str, c: Deps) -> UserRead:
    """One user."""
    return service.get_user(c, username=username)


@router.patch(
    "/users/{username}",
    dependencies=[needs("user:manage")],
    response_model=UserRead,
    responses=errors(400, 401, 403, 404),
)
def update_user(username: str, body: UserUpdate, caller: UserAdmin, c: Deps) -> UserRead:
    """Change roles, branches, advisor id, name, or disable the user (their sessions and tokens end at
    once)."""
    return service.update_user(c, principal=caller, username=username, change=body)


@router.post(
    "/users/{username}/reset-password",
    dependencies=[needs("user:manage")],
    response_model=UserCreatedRead,
    responses=errors(401, 403, 404),
)
def reset_password(username: str, caller: UserAdmin, c: Deps) -> UserCreatedRead:
    """A new one-time password for the user (in this answer only); their sessions end."""
    password = service.reset_password(c, principal=caller, username=username)
    return UserCreatedRead.model_validate(
        {**service.get_user(c, username=username).model_dump(), "password": password}
    )


@router.get(
    "/users/{username}/tokens",
    dependencies=[needs("user:manage")],
    response_model=list[TokenRead],
    responses=errors(401, 403, 404),
)
def user_tokens(username: str, c: Deps) -> list[TokenRead]:
    """A user's tokens."""
    return service.list_tokens(c, username=username)


@router.delete(
    "/users/{username}/tokens/{token_id}",
    dependencies=[needs("user:manage")],
    response_model=TokenRead,
    responses=errors(401, 403, 404),
)
def revoke_user_token(username: str, token_id: int, caller: UserAdmin, c: Deps) -> TokenRead:
    """Revoke one of a user's tokens."""
    return service.revoke_token(c, principal=caller, username=username, token_id=token_id)


@router.get(
    "/roles", dependencies=[needs("user:manage")], response_model=list[RoleRead], responses=errors(401, 403)
)
def roles(c: Deps) -> list[RoleRead]:
    """Every role and its permissions."""
    return role_service.list_roles(c)


@router.put(
    "/roles/{name}",
    dependencies=[needs("role:manage")],
    response_model=RoleRead,
    responses=errors(400, 401, 403),
)
def set_role(name: RoleName, body: RoleUpdate, caller: RoleAdmin, c: Deps) -> RoleRead:
    """Create a role or replace its permissions (the admin role cannot be edited)."""
    return role_service.set_role(c, principal=caller, name=name, change=body)


@router.get(
    "/permissions",
    dependencies=[needs("user:manage")],
    response_model=list[PermissionRead],
    responses=errors(401, 403),
)
def permissions() -> list[PermissionRead]:
    """Every permission with its Chinese and English names."""
    return [PermissionRead(name=p.name, zh=p.zh, en=p.en) for p in PERMISSIONS]


@router.get(
    "/audit",
    dependencies=[needs("audit:read")],
    response_model=list[AuditEntryRead],
    responses=errors(401, 403),
)
def audit(
    c: Deps,
    user: Annotated[str | None, Query(max_length=128)] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=256)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    first: Annotated[
        str | None, Query(alias="from", pattern=DAY_PATTERN, description=f"first day: {DAY_FORMS}")
    ] = None,
    last: Annotated[
        str | None, Query(alias="to", pattern=DAY_PATTERN, description=f"last day (inclusive): {DAY_FORMS}")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, description="page back from this position")] = None,
) -> list[AuditEntryRead]:
    """Audit entries, newest first, filtered by user, kind, object, action and days (Beijing dates)."""
    since, until = resolve_day(c, first, name="from"), resolve_day(c, last, name="to")
    return search(
        c.ops,
        actor=user,
        kind=kind,
        target=target,
        action=action,
        since=None if since is None else c.calendar.to_utc(since),
        until=None if until is None else c.calendar.to_utc(until + timedelta(days=1)),
        limit=limit,
        before_seq=before,
    )


@router.get(
    "/audit/verify",
    dependencies=[needs("audit:read")],
    response_model=AuditVerifyRead,
    responses=errors(401, 403),
)
def audit_verify(c: Deps) -> AuditVerifyRead:
    """Walk the hash chain and report every entry that was edited, removed or moved."""
    return verify(c.ops)
