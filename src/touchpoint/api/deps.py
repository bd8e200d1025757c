"""Request-scoped access to the container and the caller, and the permission every route declares.

A caller proves who they are with a session cookie (the console: changes also need the session's CSRF token
in `X-CSRF-Token`) or a personal API token (`Authorization: Bearer tp_…`). Every route declares one of:

- `needs("object:verb")` — a signed-in caller holding that permission (401 without a credential, 403 without
  the permission);
- `signed_in()` — any signed-in caller, for their own account (who am I, my password, my tokens);
- `public("why")` — no sign-in, because the route proves its caller otherwise (an ingestion key, a provider's
  signature) or serves anyone (health, tracked links).

`tests/unit/api/test_route_permissions.py` walks every route and fails on one that declares none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from touchpoint.bootstrap import Container
from touchpoint.core.errors import ForbiddenError, UnauthorizedError
from touchpoint.governance import Principal
from touchpoint.governance.accounts import Account, csrf_matches, session_account, token_account
from touchpoint.governance.permissions import ALL_PERMISSIONS
from touchpoint.identity.scopes import scope_for

SESSION_COOKIE = "tp_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def container(request: Request) -> Container:
    """The application's container."""
    value: Container = request.app.state.container
    return value


def source_of(request: Request) -> str:
    """Where a request came from, for the audit log."""
    return f"api:{request.client.host if request.client else 'unknown'}"


# Declared as FastAPI security schemes so that the OpenAPI document states how to sign in; the checks are
# ours (auto_error=False), to answer in the one error shape.
BEARER = HTTPBearer(auto_error=False, description="a personal API token: `Authorization: Bearer tp_…`")
COOKIE = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="the console's session")


def account(
    request: Request,
    c: Annotated[Container, Depends(container)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    cookie: Annotated[str | None, Depends(COOKIE)],
) -> Account:
    """The signed-in account, from a bearer token or the session cookie."""
    if request.headers.get("authorization") is not None:
        if bearer is None:
            raise UnauthorizedError("the Authorization header must be 'Bearer <token>'")
        found = token_account(c, secret=bearer.credentials.strip())
        if found is None:
            raise UnauthorizedError("unknown, revoked or expired token, or its user is disabled")
        return found
    if cookie is None:
        raise UnauthorizedError("sign in (POST /api/v1/auth/sign-in) or send 'Authorization: Bearer <token>'")
    session = session_account(c, secret=cookie)
    if session is None:
        raise UnauthorizedError("the session has ended; sign in again")
    if request.method not in SAFE_METHODS and not csrf_matches(session, request.headers.get(CSRF_HEADER)):
        raise ForbiddenError(f"a change needs the session's CSRF token in {CSRF_HEADER}")
    return session


Signed = Annotated[Account, Depends(account)]


def ensure_password_changed(signed: Account) -> None:
    """Refuse (403) an account still on a one-time password: it must change it first."""
    if signed.must_change_password:
        raise ForbiddenError("change your password first (POST /api/v1/auth/password)")


def principal(request: Request, signed: Signed, c: Annotated[Container, Depends(container)]) -> Principal:
    """The caller as services take it, with the bitmap of the customers a scoped user may see. A user given
    a one-time password must change it before anything else."""
    ensure_password_changed(signed)
    scope = scope_for(c, branches=signed.branches, advisor_id=signed.advisor_id) if signed.scoped else None
    return signed.principal(source=source_of(request), scope=scope)


class Needs:
    """The dependency of a route that needs one permission; it yields the caller.

    `scoped` says the route's service narrows what it shows to the caller's branch scope. A user limited to
    branches or to their own customers is refused every other route (403): what has not been narrowed yet is
    closed to them, never shown whole."""

    def __init__(self, permission: str, *, scoped: bool = False) -> None:
        self.permission = permission
        self.scoped = scoped

    def __call__(self, caller: Annotated[Principal, Depends(principal)]) -> Principal:
        """Refuse a caller without the permission, or limited to a scope this route does not narrow to."""
        if not caller.can(self.permission):
            raise ForbiddenError(f"this needs the permission {self.permission!r}")
        if caller.scope is not None and not self.scoped:
            raise ForbiddenError("this is not open to users limited to branches or to their own customers")
        return caller


class SignedIn:
    """The dependency of a route any signed-in account may call, for itself."""

    def __call__(self, signed: Signed) -> Account:
        """The account."""
        return signed


class Public:
    """The marker of a route open without sign-in, with the reason it may be."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __call__(self) -> None:
        """Nothing to check here; the route checks its own credential, if any."""


def needs(permission: str, *, scoped: bool = False) -> Any:
    """`dependencies=[needs("segment:read")]`: the route needs this permission (`scoped=True`: and its
    service narrows to the caller's branch scope)."""
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return Depends(Needs(permission, scoped=scoped))


def signed_in() -> Any:
    """`dependencies=[signed_in()]`: any signed-in caller."""
    return Depends(SignedIn())


def public(reason: str) -> Any:
    """`dependencies=[public("ingestion key")]`: no sign-in, for this reason."""
    return Depends(Public(reason))


def single_query_values(request: Request) -> None:
    """Refuse a query parameter given more than once unless it takes a list (the app-wide dependency):
    FastAPI would keep the last value silently, and a filter read from one copy of two is a guess."""
    counts = Counter(key for key, _ in request.query_params.multi_items())
    repeated = {key for key, n in counts.items() if n > 1}
    route = request.scope.get("route")
    if not repeated or not isinstance(route, APIRoute):
        return
    for field in _query_fields(route.dependant):
        if field.alias in repeated and not _takes_many(field.field_info.annotation):
            raise RequestValidationError(
                [
                    {
                        "type": "value_error",
                        "loc": ("query", field.alias),
                        "msg": f"{field.alias} is given {counts[field.alias]} times; it takes one value",
                        "input": request.query_params.getlist(field.alias),
                    }
                ]
            )


def _query_fields(dependant: Dependant) -> list[Any]:
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found += _query_fields(sub)
    return found


def _takes_many(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (list, set, frozenset, tuple, Sequence):
        return True
    if origin in (Union, UnionType, Annotated):
        return any(_takes_many(arg) for arg in get_args(annotation))
    return False
