"""`touchpoint status` — what the data directory holds."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from touchpoint.bootstrap import describe_deployment
from touchpoint.cli.output import console, fmt, new_table, print_json, print_table
from touchpoint.ingest import data_status


def status_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Data directory, store URLs, and row counts per table and date."""
    container = ctx.obj.container
    body = describe_deployment(container) | data_status(analytics=container.analytics, ops=container.ops)
    if as_json:
        print_json(body)
        return
    console.print(f"data directory   {body['home']}", highlight=False)
    console.print(f"operational      {body['operational_store']['url']}", highlight=False)
    console.print(
        f"analytical       {body['analytical_store']['path']} ({body['analytical_store']['engine']})"
    )
    console.print(_dead_letters_line(body.get("dead_letters") or {}), highlight=False)
    table = new_table("table", "rows", "dates", "first", "last", numeric=("rows", "dates"))
    for name, info in body["tables"].items():
        table.add_row(
            name,
            fmt(info["rows"]),
            fmt(len(info["dates"])),
            info["first_date"] or "-",
            info["last_date"] or "-",
        )
    print_table(table)


def _dead_letters_line(dead: dict[str, Any]) -> str:
    """How many event-log records consumers could not process, by consumer, and where to look."""
    unresolved = int(dead.get("unresolved", 0))
    by_consumer = {
        name: sum(n for s, n in by.items() if s != "resolved")
        for name, by in dead.get("by_consumer", {}).items()
    }
    detail = ", ".join(f"{name} {n:,}" for name, n in sorted(by_consumer.items()) if n)
    hint = f" ({detail}) — touchpoint collector dead-letters" if unresolved else ""
    return f"dead letters     {unresolved:,} unresolved{hint}"
