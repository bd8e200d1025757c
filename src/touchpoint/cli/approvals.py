"""`touchpoint approval …` — maker-checker approvals (审批): requests, decisions, and which actions need
them."""

from __future__ import annotations

from typing import Annotated, cast, get_args

import typer

from touchpoint.cli.output import console, fmt_utc, new_table, print_json, print_table
from touchpoint.governance import approvals
from touchpoint.governance.approvals import ApprovalPolicyUpdate, ApprovalRead, ApprovalStatus

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
Reason = Annotated[str, typer.Option("--reason", help="why (kept in the audit log)")]
app = typer.Typer(
    help="Maker-checker approvals (审批): list, show, approve, reject, withdraw; which actions need them.",
    no_args_is_help=True,
)
policy_app = typer.Typer(help="Which actions need approval (审批开关).", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@app.command("list")
def list_command(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="pending, approved, rejected, withdrawn or used")
    ] = "pending",
    action: Annotated[str | None, typer.Option(help="e.g. journey.publish")] = None,
    maker: Annotated[str | None, typer.Option(help="who made the request")] = None,
    every: Annotated[bool, typer.Option("--all", help="requests of every status")] = False,
    as_json: JsonOption = False,
) -> None:
    """Approval requests, newest first (pending ones unless told otherwise)."""
    chosen = None if every else _status(status)
    found = approvals.search(ctx.obj.container.ops, status=chosen, name=action, maker=maker)
    if as_json:
        print_json([a.model_dump(mode="json") for a in found])
        return
    table = new_table(
        "id", "status", "action", "target", "maker", "checker", "made", title="审批 · approvals"
    )
    for a in found:
        table.add_row(
            str(a.id), a.status, a.action, a.target, a.maker, a.checker or "", fmt_utc(a.created_at)
        )
    print_table(table)


@app.command("show")
def show_command(ctx: typer.Context, approval_id: int, as_json: JsonOption = False) -> None:
    """One request with its diff."""
    _print(approvals.get(ctx.obj.container.ops, approval_id), as_json=as_json)


@app.command("approve")
def approve_command(
    ctx: typer.Context, approval_id: int, reason: Reason, as_json: JsonOption = False
) -> None:
    """Approve a request: the change takes effect now, as its maker asked (never by its own maker)."""
    container = ctx.obj.container
    done = approvals.approve(
        container.ops,
        clock=container.clock,
        principal=ctx.obj.principal,
        approval_id=approval_id,
        reason=reason,
        handlers=container.approval_handlers,
    )
    _print(done, as_json=as_json)


@app.command("reject")
def reject_command(ctx: typer.Context, approval_id: int, reason: Reason, as_json: JsonOption = False) -> None:
    """Reject a request with a reason; nothing it holds takes effect."""
    container = ctx.obj.container
    done = approvals.reject(
        container.ops,
        clock=container.clock,
        principal=ctx.obj.principal,
        approval_id=approval_id,
        reason=reason,
    )
    _print(done, as_json=as_json)


@app.command("withdraw")
def withdraw_command(ctx: typer.Context, approval_id: int, as_json: JsonOption = False) -> None:
    """Take back a pending request you made."""
    container = ctx.obj.container
    done = approvals.withdraw(
        container.ops, clock=container.clock, principal=ctx.obj.principal, approval_id=approval_id
    )
    _print(done, as_json=as_json)


@policy_app.command("list")
def policy_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every gated action and whether it needs approval now."""
    found = approvals.policies(ctx.obj.container.ops)
    if as_json:
        print_json([p.model_dump(mode="json") for p in found])
        return
    table = new_table("action", "需要审批 required", "threshold", "说明", "description")
    for p in found:
        table.add_row(p.action, "yes" if p.required else "no", str(p.threshold or ""), p.zh, p.en)
    print_table(table)


@policy_app.command("on")
def policy_on(
    ctx: typer.Context,
    action: str,
    threshold: Annotated[
        int | None, typer.Option(min=1, help="segment.export: customers above which approval is needed")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Require approval for one action."""
    _switch(ctx, action, ApprovalPolicyUpdate(required=True, threshold=threshold), as_json=as_json)


@policy_app.command("off")
def policy_off(ctx: typer.Context, action: str, as_json: JsonOption = False) -> None:
    """Stop requiring approval for one action (a small brokerage may approve only journeys)."""
    _switch(ctx, action, ApprovalPolicyUpdate(required=False), as_json=as_json)


def _switch(ctx: typer.Context, action: str, update: ApprovalPolicyUpdate, *, as_json: bool) -> None:
    container = ctx.obj.container
    done = approvals.set_policy(
        container.ops, clock=container.clock, principal=ctx.obj.principal, name=action, update=update
    )
    if as_json:
        print_json(done.model_dump(mode="json"))
        return
    shown = f" above {done.threshold:,} customers" if done.required and done.threshold else ""
    console.print(f"{done.action}: approval {'required' + shown if done.required else 'not required'}")


def _status(text: str | None) -> ApprovalStatus | None:
    allowed = get_args(ApprovalStatus)
    if text is not None and text not in allowed:
        raise typer.BadParameter(f"{text!r} is not one of {', '.join(allowed)}", param_hint="--status")
    return cast(ApprovalStatus | None, text)


def _print(found: ApprovalRead, *, as_json: bool) -> None:
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    console.print(f"request {found.id}: {found.status} — {found.action} {found.target}")
    console.print(f"  {found.summary}")
    console.print(f"  made by {found.maker} at {fmt_utc(found.created_at)}")
    if found.checker:
        console.print(f"  decided by {found.checker} at {fmt_utc(found.decided_at)}: {found.reason}")
    if found.result:
        console.print(f"  result: {found.result}")
    if found.diff:
        typer.echo(found.diff, nl=False)
