"""Local users, sign-in sessions and personal API tokens (their roles' permissions: `roles.py`).

Passwords are kept as argon2id hashes; session and token secrets, which are random and long, as SHA-256
digests — a copy of the database signs no one in. Sign-in is the only place a password is checked, so an
OIDC or LDAP provider is another way to reach `Account` (`open_session` takes an account however it was
proven), and no domain changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection

from touchpoint.config import AccountPolicy
from touchpoint.core.clock import Clock
from touchpoint.core.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
)
from touchpoint.governance.audit import record_operation
from touchpoint.governance.model import (
    Principal,
    TokenCreate,
    TokenCreatedRead,
    TokenRead,
    UserCreate,
    UserCreatedRead,
    UserRead,
    UserUpdate,
)
from touchpoint.governance.roles import check_roles, permissions_of
from touchpoint.store import OperationalStore
from touchpoint.store.operational import accounts as rows

TOKEN_PREFIX = "tp_"
SESSION_TOUCH = timedelta(minutes=1)
"""A session's last use is written at most this often (every request would be a write otherwise)."""

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("touchpoint: no such user")
COMMON_PASSWORDS = frozenset(
    {"password", "12345678", "123456789", "1234567890", "qwerty123", "admin123", "abc12345", "password1"}
)


class AccountsEnv(Protocol):
    """What the account services read."""

    @property
    def ops(self) -> OperationalStore: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def account_policy(self) -> AccountPolicy: ...


@dataclass(frozen=True)
class Account:
    """A signed-in user as the API sees them: who, what they may do, where they are limited to."""

    user_id: int
    username: str
    display_name: str
    roles: frozenset[str]
    permissions: frozenset[str]
    branches: tuple[str, ...]
    advisor_id: str | None
    must_change_password: bool
    csrf_token: str | None = None
    session_hash: str | None = None

    @property
    def scoped(self) -> bool:
        """True when the user is limited to branches or to their own customers."""
        return bool(self.branches) or self.advisor_id is not None

    def principal(self, *, source: str, scope: Any = None) -> Principal:
        """The `Principal` services take, with the scope bitmap the caller built for this account."""
        return Principal(
            user=self.username, roles=self.roles, permissions=self.permissions, scope=scope, source=source
        )


def digest(secret: str) -> str:
    """The SHA-256 of a session or token secret, as kept in the database."""
    return hashlib.sha256(secret.encode()).hexdigest()


# ---- passwords ----------------------------------------------------------------------------------------


def password_problems(policy: AccountPolicy, username: str, password: str) -> list[str]:
    """Every rule the password breaks (empty when it is acceptable)."""
    problems = []
    if len(password) < policy.password_min_length:
        problems.append(f"at least {policy.password_min_length} characters")
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        problems.append("letters and digits")
    if username and username.lower() in password.lower():
        problems.append("not containing the username")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("not a common password")
    return problems


def _check_password(policy: AccountPolicy, username: str, password: str) -> None:
    problems = password_problems(policy, username, password)
    if problems:
        raise ValidationError("the password needs " + ", ".join(problems))


def generate_password(policy: AccountPolicy, username: str, length: int = 16) -> str:
    """A random password that meets every rule for this user: letters, digits and a symbol, and not
    containing the username (a short username could otherwise turn up in it)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        body = "".join(secrets.choice(alphabet) for _ in range(length - 1)) + secrets.choice("-_.!")
        if not password_problems(policy, username, body):
            return body


# ---- users --------------------------------------------------------------------------------------------


def _user_read(row: dict[str, Any]) -> UserRead:
    return UserRead.model_validate(row)


def _row(connection: Connection, username: str) -> dict[str, Any]:
    found = rows.user_by_name(connection, username)
    if found is None:
        raise NotFoundError(f"no user {username!r}")
    return found


def create_user(env: AccountsEnv, *, principal: Principal, user: UserCreate) -> UserCreatedRead:
    """Add a local user; a password is generated (and returned this once) when none is given, and then must
    be changed at the first sign-in."""
    generated = user.password is None
    password = generate_password(env.account_policy, user.username) if generated else str(user.password)
    _check_password(env.account_policy, user.username, password)
    password_hash = _HASHER.hash(password)
    now = env.clock.now()
    values = {
        "username": user.username,
        "display_name": user.display_name or user.username,
        "password_hash": password_hash,
        "roles": sorted(set(user.roles)),
        "branches": sorted(set(user.branches)),
        "advisor_id": user.advisor_id,
        "disabled": False,
        "must_change_password": generated,
        "failed_attempts": 0,
        "locked_until": None,
        "password_changed_at": now,
        "last_sign_in_at": None,
        "created_at": now,
        "created_by": principal.user,
    }
    with env.ops.begin() as connection:
        if rows.user_by_name(connection, user.username) is not None:
            raise ConflictError(f"user {user.username!r} exists")
        check_roles(connection, user.roles)
        rows.add_user(connection, values)
        shown = _public(values)
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="user.create",
            target_type="user",
            target_id=user.username,
            after=shown,
        )
    return UserCreatedRead.model_validate({**values, "password": password if generated else None})


def _public(values: dict[str, Any]) -> dict[str, Any]:
    """A user's columns fit for the audit log: no hash, instants as text."""
    kept = ("username", "display_name", "roles", "branches", "advisor_id", "disabled")
    return {k: values[k] for k in kept if k in values}


def list_users(env: AccountsEnv) -> list[UserRead]:
    """Every user by username."""
    with env.ops.begin() as connection:
        return [_user_read(r) for r in rows.all_users(connection)]


def get_user(env: AccountsEnv, *, username: str) -> UserRead:
    """One user."""
    with env.ops.begin() as connection:
        return _user_read(_row(connection, username))


def update_user(env: AccountsEnv, *, principal: Principal, username: str, change: UserUpdate) -> UserRead:
    """Change a user's roles, branches, advisor id, name or disabled flag. Disabling ends every session and
    revokes every token of the user at once."""
    values = change.model_dump(exclude_unset=True)
    now = env.clock.now()
    with env.ops.begin() as connection:
        before = _row(connection, username)
        if "roles" in values:
            values["roles"] = sorted(set(values["roles"]))
            check_roles(connection, values["roles"])
        if "branches" in values:
            values["branches"] = sorted(set(values["branches"]))
        if values.get("disabled") is False:
            values |= {"failed_attempts": 0, "locked_until": None}
        rows.update_user(connection, before["id"], values)
        if values.get("disabled"):
            rows.revoke_sessions(connection, now=now, user_id=before["id"])
            rows.revoke_tokens_of(connection, before["id"], now=now)
        after = {**before, **values}
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="user.update",
            target_type="user",
            target_id=username,
            before=_public(before),
            after=_public(after),
        )
    return _user_read(after)


def reset_password(
    env: AccountsEnv, *, principal: Principal, username: str, password: str | None = None
) -> str:
    """Give a user a new password (generated when none is given), to be changed at the next sign-in; ends
    their sessions and lifts a lock. Returns the password."""
    with env.ops.begin() as connection:
        _row(connection, username)  # an unknown user is a 404 before any rule about the password
    new = generate_password(env.account_policy, username) if password is None else password
    _check_password(env.account_policy, username, new)
    new_hash = _HASHER.hash(new)
    now = env.clock.now()
    with env.ops.begin() as connection:
        row = _row(connection, username)
        rows.update_user(
            connection,
            row["id"],
            {
                "password_hash": new_hash,
                "must_change_password": True,
                "password_changed_at": now,
                "failed_attempts": 0,
                "locked_until": None,
            },
        )
        rows.revoke_sessions(connection, now=now, user_id=row["id"])
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="user.reset_password",
            target_type="user",
            target_id=username,
        )
    return new


def change_password(env: AccountsEnv, *, account: Account, current: str, new: str) -> None:
    """A user replaces their own password (the current one proves it is them)."""
    with env.ops.begin() as connection:
        row = _row(connection, account.username)
    if not _verified(row["password_hash"], current):
        raise UnauthorizedError("the current password is wrong")
    if current == new:
        raise ValidationError("the new password must differ from the current one")
    _check_password(env.account_policy, account.username, new)
    new_hash = _HASHER.hash(new)
    with env.ops.begin() as connection:
        rows.update_user(
            connection,
            row["id"],
            {
                "password_hash": new_hash,
                "must_change_password": False,
                "password_changed_at": env.clock.now(),
            },
        )
        record_operation(
            connection,
            clock=env.clock,
            principal=account.principal(source="api"),
            action="user.change_password",
            target_type="user",
            target_id=account.username,
        )


def _verified(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# ---- sign-in and sessions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedSession:
    """A new session: the secret goes into the cookie, the CSRF token to the console."""

    secret: str
    csrf_token: str
    expires_at: datetime
    account: Account


def sign_in(env: AccountsEnv, *, username: str, password: str, source: str) -> OpenedSession:
    """Check a password and open a session. After `lockout_failures` wrong passwords in a row the user is
    locked for `lockout_minutes`; the answer does not say whether the user exists.

    Every attempt is in the audit log, failures too."""
    policy, now = env.account_policy, env.clock.now()
    with env.ops.begin() as connection:
        row = rows.user_by_name(connection, username)
    # Hash anyway when the user is unknown, so the answer's timing does not tell who exists.
    matches = _verified(row["password_hash"] if row else _DUMMY_HASH, password)
    attempt = Principal(user=username, source=source)
    refusal = _refusal(row, matches, now)
    with env.ops.begin() as connection:
        if refusal is not None:
            if row is not None and not matches:
                _count_failure(connection, row, policy, now)
            record_operation(
                connection,
                clock=env.clock,
                principal=attempt,
                action="auth.sign_in_failed",
                target_type="user",
                target_id=username,
                after={"reason": refusal},
            )
    if refusal is not None:
        raise UnauthorizedError(
            "this user is locked after too many failed sign-ins; try again later"
            if refusal == "locked"
            else "wrong username or password, or the user is disabled"
        )
    assert row is not None
    with env.ops.begin() as connection:
        rows.update_user(
            connection, row["id"], {"failed_attempts": 0, "locked_until": None, "last_sign_in_at": now}
        )
        account = _account(connection, row)
    return open_session(env, account=account, source=source)


def _refusal(row: dict[str, Any] | None, matches: bool, now: datetime) -> str | None:
    if row is None:
        return "unknown user"
    if row["disabled"]:
        return "disabled"
    if row["locked_until"] is not None and row["locked_until"] > now:
        return "locked"
    return None if matches else "wrong password"


def _count_failure(connection: Connection, row: dict[str, Any], policy: AccountPolicy, now: datetime) -> None:
    failures = int(row["failed_attempts"]) + 1
    values: dict[str, Any] = {"failed_attempts": failures}
    if failures >= policy.lockout_failures:
        values |= {"failed_attempts": 0, "locked_until": now + timedelta(minutes=policy.lockout_minutes)}
    rows.update_user(connection, row["id"], values)


def open_session(env: AccountsEnv, *, account: Account, source: str) -> OpenedSession:
    """A server-side session for an account proven by any means (password here; OIDC or LDAP later)."""
    now, policy = env.clock.now(), env.account_policy
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = now + timedelta(minutes=policy.session_idle_minutes)
    with env.ops.begin() as connection:
        rows.add_session(
            connection,
            {
                "id_hash": digest(secret),
                "user_id": account.user_id,
                "csrf_token": csrf,
                "source": source,
                "created_at": now,
                "last_seen_at": now,
                "expires_at": expires,
                "revoked_at": None,
            },
        )
        record_operation(
            connection,
            clock=env.clock,
            principal=account.principal(source=source),
            action="auth.sign_in",
            target_type="user",
            target_id=account.username,
        )
    return OpenedSession(secret=secret, csrf_token=csrf, expires_at=expires, account=account)


def session_account(env: AccountsEnv, *, secret: str) -> Account | None:
    """The account of a live session, or None (unknown, ended, expired, or its user disabled)."""
    now, policy = env.clock.now(), env.account_policy
    id_hash = digest(secret)
    with env.ops.begin() as connection:
        session = rows.session_by_hash(connection, id_hash)
        if session is None or session["revoked_at"] is not None or session["expires_at"] <= now:
            return None
        if session["created_at"] + timedelta(hours=policy.session_max_hours) <= now:
            return None
        user = rows.user_by_id(connection, session["user_id"])
        if user is None or user["disabled"]:
            return None
        if now - session["last_seen_at"] >= SESSION_TOUCH:
            rows.touch_session(
                connection, id_hash, seen=now, expires=now + timedelta(minutes=policy.session_idle_minutes)
            )
        account = _account(connection, user)
    return replace(account, csrf_token=session["csrf_token"], session_hash=id_hash)


def sign_out(env: AccountsEnv, *, account: Account) -> None:
    """End the account's current session."""
    if account.session_hash is None:
        return
    with env.ops.begin() as connection:
        rows.revoke_sessions(
            connection, now=env.clock.now(), user_id=account.user_id, id_hash=account.session_hash
        )
        record_operation(
            connection,
            clock=env.clock,
            principal=account.principal(source="api"),
            action="auth.sign_out",
            target_type="user",
            target_id=account.username,
        )


def csrf_matches(account: Account, sent: str | None) -> bool:
    """True when the header the console sent carries this session's CSRF token."""
    return (
        account.csrf_token is not None and sent is not None and hmac.compare_digest(account.csrf_token, sent)
    )


# ---- API tokens ---------------------------------------------------------------------------------------


def create_token(
    env: AccountsEnv, *, principal: Principal, username: str, token: TokenCreate
) -> TokenCreatedRead:
    """A personal API token for a user's scripts; its secret is returned this once and kept only as a
    digest."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = env.clock.now()
    values = {
        "name": token.name,
        "prefix": secret[:10],
        "token_hash": digest(secret),
        "created_at": now,
        "expires_at": None if token.days is None else now + timedelta(days=token.days),
        "last_used_at": None,
        "revoked_at": None,
    }
    with env.ops.begin() as connection:
        user = _row(connection, username)
        if user["disabled"]:
            raise ForbiddenError(f"user {username!r} is disabled")
        token_id = rows.add_token(connection, {**values, "user_id": user["id"]})
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="token.create",
            target_type="user",
            target_id=username,
            after={"token": token_id, "name": token.name, "prefix": values["prefix"]},
        )
    return TokenCreatedRead.model_validate({**values, "id": token_id, "token": secret})


def list_tokens(env: AccountsEnv, *, username: str) -> list[TokenRead]:
    """A user's tokens, newest first, without their secrets."""
    with env.ops.begin() as connection:
        user = _row(connection, username)
        return [TokenRead.model_validate(r) for r in rows.tokens_of(connection, user["id"])]


def revoke_token(env: AccountsEnv, *, principal: Principal, username: str, token_id: int) -> TokenRead:
    """Revoke one of a user's tokens; it is refused from the next request on."""
    now = env.clock.now()
    with env.ops.begin() as connection:
        user = _row(connection, username)
        theirs = {r["id"]: r for r in rows.tokens_of(connection, user["id"])}
        if token_id not in theirs:
            raise NotFoundError(f"user {username!r} has no token {token_id}")
        if theirs[token_id]["revoked_at"] is None:
            rows.update_token(connection, token_id, {"revoked_at": now})
            theirs[token_id]["revoked_at"] = now
            record_operation(
                connection,
                clock=env.clock,
                principal=principal,
                action="token.revoke",
                target_type="user",
                target_id=username,
                after={"token": token_id},
            )
    return TokenRead.model_validate(theirs[token_id])


def token_account(env: AccountsEnv, *, secret: str) -> Account | None:
    """The account a bearer token belongs to, or None (unknown, revoked, expired, or its user disabled)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    now = env.clock.now()
    with env.ops.begin() as connection:
        token = rows.token_by_hash(connection, digest(secret))
        if token is None or token["revoked_at"] is not None:
            return None
        if token["expires_at"] is not None and token["expires_at"] <= now:
            return None
        user = rows.user_by_id(connection, token["user_id"])
        if user is None or user["disabled"]:
            return None
        if token["last_used_at"] is None or now - token["last_used_at"] >= SESSION_TOUCH:
            rows.update_token(connection, token["id"], {"last_used_at": now})
        return _account(connection, user)


def _account(connection: Connection, user: dict[str, Any]) -> Account:
    user_roles = frozenset(user["roles"])
    return Account(
        user_id=user["id"],
        username=user["username"],
        display_name=user["display_name"],
        roles=user_roles,
        permissions=permissions_of(connection, user_roles),
        branches=tuple(user["branches"]),
        advisor_id=user["advisor_id"],
        must_change_password=bool(user["must_change_password"]),
    )
