"""The advisor workbench: tasks seen within the caller's scope, completed with an outcome that resumes the
journey waiting for it, and escalated at their SLA."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from mot_support import load
from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ConflictError, NotFoundError, ValidationError
from touchpoint.governance import SYSTEM, Principal
from touchpoint.governance.permissions import BUILTIN_BY_NAME
from touchpoint.identity.scopes import scope_for
from touchpoint.identity.service import sync_customers
from touchpoint.journeys.runtime import admit
from touchpoint.journeys.service import parse_journey, publish, save_journey
from touchpoint.store.operational.schema import channel_log, journey_runs
from touchpoint.tasks.model import TaskComplete, TaskDraft
from touchpoint.tasks.service import (
    assignments,
    claim_task,
    complete_task,
    create_tasks,
    escalate_due,
    get_task,
    list_tasks,
)
from touchpoint.worker.loop import run_pass

PEOPLE = [("K1", "B01", "ADV1"), ("K2", "B01", "ADV2"), ("K3", "B02", "ADV3"), ("K4", "B01", None)]


@pytest.fixture
def world(container: Container) -> Container:
    rows = [{"customer_no": n, "branch_id": b, "advisor_id": a, "risk_level": "C3"} for n, b, a in PEOPLE]
    load(container, "customers", rows, date(2026, 3, 1))
    sync_customers(env=container, analytics=container.analytics)
    return container


def _principal(
    c: Container, role: str, *, branches: tuple[str, ...] = (), advisor: str | None = None
) -> Principal:
    scope = scope_for(c, branches=branches, advisor_id=advisor) if branches or advisor else None
    return Principal(
        user=f"{role}.{advisor or '-'}",
        roles=frozenset({role}),
        permissions=BUILTIN_BY_NAME[role].permissions,
        scope=scope,
    )


def _tasks(c: Container, due: datetime) -> dict[str, str]:
    drafts = [
        TaskDraft(
            source_key=f"test:{n}",
            source="mot",
            customer_no=n,
            title=f"call {n}",
            reason="test",
            talking_points="",
            priority="normal",
            due_at=due,
        )
        for n, _, _ in PEOPLE
    ]
    with c.ops.begin() as connection:
        made = create_tasks(
            connection, drafts=drafts, assigned=assignments(c, [n for n, _, _ in PEOPLE]), now=c.clock.now()
        )
    return {key.removeprefix("test:"): task for key, task in made.items()}


def _listed(c: Container, principal: Principal, **filters: Any) -> list[str]:
    return [t["customer_no"] for t in list_tasks(env=c, principal=principal, **filters)["tasks"]]


def test_an_advisor_sees_their_customers_tasks_a_branch_manager_the_branchs(world: Container) -> None:
    due = world.clock.now() + timedelta(hours=4)
    made = _tasks(world, due)
    assert _tasks(world, due) == made  # the same source keys make no second task
    advisor = _principal(world, "advisor", branches=("B01",), advisor="ADV1")
    manager = _principal(world, "branch_manager", branches=("B01",))
    assert _listed(world, advisor) == ["K1"]
    assert _listed(world, manager) == ["K1", "K2", "K4"]
    assert _listed(world, SYSTEM) == ["K1", "K2", "K3", "K4"]
    with pytest.raises(NotFoundError):
        get_task(env=world, principal=advisor, task_id=made["K3"])  # another branch's: as if it did not exist
    k4 = get_task(env=world, principal=SYSTEM, task_id=made["K4"])
    assert k4["advisor_id"] is None  # no advisor: the branch queue
    assert k4["branch_id"] == "B01"
    assert k4["suitability"]["risk_level"] == "C3"


def test_completing_needs_an_open_task_and_a_follow_up_date(world: Container) -> None:
    made = _tasks(world, world.clock.now() + timedelta(hours=4))
    advisor = _principal(world, "advisor", branches=("B01",), advisor="ADV1")
    with pytest.raises(ValidationError, match="follow_up_on"):
        complete_task(
            env=world, principal=advisor, task_id=made["K1"], result=TaskComplete(outcome="follow_up")
        )
    yesterday = world.calendar.business_date(world.clock.now()) - timedelta(days=1)
    with pytest.raises(ValidationError, match="in the past"):
        complete_task(
            env=world,
            principal=advisor,
            task_id=made["K1"],
            result=TaskComplete(outcome="follow_up", follow_up_on=yesterday),
        )
    claim_task(env=world, principal=advisor, task_id=made["K1"])
    done = complete_task(
        env=world, principal=advisor, task_id=made["K1"], result=TaskComplete(outcome="reached", note="ok")
    )
    assert done["status"] == "done"
    assert done["outcome"] == "reached"
    with pytest.raises(ConflictError, match="not open"):
        complete_task(
            env=world, principal=advisor, task_id=made["K1"], result=TaskComplete(outcome="converted")
        )
    other = _principal(world, "branch_manager", branches=("B01",))
    with pytest.raises(ConflictError, match="claimed by"):
        claim_task(env=world, principal=other, task_id=made["K1"])


def test_an_overdue_task_escalates_at_its_due_time_and_a_queued_one_when_left_unclaimed(
    world: Container, clock: VirtualClock
) -> None:
    start = clock.now()
    made = _tasks(world, start + timedelta(hours=8))
    clock.advance(timedelta(hours=3, minutes=59))
    assert escalate_due(env=world, claim_hours=4) == 0
    clock.advance(timedelta(minutes=1))
    assert escalate_due(env=world, claim_hours=4) == 1  # K4 waited 4 hours in the branch queue
    assert _listed(world, SYSTEM, escalated=True) == ["K4"]
    clock.advance(timedelta(hours=3, minutes=59))
    assert escalate_due(env=world, claim_hours=4) == 0
    clock.advance(timedelta(minutes=1))
    assert escalate_due(env=world, claim_hours=4) == 3  # the others at their due time
    assert escalate_due(env=world, claim_hours=4) == 0  # once
    assert _listed(world, SYSTEM, overdue=True) == ["K1", "K2", "K3", "K4"]
    assert get_task(env=world, principal=SYSTEM, task_id=made["K1"])["overdue"] is True


HANDOFF = {
    "name": "advisor_handoff",
    "title": "转投顾跟进",
    "entry": {"type": "api"},
    "start": "task",
    "nodes": [
        {
            "id": "task",
            "type": "action",
            "action": {
                "kind": "advisor_task",
                "title": "回访 {{ payload.reason }}",
                "priority": "high",
                "due": "1td",
            },
            "next": "wait",
        },
        {
            "id": "wait",
            "type": "wait_for_event",
            "event": "advisor_task_completed",
            "where": [{"property": "journey", "op": "=", "value": "advisor_handoff"}],
            "timeout": "3d",
            "on_event": "thanks",
            "on_timeout": "bye",
        },
        {
            "id": "thanks",
            "type": "action",
            "action": {"kind": "send", "channel": "log", "text": "served"},
            "next": "bye",
        },
        {"id": "bye", "type": "exit"},
    ],
}


def test_a_journey_hands_off_to_the_advisor_and_resumes_when_the_task_is_completed(
    world: Container, clock: VirtualClock
) -> None:
    save_journey(env=world, principal=SYSTEM, journey=parse_journey(HANDOFF))
    publish(env=world, principal=SYSTEM, name="advisor_handoff")
    admit(env=world, name="advisor_handoff", customers=["K1"], payloads={"K1": {"reason": "大额转出"}})
    for _ in range(3):
        run_pass(world, ("consumers", "timers", "dispatch"))
    advisor = _principal(world, "advisor", branches=("B01",), advisor="ADV1")
    (task,) = list_tasks(env=world, principal=advisor)["tasks"]
    assert task["title"] == "回访 大额转出"
    assert task["journey"] == "advisor_handoff"
    assert task["due_at"] == world.calendar.to_utc(
        date(2026, 3, 3), clock.now().astimezone(world.calendar.tz).time()
    )
    assert _run(world)["status"] == "waiting_event"
    clock.advance(timedelta(hours=2))
    complete_task(env=world, principal=advisor, task_id=task["id"], result=TaskComplete(outcome="converted"))
    for _ in range(3):
        run_pass(world, ("consumers", "timers", "dispatch"))
    assert _run(world)["status"] == "done"  # long before the 3-day time-out
    with world.ops.begin() as connection:
        notes = connection.execute(
            select(channel_log.c.content).where(channel_log.c.customer_no == "K1")
        ).scalars()
        assert list(notes) == ["served"]  # it left the wait by on_event


def _run(c: Container) -> dict[str, Any]:
    with c.ops.begin() as connection:
        (row,) = connection.execute(
            select(journey_runs).where(journey_runs.c.journey == "advisor_handoff")
        ).mappings()
        return dict(row)
