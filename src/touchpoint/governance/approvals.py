"""Maker-checker approvals (四眼原则): a change that needs a second pair of eyes becomes a request, and takes
effect when someone other than its maker approves it.

Each gated action (`ACTIONS`) is switched on or off by an admin; a request carries the payload to apply and
the diff the checker reads. Approving runs the action's handler: its checks first (against what is live
now, so a stale request is refused rather than merged), then, in one transaction, the change itself, the
request marked approved, and the audit entry — all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Connection

from touchpoint.core.clock import Clock
from touchpoint.core.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from touchpoint.governance.audit import record_operation
from touchpoint.governance.model import Principal
from touchpoint.store import OperationalStore
from touchpoint.store.operational import approvals as rows

ApprovalStatus = Literal["pending", "approved", "rejected", "withdrawn", "used"]
REVIEW = "approval:review"


@dataclass(frozen=True)
class ApprovalAction:
    """One kind of change that may be held for approval, with its names and its default switch."""

    name: str
    zh: str
    en: str
    threshold: int | None = None


ACTIONS: tuple[ApprovalAction, ...] = (
    ApprovalAction("journey.publish", "发布旅程或旅程新版本", "Publish a journey or a new version of it"),
    ApprovalAction("template.activate", "启用消息模板版本", "Activate a message template version"),
    ApprovalAction(
        "segment.change", "修改在用人群的规则", "Change the rule of a segment a live journey uses"
    ),
    ApprovalAction("definitions.apply", "批量应用定义目录", "Apply a definitions directory"),
    ApprovalAction(
        "segment.export", "导出超过阈值的客户", "Export more customers than the threshold", threshold=10_000
    ),
)
"""Every gated action. Without a switch row an action is off; `touchpoint init` switches them all on."""

_BY_NAME = {a.name: a for a in ACTIONS}


Writer = Callable[[Connection], dict[str, Any]]
"""The change itself, run inside the approving transaction; returns what it did."""


Handler = Callable[[Mapping[str, Any], Principal], Writer]
"""Checks a request's payload against what is live now (raising ValidationError or ConflictError when it no
longer holds) and returns the writer that applies it, acting as the maker."""


class ApprovalPolicyRead(BaseModel):
    """Whether an action needs approval, and above how many customers (exports)."""

    action: str
    zh: str
    en: str
    required: bool
    threshold: int | None = Field(
        default=None, description="exports: customers above which approval is needed"
    )
    updated_by: str | None = None


class ApprovalPolicyUpdate(BaseModel):
    """An admin's switch for one action."""

    required: bool
    threshold: int | None = Field(default=None, ge=1, le=100_000_000)


class ApprovalRead(BaseModel):
    """A request: what it changes, the diff, who made it and who decided it, why."""

    id: int
    action: str
    target: str
    summary: str
    diff: str = Field(description="a unified diff of the YAML before and after (empty when there is no body)")
    payload: dict[str, Any]
    maker: str
    status: ApprovalStatus
    checker: str | None = None
    reason: str | None = None
    result: dict[str, Any] | None = None
    created_at: Any
    decided_at: Any | None = None


class ApprovalDecision(BaseModel):
    """A checker's reason for approving or rejecting (required: the audit log keeps it)."""

    reason: str = Field(min_length=1, max_length=2000)


class PendingApproval(BaseModel):
    """The answer when a change was held for approval instead of taking effect."""

    pending_approval: ApprovalRead


def action(name: str) -> ApprovalAction:
    """The catalogue entry of an action, or NotFoundError naming the known ones."""
    found = _BY_NAME.get(name)
    if found is None:
        raise NotFoundError(f"no approval action {name!r} (actions: {', '.join(_BY_NAME)})")
    return found


def policies(ops: OperationalStore) -> list[ApprovalPolicyRead]:
    """Every action's switch, in catalogue order."""
    with ops.begin() as connection:
        switched = rows.policies(connection)
    return [_policy(a, switched.get(a.name)) for a in ACTIONS]


def policy(connection: Connection, name: str) -> ApprovalPolicyRead:
    """One action's switch, read inside the caller's transaction."""
    return _policy(action(name), rows.policies(connection).get(name))


def _policy(entry: ApprovalAction, row: dict[str, Any] | None) -> ApprovalPolicyRead:
    return ApprovalPolicyRead(
        action=entry.name,
        zh=entry.zh,
        en=entry.en,
        required=bool(row and row["required"]),
        threshold=(row or {}).get("threshold") or entry.threshold,
        updated_by=(row or {}).get("updated_by"),
    )


def required(ops: OperationalStore, name: str, *, size: int | None = None) -> bool:
    """True when `name` needs approval now (for exports: when `size` customers exceed the threshold)."""
    with ops.begin() as connection:
        found = policy(connection, name)
    if not found.required:
        return False
    return size is None or found.threshold is None or size > found.threshold


def set_policy(
    ops: OperationalStore, *, clock: Clock, principal: Principal, name: str, update: ApprovalPolicyUpdate
) -> ApprovalPolicyRead:
    """Switch an action on or off (audited with before and after)."""
    entry = action(name)
    if update.threshold is not None and entry.threshold is None:
        raise ValidationError(f"{name} has no threshold; only segment.export takes one")
    with ops.begin() as connection:
        before = policy(connection, name)
        rows.set_policy(
            connection,
            {
                "action": name,
                "required": update.required,
                "threshold": update.threshold,
                "updated_by": principal.user,
                "updated_at": clock.now(),
            },
        )
        after = policy(connection, name)
        record_operation(
            connection,
            clock=clock,
            principal=principal,
            action="approval.policy",
            target_type="approval_policy",
            target_id=name,
            before=before.model_dump(include={"required", "threshold"}),
            after=after.model_dump(include={"required", "threshold"}),
        )
    return after


def switch_all_on(ops: OperationalStore, *, clock: Clock, principal: Principal) -> list[ApprovalPolicyRead]:
    """Require approval for every action that nobody switched yet (what `touchpoint init` recommends)."""
    with ops.begin() as connection:
        switched = set(rows.policies(connection))
    for entry in ACTIONS:
        if entry.name not in switched:
            set_policy(
                ops,
                clock=clock,
                principal=principal,
                name=entry.name,
                update=ApprovalPolicyUpdate(required=True),
            )
    return policies(ops)


def request(
    ops: OperationalStore,
    *,
    clock: Clock,
    principal: Principal,
    name: str,
    target: str,
    summary: str,
    payload: dict[str, Any],
    diff: str = "",
) -> ApprovalRead:
    """Hold a change for approval; the request and its audit entry are written together."""
    action(name)
    with ops.begin() as connection:
        approval_id = rows.add(
            connection,
            {
                "action": name,
                "target": target,
                "summary": summary[:512],
                "payload": payload,
                "diff": diff,
                "maker": principal.user,
                "status": "pending",
                "created_at": clock.now(),
            },
        )
        record_operation(
            connection,
            clock=clock,
            principal=principal,
            action="approval.request",
            **_audited(name, target),
            after={"approval": approval_id, "summary": summary},
        )
        found = rows.by_id(connection, approval_id)
    assert found is not None  # written just above, in this transaction
    return ApprovalRead.model_validate(found)


def get(ops: OperationalStore, approval_id: int) -> ApprovalRead:
    """One request, or NotFoundError."""
    with ops.begin() as connection:
        found = rows.by_id(connection, approval_id)
    if found is None:
        raise NotFoundError(f"no approval request {approval_id}")
    return ApprovalRead.model_validate(found)


def search(
    ops: OperationalStore,
    *,
    status: ApprovalStatus | None = None,
    name: str | None = None,
    maker: str | None = None,
    limit: int = 100,
) -> list[ApprovalRead]:
    """Requests matching every filter given, newest first."""
    with ops.begin() as connection:
        found = rows.search(connection, status=status, action=name, maker=maker, limit=limit)
    return [ApprovalRead.model_validate(r) for r in found]


def approve(
    ops: OperationalStore,
    *,
    clock: Clock,
    principal: Principal,
    approval_id: int,
    reason: str,
    handlers: Mapping[str, Handler],
) -> ApprovalRead:
    """Apply a pending request as its maker and mark it approved, in one transaction.

    The handler's checks run first, outside any transaction; a request whose target changed since it was
    made is refused (ConflictError) and stays pending for its maker to withdraw."""
    found = _decidable(ops, principal, approval_id)
    handler = handlers.get(found.action)
    if handler is None:
        raise ConflictError(f"nothing can apply a {found.action} request in this process")
    maker = Principal(user=found.maker, source=f"approval:{approval_id}")
    writer = handler(found.payload, maker)
    with ops.begin() as connection:
        _claim(connection, approval_id)
        result = writer(connection)
        _close(connection, clock, principal, found, "approved", reason, result)
    return get(ops, approval_id)


def reject(
    ops: OperationalStore, *, clock: Clock, principal: Principal, approval_id: int, reason: str
) -> ApprovalRead:
    """Refuse a pending request with a reason; nothing it holds takes effect."""
    found = _decidable(ops, principal, approval_id)
    with ops.begin() as connection:
        _claim(connection, approval_id)
        _close(connection, clock, principal, found, "rejected", reason, None)
    return get(ops, approval_id)


def withdraw(ops: OperationalStore, *, clock: Clock, principal: Principal, approval_id: int) -> ApprovalRead:
    """The maker takes back a pending request."""
    found = get(ops, approval_id)
    if found.maker != principal.user:
        raise ForbiddenError(f"only {found.maker}, who made request {approval_id}, may withdraw it")
    if found.status != "pending":
        raise ConflictError(f"request {approval_id} is {found.status}, not pending")
    with ops.begin() as connection:
        _claim(connection, approval_id)
        _close(connection, clock, principal, found, "withdrawn", "withdrawn by its maker", None)
    return get(ops, approval_id)


def use_once(
    connection: Connection, *, approval_id: int, principal: Principal, name: str, target: str
) -> dict[str, Any]:
    """Spend an approved request that grants one use to its maker (an export); returns its payload."""
    found = rows.by_id(connection, approval_id, for_update=True)
    if found is None:
        raise NotFoundError(f"no approval request {approval_id}")
    if (found["action"], found["target"]) != (name, target):
        raise ValidationError(f"request {approval_id} is for {found['action']} of {found['target']}")
    if found["maker"] != principal.user:
        raise ForbiddenError(f"request {approval_id} was made by {found['maker']}; only they may use it")
    if found["status"] != "approved":
        raise ConflictError(
            f"request {approval_id} is {found['status']}; only an approved request can be used"
        )
    if not rows.decide(connection, approval_id, expected="approved", values={"status": "used"}):
        raise ConflictError(f"request {approval_id} was used already")
    payload: dict[str, Any] = found["payload"]
    return payload


def _decidable(ops: OperationalStore, principal: Principal, approval_id: int) -> ApprovalRead:
    found = get(ops, approval_id)
    if not principal.can(REVIEW):
        raise ForbiddenError(f"deciding approval requests needs the permission {REVIEW}")
    if found.maker == principal.user:
        raise ForbiddenError(
            f"{principal.user} made request {approval_id} and cannot decide it "
            "(四眼原则: the checker must not be the maker)"
        )
    if found.status != "pending":
        raise ConflictError(f"request {approval_id} is {found.status}, not pending")
    return found


def _claim(connection: Connection, approval_id: int) -> None:
    """Lock the request for this decision; a concurrent decision that came first wins."""
    if rows.by_id(connection, approval_id, for_update=True) is None or not rows.decide(
        connection, approval_id, expected="pending", values={"status": "deciding"}
    ):
        raise ConflictError(f"request {approval_id} was decided by someone else first")


def _close(
    connection: Connection,
    clock: Clock,
    principal: Principal,
    found: ApprovalRead,
    status: ApprovalStatus,
    reason: str,
    result: dict[str, Any] | None,
) -> None:
    rows.decide(
        connection,
        found.id,
        expected="deciding",
        values={
            "status": status,
            "checker": principal.user,
            "reason": reason,
            "result": result,
            "decided_at": clock.now(),
        },
    )
    record_operation(
        connection,
        clock=clock,
        principal=principal,
        action=f"approval.{status}",
        **_audited(found.action, found.target),
        before={"approval": found.id, "maker": found.maker, "status": "pending"},
        after={"approval": found.id, "status": status, "reason": reason, "result": result},
    )


def _audited(name: str, target: str) -> dict[str, str]:
    """The audit entry's target: the object itself when the request names one (`journey/welcome`), so that
    the object's trail shows its requests and decisions beside its changes."""
    kind, _, object_name = target.partition("/")
    if object_name:
        return {"target_type": kind, "target_id": object_name}
    return {"target_type": name, "target_id": target}
