"""Local users, sign-in sessions, personal API tokens and roles, at the service level (issue 15).

Each test runs on SQLite and, in CI, on PostgreSQL (the `container` fixture): what is stored matters here —
only digests of secrets, argon2 hashes of passwords, the lock and the session's expiry columns."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from support import examples
from touchpoint.bootstrap import Container
from touchpoint.config import AccountPolicy
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ConflictError, NotFoundError, UnauthorizedError, ValidationError
from touchpoint.governance import SYSTEM, Principal
from touchpoint.governance.accounts import (
    Account,
    change_password,
    create_token,
    create_user,
    generate_password,
    get_user,
    list_tokens,
    password_problems,
    reset_password,
    revoke_token,
    session_account,
    sign_in,
    sign_out,
    token_account,
    update_user,
)
from touchpoint.governance.audit import search
from touchpoint.governance.model import (
    AuditEntryRead,
    RoleUpdate,
    TokenCreate,
    UserCreate,
    UserUpdate,
)
from touchpoint.governance.permissions import BUILTIN_BY_NAME
from touchpoint.governance.roles import set_role
from touchpoint.store.operational.schema import api_tokens, user_sessions, users

PASSWORD = "Blue-harbour-2718"
WRONG_OR_DISABLED = "wrong username or password, or the user is disabled"
LOCKED = "this user is locked after too many failed sign-ins; try again later"
ADMIN = Principal(user="root", roles=frozenset({"admin"}), permissions=SYSTEM.permissions, source="tests")


def _user(container: Container, username: str = "alice", *, roles: tuple[str, ...] = ("analyst",)) -> None:
    create_user(
        container, principal=ADMIN, user=UserCreate(username=username, roles=list(roles), password=PASSWORD)
    )


def _user_row(container: Container, username: str) -> dict[str, Any]:
    with container.ops.begin() as connection:
        row = connection.execute(select(users).where(users.c.username == username)).mappings().one()
    return dict(row)


def _audited(container: Container, action: str) -> list[AuditEntryRead]:
    return search(container.ops, action=action)


def _sign_in(container: Container, username: str = "alice", password: str = PASSWORD) -> Any:
    return sign_in(container, username=username, password=password, source="api:10.0.0.7")


def _clock(container: Container) -> VirtualClock:
    clock = container.clock
    assert isinstance(clock, VirtualClock)
    return clock


# ---- users and passwords ------------------------------------------------------------------------------


def test_a_user_created_with_a_password_keeps_only_its_argon2_hash(container: Container) -> None:
    created = create_user(
        container,
        principal=ADMIN,
        user=UserCreate(username="alice", roles=["analyst"], password=PASSWORD, display_name="Alice"),
    )

    assert created.password is None
    assert created.must_change_password is False
    assert (created.username, created.display_name, created.roles) == ("alice", "Alice", ["analyst"])
    assert created.created_by == "root"
    stored = _user_row(container, "alice")["password_hash"]
    assert stored.startswith("$argon2id$")
    assert stored != PASSWORD
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD) is True


def test_a_generated_password_is_returned_once_and_must_be_changed(container: Container) -> None:
    created = create_user(container, principal=ADMIN, user=UserCreate(username="bob", roles=["operator"]))

    assert created.password is not None
    assert len(created.password) == 16
    assert password_problems(container.account_policy, "bob", created.password) == []
    assert created.must_change_password is True
    stored = _user_row(container, "bob")
    assert stored["must_change_password"] is True
    assert stored["password_hash"].startswith("$argon2id$")
    assert stored["password_hash"] != created.password
    assert PasswordHasher().verify(stored["password_hash"], created.password) is True
    # Shown this once: reading the user back has no password at all.
    assert "password" not in get_user(container, username="bob").model_dump()
    # It signs in, and the account says it must be changed.
    assert _sign_in(container, "bob", created.password).account.must_change_password is True


def test_two_users_get_different_generated_passwords(container: Container) -> None:
    first = create_user(container, principal=ADMIN, user=UserCreate(username="bob", roles=["operator"]))
    second = create_user(container, principal=ADMIN, user=UserCreate(username="carol", roles=["operator"]))
    assert first.password != second.password


def test_a_duplicate_username_is_a_conflict(container: Container) -> None:
    _user(container, "alice")
    with pytest.raises(ConflictError, match="user 'alice' exists"):
        create_user(
            container,
            principal=ADMIN,
            user=UserCreate(username="alice", roles=["operator"], password="Other-pass-9999"),
        )
    assert _user_row(container, "alice")["roles"] == ["analyst"]
    assert len(_audited(container, "user.create")) == 1


def test_an_unknown_role_is_refused_by_name(container: Container) -> None:
    with pytest.raises(ValidationError, match=r"^unknown role wizard; roles are admin, "):
        create_user(
            container,
            principal=ADMIN,
            user=UserCreate(username="alice", roles=["analyst", "wizard"], password=PASSWORD),
        )
    with container.ops.begin() as connection:
        assert connection.execute(select(users)).first() is None
    assert _audited(container, "user.create") == []


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("abcd1234x", "at least 10 characters"),
        ("Harbourlights", "letters and digits"),
        ("9081726354", "letters and digits"),
        ("my-ALICE-2718", "not containing the username"),
    ],
)
def test_each_password_rule_broken_alone_gives_its_message(password: str, problem: str) -> None:
    policy = AccountPolicy()
    assert password_problems(policy, "alice", password) == [problem]


def test_a_common_password_is_refused_even_when_long_enough() -> None:
    # Every common password is shorter than the default 10 characters; with a minimum of 8 the list is what
    # refuses it.
    policy = AccountPolicy(password_min_length=8)
    assert password_problems(policy, "alice", "qwerty123") == ["not a common password"]
    assert password_problems(policy, "alice", "Admin123") == ["not a common password"]
    assert password_problems(policy, "alice", "qwerty1234") == []


def test_a_password_breaking_every_rule_lists_them_all() -> None:
    assert password_problems(AccountPolicy(), "password", "password") == [
        "at least 10 characters",
        "letters and digits",
        "not containing the username",
        "not a common password",
    ]
    assert password_problems(AccountPolicy(), "alice", PASSWORD) == []


def test_create_user_refuses_a_weak_password_with_every_problem(container: Container) -> None:
    with pytest.raises(ValidationError) as refused:
        create_user(
            container,
            principal=ADMIN,
            user=UserCreate(username="alice", roles=["analyst"], password="alice"),
        )
    assert str(refused.value) == (
        "the password needs at least 10 characters, letters and digits, not containing the username"
    )
    assert _audited(container, "user.create") == []


# ---- sign-in, lock-out --------------------------------------------------------------------------------


def test_sign_in_opens_a_session_kept_only_as_a_digest(container: Container) -> None:
    _user(container, "alice")
    opened = _sign_in(container)

    assert opened.account.username == "alice"
    assert opened.account.roles == frozenset({"analyst"})
    assert opened.account.permissions == BUILTIN_BY_NAME["analyst"].permissions
    assert opened.expires_at == container.clock.now() + timedelta(
        minutes=container.account_policy.session_idle_minutes
    )
    found = session_account(container, secret=opened.secret)
    assert found is not None
    assert (found.username, found.csrf_token) == ("alice", opened.csrf_token)
    assert found.session_hash == hashlib.sha256(opened.secret.encode()).hexdigest()
    with container.ops.begin() as connection:
        stored = [dict(r) for r in connection.execute(select(user_sessions)).mappings()]
    assert len(stored) == 1
    assert stored[0]["id_hash"] == hashlib.sha256(opened.secret.encode()).hexdigest()
    assert opened.secret not in {str(v) for v in stored[0].values()}
    assert _user_row(container, "alice")["last_sign_in_at"] == container.clock.now()
    # A made-up secret is no session.
    assert session_account(container, secret=opened.secret + "x") is None
    signed = _audited(container, "auth.sign_in")
    assert [(e.actor, e.source, e.target_id) for e in signed] == [("alice", "api:10.0.0.7", "alice")]


def test_fewer_wrong_passwords_than_the_limit_then_the_right_one_resets_the_count(
    container: Container,
) -> None:
    _user(container, "alice")
    limit = container.account_policy.lockout_failures
    for _ in range(limit - 1):
        with pytest.raises(UnauthorizedError, match=f"^{WRONG_OR_DISABLED}$"):
            _sign_in(container, password="Not-the-one-1")
    assert _user_row(container, "alice")["failed_attempts"] == limit - 1

    assert _sign_in(container).account.username == "alice"
    assert _user_row(container, "alice")["failed_attempts"] == 0
    assert _user_row(container, "alice")["locked_until"] is None

    # The count started again: another limit-1 failures still do not lock.
    for _ in range(limit - 1):
        with pytest.raises(UnauthorizedError, match=f"^{WRONG_OR_DISABLED}$"):
            _sign_in(container, password="Not-the-one-1")
    assert _sign_in(container).account.username == "alice"


def test_the_limit_of_wrong_passwords_locks_until_the_lock_has_passed(container: Container) -> None:
    _user(container, "alice")
    policy, clock = container.account_policy, _clock(container)
    for _ in range(policy.lockout_failures):
        with pytest.raises(UnauthorizedError, match=f"^{WRONG_OR_DISABLED}$"):
            _sign_in(container, password="Not-the-one-1")
    locked_at = clock.now()
    assert _user_row(container, "alice")["locked_until"] == locked_at + timedelta(
        minutes=policy.lockout_minutes
    )

    # Even the right password is refused, and the answer says why.
    with pytest.raises(UnauthorizedError, match=f"^{LOCKED}$"):
        _sign_in(container)
    clock.advance(timedelta(minutes=policy.lockout_minutes) - timedelta(seconds=1))
    with pytest.raises(UnauthorizedError, match=f"^{LOCKED}$"):
        _sign_in(container)

    clock.advance(timedelta(seconds=1))
    assert _sign_in(container).account.username == "alice"
    assert _user_row(container, "alice")["locked_until"] is None

    reasons = [e.after["reason"] for e in reversed(_audited(container, "auth.sign_in_failed"))]
    assert reasons == ["wrong password"] * policy.lockout_failures + ["locked", "locked"]


def test_unknown_and_disabled_users_get_the_wrong_password_answer(container: Container) -> None:
    _user(container, "alice")
    _user(container, "dave")
    update_user(container, principal=ADMIN, username="dave", change=UserUpdate(disabled=True))

    answers = []
    for username, password in [("alice", "Not-the-one-1"), ("nobody", PASSWORD), ("dave", PASSWORD)]:
        with pytest.raises(UnauthorizedError) as refused:
            _sign_in(container, username, password)
        answers.append(str(refused.value))
    assert answers == [WRONG_OR_DISABLED] * 3

    failed = {e.target_id: (e.actor, e.source, e.after) for e in _audited(container, "auth.sign_in_failed")}
    assert failed == {
        "alice": ("alice", "api:10.0.0.7", {"reason": "wrong password"}),
        "nobody": ("nobody", "api:10.0.0.7", {"reason": "unknown user"}),
        "dave": ("dave", "api:10.0.0.7", {"reason": "disabled"}),
    }
    assert _audited(container, "auth.sign_in") == []


# ---- session lifetime ---------------------------------------------------------------------------------


def test_a_used_session_slides_and_an_idle_one_ends_exactly_at_the_limit(container: Container) -> None:
    _user(container, "alice")
    clock, idle = _clock(container), timedelta(minutes=container.account_policy.session_idle_minutes)
    used, untouched = _sign_in(container), _sign_in(container)
    minute = timedelta(minutes=1)

    clock.advance(idle - minute)
    assert session_account(container, secret=used.secret) is not None
    # Used at idle-1 minute, it slid: idle-1 minute later still (well past the first expiry) it is alive.
    clock.advance(idle - minute)
    assert session_account(container, secret=used.secret) is not None
    with container.ops.begin() as connection:
        row = (
            connection.execute(
                select(user_sessions).where(
                    user_sessions.c.id_hash == hashlib.sha256(used.secret.encode()).hexdigest()
                )
            )
            .mappings()
            .one()
        )
    assert (row["last_seen_at"], row["expires_at"]) == (clock.now(), clock.now() + idle)
    assert session_account(container, secret=untouched.secret) is None

    # Unused for exactly the idle time, it has ended.
    clock.advance(idle - minute)
    assert session_account(container, secret=used.secret) is not None
    clock.advance(idle)
    assert session_account(container, secret=used.secret) is None


def test_an_untouched_session_is_refused_at_exactly_the_idle_limit(container: Container) -> None:
    _user(container, "alice")
    clock, idle = _clock(container), timedelta(minutes=container.account_policy.session_idle_minutes)
    opened = _sign_in(container)
    clock.advance(idle - timedelta(seconds=1))
    later = _sign_in(container)
    assert later.secret != opened.secret
    clock.advance(timedelta(seconds=1))
    assert session_account(container, secret=opened.secret) is None
    assert session_account(container, secret=later.secret) is not None


def test_a_session_ends_after_its_maximum_age_even_when_used_all_along(container: Container) -> None:
    _user(container, "alice")
    clock, policy = _clock(container), container.account_policy
    opened = _sign_in(container)
    used_for = timedelta(0)
    last = timedelta(hours=policy.session_max_hours) - timedelta(minutes=1)
    while used_for < last:
        step = min(timedelta(minutes=60), last - used_for)
        clock.advance(step)
        used_for += step
        assert session_account(container, secret=opened.secret) is not None, used_for
    clock.advance(timedelta(minutes=1))
    assert session_account(container, secret=opened.secret) is None


def test_sign_out_ends_only_that_session(container: Container) -> None:
    _user(container, "alice")
    first, second = _sign_in(container), _sign_in(container)
    account = session_account(container, secret=first.secret)
    assert account is not None

    sign_out(container, account=account)

    assert session_account(container, secret=first.secret) is None
    assert session_account(container, secret=second.secret) is not None
    assert [(e.actor, e.target_id) for e in _audited(container, "auth.sign_out")] == [("alice", "alice")]


# ---- API tokens ---------------------------------------------------------------------------------------


def test_a_token_secret_is_shown_once_and_kept_as_a_digest(container: Container) -> None:
    _user(container, "alice")
    created = create_token(container, principal=ADMIN, username="alice", token=TokenCreate(name="nightly"))

    assert created.token.startswith("tp_")
    assert created.prefix == created.token[:10]
    assert created.expires_at == container.clock.now() + timedelta(days=90)
    found = token_account(container, secret=created.token)
    assert found is not None
    assert (found.username, found.roles) == ("alice", frozenset({"analyst"}))
    listed = list_tokens(container, username="alice")
    assert [(t.id, t.name, t.prefix) for t in listed] == [(created.id, "nightly", created.prefix)]
    assert "token" not in listed[0].model_dump()
    with container.ops.begin() as connection:
        stored = dict(connection.execute(select(api_tokens)).mappings().one())
    assert stored["token_hash"] == hashlib.sha256(created.token.encode()).hexdigest()
    assert created.token not in {str(v) for v in stored.values()}
    assert stored["last_used_at"] == container.clock.now()
    assert token_account(container, secret="tp_" + "x" * 43) is None
    assert token_account(container, secret=created.token[3:]) is None
    audited = _audited(container, "token.create")
    assert [(e.actor, e.target_id, e.after) for e in audited] == [
        ("root", "alice", {"token": created.id, "name": "nightly", "prefix": created.prefix})
    ]


def test_a_revoked_token_is_refused_at_once(container: Container) -> None:
    _user(container, "alice")
    created = create_token(container, principal=ADMIN, username="alice", token=TokenCreate(name="ci"))
    assert token_account(container, secret=created.token) is not None

    revoked = revoke_token(container, principal=ADMIN, username="alice", token_id=created.id)

    assert revoked.revoked_at == container.clock.now()
    assert token_account(container, secret=created.token) is None
    assert [(e.actor, e.target_id, e.after) for e in _audited(container, "token.revoke")] == [
        ("root", "alice", {"token": created.id})
    ]


def test_a_token_expires_after_its_days(container: Container) -> None:
    _user(container, "alice")
    clock = _clock(container)
    created = create_token(container, principal=ADMIN, username="alice", token=TokenCreate(name="ci", days=1))
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert token_account(container, secret=created.token) is not None
    clock.advance(timedelta(seconds=1))
    assert token_account(container, secret=created.token) is None


def test_disabling_a_user_refuses_their_token_and_session_at_once(container: Container) -> None:
    _user(container, "alice")
    created = create_token(container, principal=ADMIN, username="alice", token=TokenCreate(name="ci"))
    opened = _sign_in(container)
    assert token_account(container, secret=created.token) is not None
    assert session_account(container, secret=opened.secret) is not None

    update_user(container, principal=ADMIN, username="alice", change=UserUpdate(disabled=True))

    assert token_account(container, secret=created.token) is None
    assert session_account(container, secret=opened.secret) is None
    # Enabling the user again does not bring back what was revoked.
    update_user(container, principal=ADMIN, username="alice", change=UserUpdate(disabled=False))
    assert token_account(container, secret=created.token) is None
    assert session_account(container, secret=opened.secret) is None
    assert list_tokens(container, username="alice")[0].revoked_at is not None
    updates = _audited(container, "user.update")
    assert [(e.actor, e.before["disabled"], e.after["disabled"]) for e in reversed(updates)] == [
        ("root", False, True),
        ("root", True, False),
    ]


# ---- password reset and change ------------------------------------------------------------------------


def test_reset_password_ends_sessions_and_must_be_changed(container: Container) -> None:
    _user(container, "alice")
    opened = _sign_in(container)

    new = reset_password(container, principal=ADMIN, username="alice")

    assert password_problems(container.account_policy, "alice", new) == []
    assert session_account(container, secret=opened.secret) is None
    assert get_user(container, username="alice").must_change_password is True
    with pytest.raises(UnauthorizedError, match=f"^{WRONG_OR_DISABLED}$"):
        _sign_in(container)
    assert _sign_in(container, password=new).account.must_change_password is True
    assert [(e.actor, e.target_id) for e in _audited(container, "user.reset_password")] == [("root", "alice")]


def test_change_password_needs_the_current_one(container: Container) -> None:
    created = create_user(container, principal=ADMIN, user=UserCreate(username="bob", roles=["operator"]))
    assert created.password is not None
    account = _sign_in(container, "bob", created.password).account

    with pytest.raises(UnauthorizedError, match=r"^the current password is wrong$"):
        change_password(container, account=account, current="Not-the-one-1", new=PASSWORD)
    assert get_user(container, username="bob").must_change_password is True
    assert _audited(container, "user.change_password") == []

    change_password(container, account=account, current=created.password, new=PASSWORD)

    assert get_user(container, username="bob").must_change_password is False
    assert _sign_in(container, "bob", PASSWORD).account.must_change_password is False
    with pytest.raises(UnauthorizedError, match=f"^{WRONG_OR_DISABLED}$"):
        _sign_in(container, "bob", created.password)
    assert [(e.actor, e.target_id) for e in _audited(container, "user.change_password")] == [("bob", "bob")]


def test_change_password_refuses_the_same_or_a_weak_new_one(container: Container) -> None:
    _user(container, "alice")
    account = _sign_in(container).account
    with pytest.raises(ValidationError, match=r"^the new password must differ from the current one$"):
        change_password(container, account=account, current=PASSWORD, new=PASSWORD)
    with pytest.raises(ValidationError, match=r"^the password needs letters and digits$"):
        change_password(container, account=account, current=PASSWORD, new="Harbourlights")
    assert _sign_in(container).account.username == "alice"


# ---- roles --------------------------------------------------------------------------------------------


def _account_of(container: Container, token: str) -> Account:
    found = token_account(container, secret=token)
    assert found is not None
    return found


def test_editing_a_builtin_role_changes_permissions_at_the_next_request(container: Container) -> None:
    _user(container, "alice", roles=("analyst",))
    token = create_token(container, principal=ADMIN, username="alice", token=TokenCreate(name="t")).token
    assert "journey:publish" not in _account_of(container, token).permissions

    role = set_role(
        container,
        principal=ADMIN,
        name="analyst",
        change=RoleUpdate(permissions=["journey:read", "journey:publish", "journey:read"]),
    )

    assert (role.builtin, role.edited, role.permissions) == (True, True, ["journey:publish", "journey:read"])
    assert role.title == "分析师 · Analyst"
    assert _account_of(container, token).permissions == frozenset({"journey:read", "journey:publish"})
    audited = _audited(container, "role.set")
    assert len(audited) == 1
    assert (audited[0].actor, audited[0].target_type, audited[0].target_id) == ("root", "role", "analyst")
    assert audited[0].before["permissions"] == sorted(BUILTIN_BY_NAME["analyst"].permissions)
    assert audited[0].after == {
        "title": "分析师 · Analyst",
        "permissions": ["journey:publish", "journey:read"],
    }


def test_a_new_role_can_be_given_to_a_user(container: Container) -> None:
    set_role(
        container,
        principal=ADMIN,
        name="auditor",
        change=RoleUpdate(title="审计", permissions=["audit:read"]),
    )
    _user(container, "alice", roles=("auditor",))
    token = create_token(container, principal=ADMIN, username="alice", token=TokenCreate(name="t")).token
    assert _account_of(container, token).permissions == frozenset({"audit:read"})


def test_an_unknown_permission_is_refused_by_name(container: Container) -> None:
    with pytest.raises(ValidationError, match=r"^unknown permission journey:fly, nothing:at_all$"):
        set_role(
            container,
            principal=ADMIN,
            name="analyst",
            change=RoleUpdate(permissions=["journey:read", "nothing:at_all", "journey:fly"]),
        )
    assert _audited(container, "role.set") == []


def test_the_admin_role_cannot_be_edited(container: Container) -> None:
    _user(container, "root", roles=("admin",))
    with pytest.raises(
        ValidationError, match=r"^the admin role holds every permission and cannot be edited$"
    ):
        set_role(container, principal=ADMIN, name="admin", change=RoleUpdate(permissions=["status:read"]))
    token = create_token(container, principal=ADMIN, username="root", token=TokenCreate(name="t")).token
    assert _account_of(container, token).permissions == SYSTEM.permissions
    assert _audited(container, "role.set") == []


def test_every_change_is_audited_with_its_actor(container: Container) -> None:
    create_user(
        container,
        principal=ADMIN,
        user=UserCreate(username="alice", roles=["analyst"], password=PASSWORD),
    )
    update_user(container, principal=ADMIN, username="alice", change=UserUpdate(roles=["operator"]))

    created = _audited(container, "user.create")
    assert len(created) == 1
    assert (created[0].actor, created[0].source, created[0].target_type, created[0].target_id) == (
        "root",
        "tests",
        "user",
        "alice",
    )
    assert created[0].after == {
        "username": "alice",
        "display_name": "alice",
        "roles": ["analyst"],
        "branches": [],
        "advisor_id": None,
        "disabled": False,
    }
    # The hash never reaches the log.
    assert "password_hash" not in created[0].after
    updated = _audited(container, "user.update")
    assert [(e.actor, e.before["roles"], e.after["roles"]) for e in updated] == [
        ("root", ["analyst"], ["operator"])
    ]
    assert [e.action for e in search(container.ops, actor="root")] == ["user.update", "user.create"]


@given(st.from_regex(r"[a-z][a-z0-9_.-]{1,5}", fullmatch=True))
@settings(max_examples=examples(200), deadline=None)
def test_a_generated_password_meets_every_rule_for_its_user(username: str) -> None:
    """A short username once turned up inside a generated password, and reset-password answered 400."""
    password = generate_password(AccountPolicy(), username)
    assert password_problems(AccountPolicy(), username, password) == []


def test_resetting_an_unknown_users_password_is_not_found(container: Container) -> None:
    with pytest.raises(NotFoundError, match="no user 'ghost'"):
        reset_password(container, principal=ADMIN, username="ghost")
