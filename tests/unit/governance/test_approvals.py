"""Maker-checker approvals (issue 15 item 6): a gated change waits for someone other than its maker, shows
its diff, and takes effect on approval atomically — or not at all when it went stale or failed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection

from support import api_client
from touchpoint.bootstrap import Container
from touchpoint.core.errors import ConflictError, ForbiddenError, ValidationError
from touchpoint.governance import SYSTEM, Principal, approvals
from touchpoint.governance.approvals import ApprovalPolicyUpdate
from touchpoint.governance.audit import search
from touchpoint.governance.permissions import ALL_PERMISSIONS
from touchpoint.journeys.service import get_journey, list_journeys, publish, save_journey
from touchpoint.journeys.service import parse_journey as journey_from
from touchpoint.store.operational import definitions as store

MAKER = Principal(user="ops.chen", permissions=ALL_PERMISSIONS - {"approval:review"}, source="tests")
CHECKER = Principal(user="comp.sun", permissions=frozenset({"approval:review"}), source="tests")


def _journey(name: str, text: str = "hi") -> dict[str, Any]:
    return {
        "name": name,
        "title": name,
        "entry": {"type": "api"},
        "start": "note",
        "nodes": [
            {"id": "note", "type": "action", "action": {"kind": "send", "channel": "log", "text": text}}
        ],
    }


def _require(container: Container, action: str, threshold: int | None = None) -> None:
    approvals.set_policy(
        container.ops,
        clock=container.clock,
        principal=SYSTEM,
        name=action,
        update=ApprovalPolicyUpdate(required=True, threshold=threshold),
    )


def _status(container: Container, name: str) -> tuple[str, int | None]:
    [row] = [r for r in list_journeys(env=container) if r["name"] == name]
    return row["status"], row["live_version"]


def test_actions_need_no_approval_until_switched_on_and_init_switches_them_all(container: Container) -> None:
    assert not any(p.required for p in approvals.policies(container.ops))
    save_journey(env=container, principal=MAKER, journey=journey_from(_journey("welcome")))
    assert publish(env=container, principal=MAKER, name="welcome")["status"] == "live"
    switched = approvals.switch_all_on(container.ops, clock=container.clock, principal=SYSTEM)
    assert {p.action for p in switched if p.required} == {a.name for a in approvals.ACTIONS}
    assert [p.threshold for p in switched if p.action == "segment.export"] == [10_000]
    with pytest.raises(ValidationError, match=r"only segment\.export"):
        approvals.set_policy(
            container.ops,
            clock=container.clock,
            principal=SYSTEM,
            name="journey.publish",
            update=ApprovalPolicyUpdate(required=True, threshold=5),
        )


def test_a_held_publication_goes_live_only_when_another_person_approves(container: Container) -> None:
    _require(container, "journey.publish")
    save_journey(env=container, principal=MAKER, journey=journey_from(_journey("welcome")))
    held = publish(env=container, principal=MAKER, name="welcome")
    request = held["pending_approval"]
    assert held["status"] == "pending"
    assert request["status"] == "pending"
    assert request["maker"] == "ops.chen"
    assert "+title: welcome\n" in request["diff"]
    assert _status(container, "welcome") == ("draft", None)
    maker_as_checker = Principal(user="ops.chen", permissions=ALL_PERMISSIONS, source="tests")
    with pytest.raises(ForbiddenError, match="四眼原则"):
        approvals.approve(
            container.ops,
            clock=container.clock,
            principal=maker_as_checker,
            approval_id=request["id"],
            reason="mine",
            handlers=container.approval_handlers,
        )
    with pytest.raises(ForbiddenError, match="approval:review"):
        approvals.reject(
            container.ops,
            clock=container.clock,
            principal=Principal(user="ana.liu", source="tests"),
            approval_id=request["id"],
            reason="no",
        )
    done = approvals.approve(
        container.ops,
        clock=container.clock,
        principal=CHECKER,
        approval_id=request["id"],
        reason="checked the copy",
        handlers=container.approval_handlers,
    )
    assert (done.status, done.checker, done.reason) == ("approved", "comp.sun", "checked the copy")
    assert done.result == {"name": "welcome", "status": "live", "version": 1, "runs_changed": 0}
    assert _status(container, "welcome") == ("live", 1)
    trail = [(e.action, e.actor) for e in reversed(search(container.ops, target="welcome"))]
    assert ("approval.request", "ops.chen") in trail
    assert trail[-2:] == [("journey.publish", "ops.chen"), ("approval.approved", "comp.sun")]
    with pytest.raises(ConflictError, match="approved, not pending"):
        approvals.reject(
            container.ops, clock=container.clock, principal=CHECKER, approval_id=request["id"], reason="late"
        )


def test_a_request_whose_journey_changed_since_is_refused_and_stays_pending(container: Container) -> None:
    _require(container, "journey.publish")
    save_journey(env=container, principal=MAKER, journey=journey_from(_journey("welcome")))
    request = publish(env=container, principal=MAKER, name="welcome")["pending_approval"]
    save_journey(env=container, principal=MAKER, journey=journey_from(_journey("welcome", text="changed")))
    with pytest.raises(ConflictError, match="version 2 saved since version 1"):
        approvals.approve(
            container.ops,
            clock=container.clock,
            principal=CHECKER,
            approval_id=request["id"],
            reason="ok",
            handlers=container.approval_handlers,
        )
    assert approvals.get(container.ops, request["id"]).status == "pending"
    assert _status(container, "welcome") == ("draft", None)
    withdrawn = approvals.withdraw(
        container.ops, clock=container.clock, principal=MAKER, approval_id=request["id"]
    )
    assert withdrawn.status == "withdrawn"


def test_an_approval_whose_change_fails_midway_leaves_nothing_behind(container: Container) -> None:
    """The request is marked, the change written and the audit entry appended in one transaction: a
    failure in the change rolls back all three."""
    held = approvals.request(
        container.ops,
        clock=container.clock,
        principal=MAKER,
        name="definitions.apply",
        target="tag",
        summary="two tags",
        payload={},
    )

    def half_then_fail(payload: Any, maker: Principal) -> approvals.Writer:
        def write(connection: Connection) -> dict[str, Any]:
            store.save(
                connection, "tag", "first", {"name": "first"}, actor=maker.user, now=container.clock.now()
            )
            raise ConflictError("the second tag no longer fits")

        return write

    entries = len(search(container.ops, limit=1000))
    with pytest.raises(ConflictError, match="no longer fits"):
        approvals.approve(
            container.ops,
            clock=container.clock,
            principal=CHECKER,
            approval_id=held.id,
            reason="ok",
            handlers={"definitions.apply": half_then_fail},
        )
    with container.ops.begin() as connection:
        assert store.history(connection, "tag", "first") == []
    assert approvals.get(container.ops, held.id).status == "pending"
    assert len(search(container.ops, limit=1000)) == entries


def test_a_rejected_activation_changes_nothing_and_keeps_the_reason(container: Container) -> None:
    from touchpoint.channels.model import TemplateDef
    from touchpoint.channels.service import activate_template, list_templates, save_template

    _require(container, "template.activate")
    template = TemplateDef.model_validate(
        {"name": "notice", "title": "Notice", "channel": "log", "classification": "service", "body": "hello"}
    )
    save_template(env=container, principal=MAKER, template=template)
    held = activate_template(env=container, principal=MAKER, name="notice")
    assert held["status"] == "pending"
    rejected = approvals.reject(
        container.ops,
        clock=container.clock,
        principal=CHECKER,
        approval_id=held["pending_approval"]["id"],
        reason="missing the risk notice",
    )
    assert (rejected.status, rejected.reason) == ("rejected", "missing the risk notice")
    assert [t["status"] for t in list_templates(env=container)] == ["draft"]


def test_the_api_holds_approves_and_refuses_by_role(container: Container) -> None:
    _require(container, "journey.publish")
    operator = api_client(container, roles=("operator",), username="ops.chen")
    compliance = api_client(container, roles=("compliance",), username="comp.sun")
    assert operator.put("/api/v1/journeys/welcome", json=_journey("welcome")).status_code == 200
    held = operator.post("/api/v1/journeys/welcome/publish").json()
    assert held["status"] == "pending"
    request = held["pending_approval"]["id"]
    own = operator.post(f"/api/v1/approvals/{request}/approve", json={"reason": "mine"})
    assert own.status_code == 403  # an operator cannot approve, least of all their own journey
    assert [a["id"] for a in operator.get("/api/v1/approvals").json()] == [request]
    assert compliance.post(f"/api/v1/approvals/{request}/approve", json={"reason": ""}).status_code == 422
    done = compliance.post(f"/api/v1/approvals/{request}/approve", json={"reason": "fine"})
    assert done.status_code == 200
    assert done.json()["status"] == "approved"
    assert get_journey(env=container, name="welcome").title == "welcome"
    assert _status(container, "welcome") == ("live", 1)
    policies = {p["action"]: p["required"] for p in compliance.get("/api/v1/approvals/policies").json()}
    assert policies["journey.publish"] is True
    assert policies["template.activate"] is False
    assert (
        compliance.put("/api/v1/approvals/policies/journey.publish", json={"required": False}).status_code
        == 403
    )
