"""Maker-checker approvals (审批) and the definitions registry: requests, decisions, switches; every kind of
definition listed, versioned, diffed, planned and applied through one set of routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

from touchpoint.api.deps import container, needs, principal, signed_in
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.core.errors import ForbiddenError
from touchpoint.governance import Principal, approvals
from touchpoint.governance.approvals import (
    ApprovalDecision,
    ApprovalPolicyRead,
    ApprovalPolicyUpdate,
    ApprovalRead,
    ApprovalStatus,
)
from touchpoint.governance.registry import ApplyRead, DefinitionVersionRead, PlanRead

router = APIRouter(tags=["approvals"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
ApprovalId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Kind = Annotated[
    str, Path(min_length=1, max_length=32, description="indicator, tag, segment, template, journey")
]
Name = Annotated[str, Path(min_length=1, max_length=128)]
Documents = Annotated[
    dict[str, dict[str, dict[str, Any]]],
    Body(description="definition bodies by kind and name, as `definitions export` writes them"),
]


@router.get("/approvals", dependencies=[signed_in()])
def list_approvals(
    c: Deps,
    caller: Caller,
    status: ApprovalStatus | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    maker: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ApprovalRead]:
    """Requests, newest first: every request for a checker (approval:review), one's own for anyone else."""
    if not caller.can(approvals.REVIEW):
        maker = caller.user
    return approvals.search(c.ops, status=status, name=action, maker=maker, limit=limit)


@router.get("/approvals/policies", dependencies=[signed_in()])
def list_policies(c: Deps) -> list[ApprovalPolicyRead]:
    """Which actions need approval now."""
    return approvals.policies(c.ops)


@router.put("/approvals/policies/{action}", dependencies=[needs("role:manage")], responses=errors(400, 404))
def set_policy(
    action: Annotated[str, Path(max_length=64)], update: ApprovalPolicyUpdate, c: Deps, caller: Caller
) -> ApprovalPolicyRead:
    """Switch approval on or off for one action (audited)."""
    return approvals.set_policy(c.ops, clock=c.clock, principal=caller, name=action, update=update)


@router.get("/approvals/{approval_id}", dependencies=[signed_in()], responses=errors(403, 404))
def get_approval(approval_id: ApprovalId, c: Deps, caller: Caller) -> ApprovalRead:
    """One request with its diff (its maker's own, or any for a checker)."""
    found = approvals.get(c.ops, approval_id)
    if found.maker != caller.user and not caller.can(approvals.REVIEW):
        raise ForbiddenError(f"request {approval_id} is {found.maker}'s; reading it needs approval:review")
    return found


@router.post(
    "/approvals/{approval_id}/approve",
    dependencies=[needs("approval:review")],
    responses=errors(400, 404, 409),
)
def approve(approval_id: ApprovalId, decision: ApprovalDecision, c: Deps, caller: Caller) -> ApprovalRead:
    """Approve: the change takes effect now, atomically, as its maker asked (never by its own maker)."""
    return approvals.approve(
        c.ops,
        clock=c.clock,
        principal=caller,
        approval_id=approval_id,
        reason=decision.reason,
        handlers=c.approval_handlers,
    )


@router.post(
    "/approvals/{approval_id}/reject", dependencies=[needs("approval:review")], responses=errors(404, 409)
)
def reject(approval_id: ApprovalId, decision: ApprovalDecision, c: Deps, caller: Caller) -> ApprovalRead:
    """Reject with a reason; nothing the request holds takes effect."""
    return approvals.reject(
        c.ops, clock=c.clock, principal=caller, approval_id=approval_id, reason=decision.reason
    )


@router.post("/approvals/{approval_id}/withdraw", dependencies=[signed_in()], responses=errors(403, 404, 409))
def withdraw(approval_id: ApprovalId, c: Deps, caller: Caller) -> ApprovalRead:
    """Take back a pending request one made."""
    return approvals.withdraw(c.ops, clock=c.clock, principal=caller, approval_id=approval_id)


@router.get("/registry", dependencies=[signed_in()])
def registry_kinds(c: Deps) -> list[str]:
    """The kinds of definition, in the order apply writes them."""
    return c.registry.kinds


@router.get("/registry/{kind}", dependencies=[signed_in()], responses=errors(403, 404))
def registry_list(kind: Kind, c: Deps, caller: Caller) -> dict[str, dict[str, Any]]:
    """Every live definition of a kind, by name (needs the kind's read permission)."""
    _readable(c, caller, kind)
    return c.registry.list(kind)


@router.get("/registry/{kind}/{name}/history", dependencies=[signed_in()], responses=errors(403, 404))
def registry_history(kind: Kind, name: Name, c: Deps, caller: Caller) -> list[DefinitionVersionRead]:
    """Every version of one definition, oldest first."""
    _readable(c, caller, kind)
    return c.registry.history(kind, name)


@router.post("/registry/{kind}/{name}/diff", dependencies=[signed_in()], responses=errors(400, 403, 404))
def registry_diff(
    kind: Kind, name: Name, body: Annotated[dict[str, Any], Body()], c: Deps, caller: Caller
) -> str:
    """What saving `body` as this definition would change in its live version (a unified diff)."""
    _readable(c, caller, kind)
    return c.registry.diff(kind, name, body)


@router.post("/registry/plan", dependencies=[needs("definition:apply")], responses=errors(400, 404))
def registry_plan(documents: Documents, c: Deps) -> PlanRead:
    """What applying these definitions would change, each with its diff; nothing is written."""
    return c.registry.plan(documents)


@router.post("/registry/apply", dependencies=[needs("definition:apply")], responses=errors(400, 404, 409))
def registry_apply(documents: Documents, c: Deps, caller: Caller) -> ApplyRead:
    """Apply these definitions in one transaction, or hold them in one request (definitions.apply)."""
    return c.registry.apply(caller, documents)


def _readable(c: Container, caller: Principal, kind: str) -> None:
    """Refuse a caller without the permission the kind declares (an unknown kind is NotFoundError)."""
    permission = c.registry.kind(kind).read
    if not caller.can(permission):
        raise ForbiddenError(f"reading {kind} definitions needs the permission {permission}")
