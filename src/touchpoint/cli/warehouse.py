"""`touchpoint warehouse` — canonical tables read from the brokerage's data warehouse (a Hive metastore)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from touchpoint.cli.output import console, errors, new_table, print_json, print_table, stage_progress
from touchpoint.ingest.warehouse import (
    dated_partitions,
    load_warehouse_map,
    plan_columns,
    sync_warehouse,
)

app = typer.Typer(
    help="Data warehouse tables (数仓映射): check the mapping, sync new partitions.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
TablesOption = Annotated[
    list[str] | None, typer.Option("--table", help="only this canonical table (repeatable)")
]


@app.command("check")
def check(ctx: typer.Context, table: TablesOption = None, as_json: JsonOption = False) -> None:
    """Check the mapping file against the warehouse: each table's columns, what is missing, its partitions."""
    container = ctx.obj.container
    mapping = load_warehouse_map(container.settings.warehouse_map_file)
    source = container.warehouse()
    rows = []
    for name, mapped in mapping.tables.items():
        if table and name not in table:
            continue
        plan = plan_columns(name, mapped, source)
        dated, undated = dated_partitions(mapped, source.partitions(mapped.source, mapped.partition))
        rows.append(
            plan.model_dump()
            | {"partitions": len(dated), "first": dated[0][0] if dated else None}
            | {"last": dated[-1][0] if dated else None, "not_dates": [p.value for p in undated]}
        )
    if as_json:
        print_json(rows)
    else:
        out = new_table("table", "source", "columns", "missing", "partitions", "first", "last")
        for row in rows:
            out.add_row(
                row["table"],
                row["source"],
                ", ".join(f"{c}←{s}" if s != c else c for s, c in row["select"]),
                ", ".join(row["missing_required"]) or "-",
                str(row["partitions"]),
                row["first"] or "-",
                row["last"] or "-",
            )
        print_table(out)
    if any(row["missing_required"] for row in rows):
        raise typer.Exit(1)


@app.command("sync")
def sync(
    ctx: typer.Context,
    table: TablesOption = None,
    since: Annotated[
        datetime | None,
        typer.Option("--since", formats=["%Y-%m-%d"], help="read every partition from this date on"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import the warehouse partitions not yet synced (and the last ones again) through the import checks."""
    container = ctx.obj.container
    mapping = load_warehouse_map(container.settings.warehouse_map_file)
    with stage_progress(enabled=not as_json) as bar:
        results = sync_warehouse(
            env=container,
            principal=ctx.obj.principal,
            mapping=mapping,
            source=container.warehouse(),
            tables=table,
            since=since.date() if since else None,
            progress=bar,
        )
    if as_json:
        print_json([r.model_dump(mode="json") for r in results])
    else:
        out = new_table("table", "partition", "status", "rows", "run", "problem", numeric=("rows",))
        for result in results:
            for part in result.partitions:
                run = part.run_id or "-"
                out.add_row(result.table, part.value, part.status, str(part.rows), run, part.problem or "")
        print_table(out)
        for result in results:
            console.print(f"{result.table}: synced to {result.last_synced or '-'}", highlight=False)
    if any(r.failed for r in results):
        errors.print("a partition was refused: fix it in the warehouse and sync again", highlight=False)
        raise typer.Exit(1)
