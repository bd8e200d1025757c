"""WeCom notices of urgent tasks: to the customer's advisor, once, retried after a busy gateway."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from mot_support import load
from touchpoint.bootstrap import Container
from touchpoint.channels.providers.base import (
    Delivery,
    OutboundMessage,
    PermanentError,
    SendContext,
    TransientError,
)
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.tasks.model import TaskDraft
from touchpoint.tasks.notices import notify_urgent
from touchpoint.tasks.service import assignments, create_tasks, get_task


class FakeWecom:
    """Records what it is asked to send; fails as told first."""

    kind = "wecom"
    rate_per_second = None
    burst = 1

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return Delivery(provider_message_id="m1", detail="ok")

    def parse_receipt(self, body: bytes, headers: Any) -> list[Any]:
        return []


@pytest.fixture
def world(container: Container) -> dict[str, str]:
    load(
        container,
        "customers",
        [
            {"customer_no": "K1", "advisor_id": "ADV1"},
            {"customer_no": "K2", "advisor_id": "ADV2"},
            {"customer_no": "K3"},
        ],
        date(2026, 3, 1),
    )
    due = container.clock.now() + timedelta(hours=2)
    drafts = [
        TaskDraft(
            source_key=f"t:{who}",
            source="mot",
            customer_no=who,
            title=f"补缴 {who}",
            reason="r",
            talking_points="",
            priority=priority,
            due_at=due,
        )
        for who, priority in (("K1", "urgent"), ("K2", "normal"), ("K3", "urgent"))
    ]
    with container.ops.begin() as connection:
        made = create_tasks(
            connection,
            drafts=drafts,
            assigned=assignments(container, ["K1", "K2", "K3"]),
            now=container.clock.now(),
        )
    return {key.removeprefix("t:"): value for key, value in made.items()}


def test_an_urgent_task_is_announced_to_its_advisor_once_after_a_retry(
    container: Container, clock: VirtualClock, world: dict[str, str]
) -> None:
    wecom = FakeWecom([TransientError("system busy")])
    container._providers = {"wecom": wecom}
    assert notify_urgent(env=container) == 0  # busy: retried later
    assert get_task(env=container, principal=SYSTEM, task_id=world["K1"])["notice_status"] == "pending"
    assert notify_urgent(env=container) == 0  # not before its back-off
    clock.advance(timedelta(minutes=3))
    assert notify_urgent(env=container) == 1
    assert notify_urgent(env=container) == 0
    (message,) = wecom.sent
    assert message.address == "ADV1"  # K2's task is not urgent; K3 has no advisor to notify
    assert world["K1"] in message.body
    assert get_task(env=container, principal=SYSTEM, task_id=world["K1"])["notice_status"] == "sent"


def test_a_refused_notice_fails_for_good_and_without_wecom_notices_wait(
    container: Container, world: dict[str, str]
) -> None:
    container._providers = {}
    assert notify_urgent(env=container) == 0
    assert get_task(env=container, principal=SYSTEM, task_id=world["K1"])["notice_status"] == "pending"
    container._providers = {"wecom": FakeWecom([PermanentError("wecom user ADV1 is invalid")])}
    assert notify_urgent(env=container) == 0
    task = get_task(env=container, principal=SYSTEM, task_id=world["K1"])
    assert task["notice_status"] == "failed"
