"""Strategy guidance: unserved moments first, propensity next, and only funds the customer's level admits."""

from __future__ import annotations

from datetime import date

from mot_support import load
from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM, Principal
from touchpoint.governance.permissions import BUILTIN_BY_NAME
from touchpoint.identity.scopes import scope_for
from touchpoint.identity.service import sync_customers
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.moments.firing import Firing
from touchpoint.moments.guidance import next_best_actions
from touchpoint.moments.model import MotRule
from touchpoint.moments.rules_event import RISK_RANK
from touchpoint.moments.service import record
from touchpoint.tasks.model import TaskComplete
from touchpoint.tasks.service import complete_task

RULES = {
    "birthday": {
        "title": "生日",
        "detector": "birthday",
        "classification": "marketing",
        "owner": "advisor",
        "task": {"title": "生日问候"},
    },
    "first_deposit": {"title": "首次入金", "detector": "first_deposit", "classification": "service"},
    "first_trade": {"title": "首笔交易", "detector": "first_trade", "classification": "service"},
}
SERVE_FIRST_TRADE = {
    "name": "first_trade_tips",
    "title": "首笔交易提示",
    "entry": {"type": "event", "event": "mot_first_trade"},
    "start": "note",
    "nodes": [{"id": "note", "type": "action", "action": {"kind": "send", "channel": "log", "text": "tips"}}],
}


def test_unserved_moments_are_suggested_with_their_action_until_served(container: Container) -> None:
    c = container
    load(
        c,
        "customers",
        [
            {"customer_no": "K1", "advisor_id": "ADV1", "branch_id": "B1"},
            {"customer_no": "K2", "advisor_id": "ADV2"},
        ],
        date(2026, 3, 1),
    )
    sync_customers(env=c, analytics=c.analytics)
    for name, body in RULES.items():
        c.registry.save(SYSTEM, "mot_rule", name, body)
        record(
            env=c,
            rule=MotRule.model_validate({**body, "name": name}),
            firings=[Firing("K1", "x"), Firing("K2", "x")],
            fired_at=c.clock.now(),
        )
    save_journey(env=c, principal=SYSTEM, journey=parse_journey(SERVE_FIRST_TRADE))
    publish(env=c, principal=SYSTEM, name="first_trade_tips")
    advisor = Principal(
        user="adv",
        roles=frozenset({"advisor"}),
        permissions=BUILTIN_BY_NAME["advisor"].permissions,
        scope=scope_for(c, branches=(), advisor_id="ADV1"),
    )
    (k1,) = next_best_actions(env=c, principal=advisor)
    assert k1["customer_no"] == "K1"  # the advisor's own book only
    kinds = [(s["score"], s["action"]["kind"]) for s in k1["suggestions"]]
    assert kinds == [(100, "call"), (80, "task")]  # a first trade is served by its journey: not suggested
    task_id = k1["suggestions"][1]["action"]["task_id"]
    complete_task(env=c, principal=advisor, task_id=task_id, result=TaskComplete(outcome="reached"))
    (k1,) = next_best_actions(env=c, principal=advisor)
    assert [s["action"]["kind"] for s in k1["suggestions"]] == ["call"]


def test_fund_suggestions_respect_the_customers_level_and_consent(demo_brokerage: Container) -> None:
    customers = (
        demo_brokerage.analytics.table("customers").to_pandas().drop_duplicates("customer_no", keep="last")
    )
    found = next_best_actions(
        env=demo_brokerage, principal=SYSTEM, customers=list(customers.customer_no), limit=500
    )
    people = customers.set_index("customer_no")
    offers = [
        (g["customer_no"], s) for g in found for s in g["suggestions"] if s["action"]["kind"] == "product"
    ]
    assert offers  # the demo has likely fund buyers
    for customer, suggestion in offers:
        person = people.loc[customer]
        assert bool(person["consent_marketing"]) is True
        for fund in suggestion["facts"]["funds"]:
            assert RISK_RANK[fund["risk_level"]] <= RISK_RANK[person["risk_level"]]
    assert [g["score"] for g in found] == sorted((g["score"] for g in found), reverse=True)
