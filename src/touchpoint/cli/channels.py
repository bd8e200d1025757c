"""`touchpoint template …` and `touchpoint channel …` — message templates, consent, do-not-disturb, the
in-app inbox and the message report (渠道与模板)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from touchpoint.channels import audience, feedback, service
from touchpoint.channels.channel_policy import KIND as POLICY_KIND
from touchpoint.channels.channel_policy import NAME as POLICY_NAME
from touchpoint.channels.channel_policy import parse_policy, save_policy
from touchpoint.channels.model import TemplateDef
from touchpoint.cli.journeys import read_definition
from touchpoint.cli.output import console, fmt, fmt_utc, new_table, pending_text, print_json, print_table
from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.governance.approvals import ApprovalRead
from touchpoint.identity.service import resolve

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
template_app = typer.Typer(
    help="Message templates (消息模板): save, check, preview, activate.", no_args_is_help=True
)
channel_app = typer.Typer(
    help="Channels (渠道): consent, do-not-disturb, inbox, message report.", no_args_is_help=True
)
policy_app = typer.Typer(
    help="The channel policy (渠道设置): quiet hours, caps, banned words, disclosures, lengths.",
    no_args_is_help=True,
)
channel_app.add_typer(policy_app, name="policy")
VersionOption = Annotated[int | None, typer.Option(help="a saved version (default: the newest)")]


def _env(ctx: typer.Context) -> Any:
    return ctx.obj.container


def _require_known_customer(ctx: typer.Context, customer_no: str) -> None:
    """Refuse a customer number that neither One ID nor the newest customers snapshot knows: a mistyped
    number would otherwise answer with an empty inbox or default consents, as if all were well."""
    container = ctx.obj.container
    if resolve(env=container, value=customer_no, id_type="customer_no") is not None:
        return
    analytics = container.analytics
    snapshot = analytics.latest_partition_on_or_before("customers", date.max)
    table = analytics.read_partition("customers", snapshot) if snapshot is not None else None
    if table is None or customer_no not in set(table["customer_no"].to_pylist()):
        raise NotFoundError(
            f"no customer {customer_no!r} (neither One ID nor the customers snapshot knows it)"
        )


def _faults(faults: list[str]) -> None:
    for fault in faults:
        console.print(f"  ✗ {fault}", highlight=False)


@template_app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of a template."""
    print_json(TemplateDef.model_json_schema())


@template_app.command("save")
def save_command(ctx: typer.Context, path: Path, as_json: JsonOption = False) -> None:
    """Save a template file (YAML or JSON) as the template's next version (a draft until activated)."""
    result = service.save_template(
        env=_env(ctx), principal=ctx.obj.principal, template=service.parse_template(read_definition(path))
    )
    if as_json:
        print_json(result)
        return
    console.print(f"{result['name']}: saved as version {result['version']}", highlight=False)
    if result["faults"]:
        console.print("content check · 内容检查 (fix before activating):")
        _faults(result["faults"])


@template_app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every template with its channel, classification and status."""
    rows = service.list_templates(env=_env(ctx))
    if as_json:
        print_json(rows)
        return
    table = new_table("name", "channel", "class", "status", "active", "latest", "title")
    for r in rows:
        kind = r["classification"] + (" (urgent)" if r["urgent"] else "")
        table.add_row(
            r["name"],
            r["channel"],
            kind,
            r["status"],
            str(r["active_version"] or "-"),
            str(r["latest_version"]),
            r["title"],
        )
    print_table(table)


@template_app.command("show")
def show_command(
    ctx: typer.Context,
    name: str,
    version: VersionOption = None,
    yaml_out: Annotated[bool, typer.Option("--yaml", help="print as YAML")] = False,
) -> None:
    """Print a template's definition."""
    body = service.get_template(env=_env(ctx), name=name, version=version).model_dump(mode="json")
    if yaml_out:
        typer.echo(yaml.safe_dump(body, allow_unicode=True, sort_keys=False))
        return
    print_json(body)


@template_app.command("check")
def check_command(
    ctx: typer.Context, name: str, version: VersionOption = None, as_json: JsonOption = False
) -> None:
    """The content check: banned words, risk disclosure, lengths, variables, sandbox."""
    template = service.get_template(env=_env(ctx), name=name, version=version)
    faults = service.check_template(env=_env(ctx), template=template)
    if as_json:
        print_json({"name": name, "ok": not faults, "faults": faults})
    elif faults:
        console.print(f"{name}: {len(faults)} fault(s) · 未通过")
        _faults(faults)
    else:
        console.print(f"{name}: passes the content check · 内容检查通过")
    if faults:
        raise typer.Exit(1)


@template_app.command("preview")
def preview_command(
    ctx: typer.Context,
    name: str,
    customer: Annotated[str, typer.Option(help="the customer number to render for")],
    payload: Annotated[str, typer.Option(help="the entry payload as JSON")] = "{}",
    version: VersionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Render a template for one customer (nothing is sent)."""
    try:
        values = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--payload is not JSON: {exc}") from None
    result = service.preview(
        env=_env(ctx),
        principal=ctx.obj.principal,
        name=name,
        customer_no=customer,
        payload=values,
        version=version,
    )
    if as_json:
        print_json(result)
        return
    console.print(f"{result['channel']} → {result['address'] or '(no address)'}", highlight=False)
    if result["subject"]:
        console.print(f"subject: {result['subject']}", highlight=False)
    console.print(result["body"], highlight=False)
    console.print(f"({result['length']} characters)")
    policies = result["policies"]
    verdict = policies["outcome"] + (f": {policies['reason']}" if policies["reason"] else "")
    console.print(f"policies now · 发送策略: {verdict}", highlight=False)
    if result["faults"]:
        _faults(result["faults"])


@template_app.command("activate")
def activate_command(
    ctx: typer.Context, name: str, version: VersionOption = None, as_json: JsonOption = False
) -> None:
    """Make a version the one that sends (refused, naming each fault, when the content check fails)."""
    result = service.activate_template(env=_env(ctx), principal=ctx.obj.principal, name=name, version=version)
    if as_json:
        print_json(result)
        return
    if result.get("pending_approval"):
        console.print(pending_text(ApprovalRead.model_validate(result["pending_approval"])), highlight=False)
        return
    console.print(f"{name}: version {result['active_version']} active · 已启用", highlight=False)


@template_app.command("retire")
def retire_command(ctx: typer.Context, name: str, as_json: JsonOption = False) -> None:
    """Stop a template from sending."""
    result = service.retire_template(env=_env(ctx), principal=ctx.obj.principal, name=name)
    if as_json:
        print_json(result)
        return
    console.print(f"{name}: retired · 已停用")


@channel_app.command("report")
def report_command(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(help="look back this many days")] = 7,
    journey: Annotated[str | None, typer.Option(help="only this journey's messages")] = None,
    as_json: JsonOption = False,
) -> None:
    """Sends by status and reason, and the message funnel, per channel and template."""
    result = service.report(env=_env(ctx), days=days, journey=journey)
    if as_json:
        print_json(result)
        return
    counts = ("sent", "delivered", "opened", "clicked", "failed", "skipped")
    table = new_table("channel", "template", *counts, "top skip reason", numeric=counts)
    for row in result["templates"]:
        funnel, reasons = row["funnel"], row["skip_reasons"]
        top = max(reasons, key=reasons.get) if reasons else ""
        table.add_row(
            row["channel"],
            row["template"],
            *(fmt(funnel[k]) for k in ("sent", "delivered", "opened", "clicked", "failed")),
            fmt(row["statuses"].get("skipped", 0)),
            top,
        )
    print_table(table)


@channel_app.command("consent")
def consent_command(
    ctx: typer.Context,
    customer: str,
    grant: Annotated[
        str | None, typer.Option(help="grant marketing consent on CHANNEL ('*' for all)")
    ] = None,
    withdraw: Annotated[
        str | None, typer.Option(help="withdraw marketing consent on CHANNEL ('*' for all)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a customer's marketing consent per channel, or grant / withdraw it."""
    env = _env(ctx)
    if grant and withdraw:
        raise typer.BadParameter("give --grant or --withdraw, not both")
    if grant or withdraw:
        result = audience.set_consent(
            env=env,
            principal=ctx.obj.principal,
            customer_no=customer,
            channel=grant or withdraw or "*",
            granted=bool(grant),
            source="cli",
        )
    else:
        _require_known_customer(ctx, customer)
        result = audience.consent_of(env=env, principal=ctx.obj.principal, customer_no=customer)
    if as_json:
        print_json(result)
        return
    table = new_table("channel", "marketing consent · 营销授权")
    for channel, why in result["channels"].items():
        table.add_row(channel, why)
    print_table(table)
    if result["do_not_disturb"]:
        console.print(f"do-not-disturb · 免打扰: {result['do_not_disturb']}", highlight=False)


@channel_app.command("dnd")
def dnd_command(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Argument(help="the customer (omit to list)")] = None,
    reason: Annotated[str | None, typer.Option(help="add the customer with this reason")] = None,
    days: Annotated[int | None, typer.Option(help="for this many days (default: until removed)")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="take the customer off the list")] = False,
    file: Annotated[
        Path | None, typer.Option("--file", help="add every customer number in this file (one a line)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The do-not-disturb list (免打扰): list it, add a customer (or a file of them) with a reason, or remove
    one."""
    env = _env(ctx)
    result: Any
    if file is not None:
        if not reason:
            raise typer.BadParameter("give --reason with --file")
        numbers = [line.strip() for line in file.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
        result = audience.add_do_not_disturb_list(
            env=env, principal=ctx.obj.principal, customers=numbers, reason=reason, days=days
        )
    elif customer is None:
        result = audience.do_not_disturb_list(env=env, principal=ctx.obj.principal)
    elif remove:
        result = {
            "customer_no": customer,
            "removed": audience.remove_do_not_disturb(
                env=env, principal=ctx.obj.principal, customer_no=customer
            ),
        }
    elif reason:
        result = audience.add_do_not_disturb(
            env=env, principal=ctx.obj.principal, customer_no=customer, reason=reason, days=days
        )
    else:
        raise typer.BadParameter("give --reason to add the customer, or --remove")
    if as_json:
        print_json(result)
        return
    if not isinstance(result, list):  # one change: what was done, on one line
        console.print(" · ".join(f"{k}={v}" for k, v in result.items()), highlight=False)
        return
    table = new_table("customer", "reason · 原因", "until (UTC)", "added by")
    for row in result:
        table.add_row(row["customer_no"], row["reason"], fmt_utc(row["until"]), row["added_by"])
    print_table(table)


@channel_app.command("inbox")
def inbox_command(ctx: typer.Context, customer: str, as_json: JsonOption = False) -> None:
    """A customer's in-app messages (what the app shows)."""
    _require_known_customer(ctx, customer)
    result = feedback.inbox(env=_env(ctx), principal=ctx.obj.principal, customer_no=customer)
    if as_json:
        print_json(result)
        return
    console.print(f"{customer}: {fmt(result['unread'])} unread · 未读", highlight=False)
    table = new_table("unread · 未读", "at (UTC)", "title", "body")
    for m in result["messages"]:
        table.add_row("" if m["read"] else "●", fmt_utc(m["created_at"]), m["title"], m["body"])
    if result["messages"]:
        print_table(table)


@channel_app.command("messages")
def messages_command(ctx: typer.Context, customer: str, as_json: JsonOption = False) -> None:
    """A customer's newest messages with status, reason and evidence."""
    _require_known_customer(ctx, customer)
    rows = service.customer_messages(env=_env(ctx), principal=ctx.obj.principal, customer_no=customer)
    if as_json:
        print_json(rows)
        return
    table = new_table("at", "channel", "template", "status", "reason")
    for r in rows:
        table.add_row(r["at"][:16], r["channel"], r["template"], r["status"], r["reason"] or "")
    print_table(table)


@policy_app.command("show")
def policy_show_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print the policy every send uses now (YAML, as `policy set` reads it) and where it comes from."""
    effective = _env(ctx).effective_channel_policy()
    if as_json:
        print_json(effective.model_dump(mode="json"))
        return
    where = (
        f"registry {POLICY_KIND}/{POLICY_NAME} version {effective.version}"
        if effective.source == "registry"
        else "settings [channel_policy] (no channel_policy/default saved)"
    )
    console.print(f"# in effect: {where}", highlight=False)
    typer.echo(yaml.safe_dump(effective.policy.model_dump(mode="json"), allow_unicode=True, sort_keys=False))


@policy_app.command("set")
def policy_set_command(ctx: typer.Context, path: Path, as_json: JsonOption = False) -> None:
    """Save a policy file (YAML or JSON, every field optional: a missing one takes its default) as the next
    version of channel_policy/default, through the definitions registry (audited)."""
    policy = parse_policy(POLICY_NAME, read_definition(path))
    container = _env(ctx)
    saved = save_policy(registry=container.registry, principal=ctx.obj.principal, policy=policy)
    if as_json:
        print_json(saved.model_dump(mode="json"))
        return
    if saved.pending_approval is not None:
        console.print(pending_text(saved.pending_approval), highlight=False)
    elif saved.changed:
        console.print(f"channel policy: saved as version {saved.version}", highlight=False)
    else:
        console.print(f"channel policy: unchanged (version {saved.version})", highlight=False)
