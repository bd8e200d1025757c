"""The demo's documented accounts: one per built-in role, two advisors in different branches."""

from __future__ import annotations

from touchpoint.bootstrap import Container
from touchpoint.demo.accounts import DEMO_ACCOUNTS, DEMO_PASSWORD, ensure_demo_accounts
from touchpoint.governance import SYSTEM
from touchpoint.governance.accounts import list_users, sign_in
from touchpoint.governance.permissions import BUILTIN_ROLES


def test_every_role_has_a_demo_account_and_two_advisors_work_in_different_branches(
    sqlite_container: Container,
) -> None:
    created = ensure_demo_accounts(env=sqlite_container, principal=SYSTEM)
    assert created == [a.username for a in DEMO_ACCOUNTS]
    users = {u.username: u for u in list_users(sqlite_container)}
    assert {role for u in users.values() for role in u.roles} == {r.name for r in BUILTIN_ROLES}
    advisors = [u for u in users.values() if u.roles == ["advisor"]]
    assert len(advisors) == 2
    assert len({tuple(a.branches) for a in advisors}) == 2
    assert all(a.advisor_id for a in advisors)
    assert not any(u.must_change_password for u in users.values())


def test_the_documented_password_signs_each_in_and_a_second_run_adds_nobody(
    sqlite_container: Container,
) -> None:
    ensure_demo_accounts(env=sqlite_container, principal=SYSTEM)
    for account in DEMO_ACCOUNTS:
        opened = sign_in(sqlite_container, username=account.username, password=DEMO_PASSWORD, source="test")
        assert opened.account.roles == frozenset({account.role})
    assert ensure_demo_accounts(env=sqlite_container, principal=SYSTEM) == []
