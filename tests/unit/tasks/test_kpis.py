"""Service-process KPIs against a hand computation on crafted tasks and firings."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from mot_support import load
from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM, Principal
from touchpoint.governance.permissions import BUILTIN_BY_NAME
from touchpoint.identity.scopes import scope_for
from touchpoint.identity.service import sync_customers
from touchpoint.moments import repo as moments_repo
from touchpoint.tasks import repo
from touchpoint.tasks.kpis import service_kpis
from touchpoint.tasks.model import TaskDraft
from touchpoint.tasks.service import assignments, create_tasks

PEOPLE = [("K1", "B01", "ADV1"), ("K2", "B01", "ADV2"), ("K3", "B02", "ADV3"), ("K4", "B01", None)]
DAY = date(2026, 3, 2)
RULE = {
    "title": "生日",
    "detector": "birthday",
    "classification": "marketing",
    "owner": "advisor",
    "task": {"title": "生日回访"},
}


@pytest.fixture
def world(container: Container, clock: VirtualClock) -> Container:
    c = container
    load(
        c,
        "customers",
        [{"customer_no": n, "branch_id": b, "advisor_id": a} for n, b, a in PEOPLE],
        date(2026, 3, 1),
    )
    sync_customers(env=c, analytics=c.analytics)
    c.registry.save(SYSTEM, "mot_rule", "birthday", RULE)
    t0 = clock.now()
    due = t0 + timedelta(hours=4)
    drafts = [
        TaskDraft(
            source_key=key,
            source="mot",
            customer_no=who,
            title="t",
            reason="r",
            talking_points="",
            priority="normal",
            due_at=due,
            rule="birthday",
        )
        for key, who in (("T1", "K1"), ("T2", "K2"), ("T3", "K3"), ("T4", "K4"), ("T5", "K1"))
    ]
    with c.ops.begin() as connection:
        made = create_tasks(
            connection, drafts=drafts, assigned=assignments(c, ["K1", "K2", "K3", "K4"]), now=t0
        )
        for key, outcome, after in (("T1", "reached", 1), ("T2", "not_reached", 5), ("T4", "converted", 3)):
            done = {
                "status": "done",
                "outcome": outcome,
                "completed_at": t0 + timedelta(hours=after),
                "completed_by": "x",
            }
            repo.set_values(connection, made[key], done)
        for n, (who, task) in enumerate(
            (("K1", "T1"), ("K2", "T2"), ("K3", "T3"), ("K4", "T4"), ("K2", None))
        ):
            row = {
                "id": f"f{n}",
                "rule": "birthday",
                "customer_no": who,
                "occurrence": f"o{n}",
                "classification": "marketing",
                "facts": {},
                "fired_at": t0,
                "due_at": due,
                "task_id": made[task] if task else None,
            }
            moments_repo.insert_firing(connection, row)
    trades = [
        ("x1", "K3", t0 + timedelta(days=2), "buy"),
        ("x2", "K1", t0 + timedelta(days=10), "buy"),
        ("x3", "K2", t0 + timedelta(days=1), "dividend"),
    ]
    load(
        c,
        "trades",
        [
            {
                "trade_id": i,
                "customer_no": w,
                "time": at,
                "product_code": "600001",
                "side": s,
                "quantity": 1.0,
                "amount": 1.0,
            }
            for i, w, at, s in trades
        ],
    )
    return c


def test_kpis_per_advisor_equal_the_hand_computation(world: Container) -> None:
    kpis = service_kpis(env=world, principal=SYSTEM, start=DAY, end=DAY, group_by="advisor")
    rows = {r["group"]: r for r in kpis["rows"]}
    counts = {
        g: (
            r["triggered"],
            r["covered"],
            r["dispatched"],
            r["completed"],
            r["on_time"],
            r["reached"],
            r["converted"],
        )
        for g, r in rows.items()
    }
    assert counts == {
        "ADV1": (1, 1, 2, 1, 1, 1, 0),  # T5 open; K1's trade came 10 days later
        "ADV2": (2, 1, 1, 1, 0, 0, 0),  # closed late, not reached; a dividend is not a conversion
        "ADV3": (1, 1, 1, 0, 0, 0, 1),  # open, but K3 bought within 7 days
        "-": (1, 1, 1, 1, 1, 1, 1),  # the branch queue: converted on time
    }
    total = kpis["total"]
    assert (total["coverage_rate"], total["completion_rate"], total["on_time_rate"]) == (0.8, 0.6, 0.4)
    assert (total["reach_rate"], total["conversion_rate"]) == (0.6667, 0.4)
    assert rows["ADV3"]["reach_rate"] is None  # nothing closed: no value, not zero


def test_kpis_per_rule_and_within_a_branch_scope(world: Container) -> None:
    by_rule = service_kpis(env=world, principal=SYSTEM, start=DAY, end=DAY, group_by="rule")
    assert [r["group"] for r in by_rule["rows"]] == ["birthday"]
    assert by_rule["rows"][0]["dispatched"] == 5
    manager = Principal(
        user="mgr",
        roles=frozenset({"branch_manager"}),
        permissions=BUILTIN_BY_NAME["branch_manager"].permissions,
        scope=scope_for(world, branches=("B01",), advisor_id=None),
    )
    branch = service_kpis(env=world, principal=manager, start=DAY, end=DAY, group_by="branch")
    assert [(r["group"], r["dispatched"], r["triggered"]) for r in branch["rows"]] == [("B01", 4, 4)]
    later = service_kpis(
        env=world, principal=SYSTEM, start=DAY + timedelta(days=1), end=DAY + timedelta(days=1)
    )
    assert later["rows"] == []
    assert later["total"]["completion_rate"] is None
