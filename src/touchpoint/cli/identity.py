"""`touchpoint identity …` — One ID lookups and undoing a wrong merge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from touchpoint.cli.output import console, fmt, new_table, print_json, print_table
from touchpoint.identity.corrections import allow, unmerge
from touchpoint.identity.service import show

app = typer.Typer(
    help="One ID: resolve identifiers, show the merge log, detach (unmerge) and allow again.",
    no_args_is_help=True,
)
TypeOption = Annotated[str | None, typer.Option("--type", help="customer_no, anonymous_id, phone, …")]
JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]


@app.command("show")
def show_command(
    ctx: typer.Context, value: str, id_type: TypeOption = None, as_json: JsonOption = False
) -> None:
    """The uid VALUE resolves to, every identifier linked to it, and the merge-log entries."""
    body = show(env=ctx.obj.container, value=value, id_type=id_type)
    if as_json:
        print_json(body)
        return
    console.print(f"uid {body['uid']}", highlight=False)
    ids = new_table("id_type", "id_value")
    for ident in body["identifiers"]:
        ids.add_row(ident["id_type"], ident["id_value"])
    print_table(ids)
    log = new_table("#", "at (UTC)", "action", "uid", "from", "ids", "reason", numeric=("#",))
    for e in body["log"]:
        log.add_row(
            str(e["id"]),
            fmt(datetime.fromisoformat(e["at"])),
            e["action"],
            str(e["uid"]),
            str(e["from_uid"] or ""),
            ", ".join(e["ids"]),
            e["reason"] or "",
        )
    print_table(log)
    for shared in body["shared"]:
        console.print(f"shared device (stays anonymous): {shared}", highlight=False)
    for separation in body["separations"]:
        console.print(
            f"separated: {separation['left']} ≠ {separation['right']} (by {separation['by']})",
            highlight=False,
        )


@app.command("unmerge")
def unmerge_command(
    ctx: typer.Context,
    value: str,
    id_type: TypeOption = None,
    reason: Annotated[str | None, typer.Option(help="why, for the audit log")] = None,
    as_json: JsonOption = False,
) -> None:
    """Detach exactly VALUE from the person it is linked to (the customer keeps its uid and profile); the
    two are not linked again until `identity allow`."""
    body = unmerge(
        env=ctx.obj.container, principal=ctx.obj.principal, value=value, id_type=id_type, reason=reason
    )
    if as_json:
        print_json(body)
    else:
        typer.echo(f"{body['identifier']}: uid {body['from_uid']} → {body['to_uid']}")


@app.command("allow")
def allow_command(
    ctx: typer.Context,
    value: str,
    other: str,
    id_type: TypeOption = None,
    other_type: Annotated[str | None, typer.Option("--other-type", help="the type of OTHER")] = None,
    as_json: JsonOption = False,
) -> None:
    """Lift the separation between VALUE and OTHER made by an unmerge: later events may link them again."""
    body = allow(
        env=ctx.obj.container,
        principal=ctx.obj.principal,
        value=value,
        other=other,
        id_type=id_type,
        other_type=other_type,
    )
    if as_json:
        print_json(body)
    else:
        typer.echo(f"{body['identifier']} and {body['other']} may be linked again")
