"""The demo brokerage's sign-in accounts: one per role, and two advisors in different branches.

Their password is published in the README, so they exist only in a demo data directory (`touchpoint demo`).
"""

from __future__ import annotations

from dataclasses import dataclass

from touchpoint.governance import Principal
from touchpoint.governance.accounts import AccountsEnv, create_user, list_users
from touchpoint.governance.model import UserCreate

DEMO_PASSWORD = "Touchpoint-2026"


@dataclass(frozen=True)
class DemoAccount:
    """A documented demo user."""

    username: str
    name: str
    role: str
    branches: tuple[str, ...] = ()
    advisor_id: str | None = None


DEMO_ACCOUNTS = (
    DemoAccount("admin", "系统管理员 · Administrator", "admin"),
    DemoAccount("ops.chen", "陈运营 · Operator", "operator"),
    DemoAccount("ana.liu", "刘分析 · Analyst", "analyst"),
    DemoAccount("mgr.zhao", "赵经理 · Branch manager, 上海浦东", "branch_manager", ("B1",)),
    DemoAccount("comp.sun", "孙合规 · Compliance", "compliance"),
    DemoAccount("data.wu", "吴数据 · Data engineer", "data_engineer"),
    DemoAccount("adv.wang", "王投顾 · Advisor, 上海浦东", "advisor", ("B1",), "A1-1"),
    DemoAccount("adv.li", "李投顾 · Advisor, 北京金融街", "advisor", ("B3",), "A3-2"),
)


def ensure_demo_accounts(*, env: AccountsEnv, principal: Principal) -> list[str]:
    """Create the demo accounts that do not exist yet; returns the usernames created now."""
    existing = {user.username for user in list_users(env)}
    created = []
    for account in DEMO_ACCOUNTS:
        if account.username in existing:
            continue
        create_user(
            env,
            principal=principal,
            user=UserCreate(
                username=account.username,
                display_name=account.name,
                roles=[account.role],
                branches=list(account.branches),
                advisor_id=account.advisor_id,
                password=DEMO_PASSWORD,
            ),
        )
        created.append(account.username)
    return created
