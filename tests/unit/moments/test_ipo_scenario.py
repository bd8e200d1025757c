"""The IPO payment scenario end to end (issue 17's acceptance): the MOT rule fires at 10:00 and 14:00 on the
trading-day T+2 after the National Day closure, a journey starting on `mot_ipo_payment_short` sends the
urgent SMS, the rule hands the customer to the advisor with a task due before 16:00 — and nothing happens
for a customer with enough cash, on the calendar T+2, or after the deadline."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from mot_support import ALLOT, at, ipo_world, load
from touchpoint.bootstrap import Container
from touchpoint.channels import service as channels
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.journeys.report import journey_report
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.store.operational.schema import channel_sends
from touchpoint.store.operational.schema_service import advisor_tasks, mot_firings
from touchpoint.worker.loop import run_pass

JOBS = ("consumers", "moments", "timers", "dispatch")
RULE = {
    "title": "中签资金不足",
    "detector": "ipo_payment_short",
    "classification": "service",
    "sla": "2h",
    "owner": "advisor",
    "task": {
        "title": "中签缴款不足：差 {{ facts.shortfall }} 元",
        "talking_points": "应缴 {{ facts.amount_due }} 元，可用 {{ facts.cash }} 元，16:00 截止。",
        "priority": "urgent",
        "due_before": "30m",
    },
}
SMS = {
    "name": "ipo_short_sms",
    "title": "中签缴款提醒",
    "channel": "sms",
    "classification": "service",
    "urgent": True,
    "provider_template_id": "SMS_IPO",
    "body": "您中签的新股 {{ payload.product_code }} 应缴 {{ payload.amount_due }} 元，"
    "尚差 {{ payload.shortfall }} 元，请于今日 16:00 前存入。",
}
JOURNEY = {
    "name": "ipo_short_rescue",
    "title": "中签缴款不足提醒",
    "entry": {"type": "event", "event": "mot_ipo_payment_short"},
    "start": "sms",
    "nodes": [
        {
            "id": "sms",
            "type": "action",
            "action": {"kind": "send", "channel": "sms", "template": "ipo_short_sms"},
            "next": "done",
        },
        {"id": "done", "type": "exit"},
    ],
    "reentry": {"mode": "after_exit"},
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"channels": {"sms": {"provider": "log"}}}


@pytest.fixture
def world(container: Container, clock: VirtualClock) -> Container:
    ipo_world(container)
    people = [
        {
            "customer_no": w,
            "name": f"客户{w}",
            "phone": f"1380000000{i}",
            "branch_id": "B01",
            "advisor_id": "ADV1",
            "risk_level": "C3",
            "consent_marketing": False,
        }
        for i, w in enumerate("ABCDEFGZ")
    ]
    load(container, "customers", people, date(2026, 9, 1))
    container.registry.save(SYSTEM, "mot_rule", "ipo_payment_short", RULE)
    channels.save_template(env=container, principal=SYSTEM, template=channels.parse_template(SMS))
    channels.activate_template(env=container, principal=SYSTEM, name="ipo_short_sms")
    save_journey(env=container, principal=SYSTEM, journey=parse_journey(JOURNEY))
    publish(env=container, principal=SYSTEM, name="ipo_short_rescue")
    return container


def _drive(c: Container, clock: VirtualClock, start: datetime, end: datetime, step: timedelta) -> None:
    clock.set(start)
    while clock.now() <= end:
        for _ in range(3):  # firing → derived event forwarded → routed to the journey → sent
            run_pass(c, JOBS)
        clock.advance(step)


def _sends(c: Container) -> list[dict[str, Any]]:
    with c.ops.begin() as connection:
        query = (
            select(channel_sends)
            .where(channel_sends.c.journey == "ipo_short_rescue")
            .order_by(channel_sends.c.created_at)
        )
        return [dict(r._mapping) for r in connection.execute(query)]


def _rows(c: Container, table: Any) -> list[dict[str, Any]]:
    with c.ops.begin() as connection:
        return [dict(r._mapping) for r in connection.execute(select(table))]


def test_short_of_cash_at_two_gets_the_sms_and_a_task_due_before_four_enough_cash_gets_neither(
    world: Container, clock: VirtualClock
) -> None:
    step = timedelta(minutes=30)
    # The calendar T+2 (1 Oct) is a holiday: nothing fires, nothing is sent.
    _drive(world, clock, at(world, date(2026, 10, 1), "08:00"), at(world, date(2026, 10, 1), "17:00"), step)
    assert _rows(world, mot_firings) == []
    _drive(world, clock, at(world, ALLOT, "08:00"), at(world, ALLOT, "18:00"), step)

    sends = _sends(world)
    by_customer: dict[str, list[datetime]] = {}
    for send in sends:
        by_customer.setdefault(send["customer_no"], []).append(send["created_at"])
    assert sorted(by_customer) == ["A", "G", "Z"]  # E had the cash; F had paid
    assert len(by_customer["A"]) == 1  # at 10:00 only: A's 11:00 deposit covered it by 14:00
    assert len(by_customer["G"]) == 2  # 10:00 and 14:00
    assert len(by_customer["Z"]) == 2  # unpaid at both checks (forfeited only after the deadline)
    deadline = at(world, ALLOT, "16:00")
    assert all(s["created_at"] < deadline for s in sends)  # nothing after the deadline
    assert all(s["status"] == "sent" and s["channel"] == "sms" for s in sends)
    assert "尚差 6500.0 元" in next(s["content"] for s in sends if s["customer_no"] == "G")

    tasks = _rows(world, advisor_tasks)
    assert sorted(t["customer_no"] for t in tasks) == ["A", "G", "G", "Z", "Z"]
    for task in tasks:
        assert task["due_at"] == at(world, ALLOT, "15:30")
        assert task["priority"] == "urgent"
        assert task["advisor_id"] == "ADV1"
    g_at_two = next(t for t in tasks if t["customer_no"] == "G" and t["facts"]["check"] == "14:00")
    assert g_at_two["title"] == "中签缴款不足：差 6500.0 元"
    assert g_at_two["created_at"] == at(world, ALLOT, "14:00")

    firings = _rows(world, mot_firings)
    assert sorted((f["customer_no"], f["occurrence"]) for f in firings) == [
        ("A", "732001@10:00"),
        ("G", "732001@10:00"),
        ("G", "732001@14:00"),
        ("Z", "732001@10:00"),
        ("Z", "732001@14:00"),
    ]
    assert all(f["task_id"] for f in firings)

    report = journey_report(env=world, principal=SYSTEM, name="ipo_short_rescue")
    treated = report["groups"]["treated"]
    assert (treated["entered"], treated["targeted"], treated["sent"], treated["suppressed"]) == (5, 5, 5, 0)
    assert treated["reach_rate"] == 0.0  # the log provider sends no delivery receipts
    assert treated["open_rate"] is None  # nothing delivered: no rate


def test_evaluating_again_after_a_new_import_fires_nothing_twice(
    world: Container, clock: VirtualClock
) -> None:
    clock.set(at(world, ALLOT, "10:05"))
    run_pass(world, JOBS)
    first = len(_rows(world, mot_firings))
    assert first == 3
    load(
        world,
        "cash_flows",
        [
            {
                "flow_id": "late",
                "customer_no": "E",
                "time": at(world, ALLOT, "09:00"),
                "direction": "out",
                "amount": 19_000.0,
            }
        ],
    )
    clock.set(at(world, ALLOT, "10:20"))
    run_pass(world, JOBS)  # the import makes the 10:00 slot look again: E is now short too; A and G not twice
    firings = _rows(world, mot_firings)
    assert sorted(f["customer_no"] for f in firings) == ["A", "E", "G", "Z"]
    run_pass(world, JOBS)
    assert len(_rows(world, mot_firings)) == 4
