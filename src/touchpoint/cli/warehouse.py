"""`touchpoint warehouse` — canonical tables read from the brokerage's data warehouse (a Hive metastore)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from touchpoint.cli.output import console, errors, new_table, print_json, print_table, stage_progress
from touchpoint.core.errors import ValidationError
from touchpoint.ingest.warehouse import (
    MappedTable,
    WarehouseSource,
    load_warehouse_map,
    plan_columns,
    plan_table,
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
    unknown = [name for name in table or [] if name not in mapping.tables]
    if unknown:
        raise ValidationError(f"not in the warehouse mapping: {', '.join(unknown)}")
    source = container.warehouse()
    rows = [
        _checked(name, mapped, source)
        for name, mapped in mapping.tables.items()
        if not table or name in table
    ]
    if as_json:
        print_json(rows)
    else:
        out = new_table("table", "source", "columns", "partitions", "first", "last", "problem")
        for row in rows:
            out.add_row(
                row["table"],
                row["source"],
                ", ".join(f"{c}←{s}" if s != c else c for s, c in row["select"]),
                str(row["partitions"]),
                row["first"] or "-",
                row["last"] or "-",
                row["problem"] or "",
            )
        print_table(out)
    if any(row["problem"] for row in rows):
        raise typer.Exit(1)


def _checked(name: str, mapped: MappedTable, source: WarehouseSource) -> dict[str, Any]:
    """One table's check as a row: its columns as `plan_columns` finds them and its partitions as
    `plan_table` does, or the problem that stops it."""
    row: dict[str, Any] = {"table": name, "source": mapped.source, "select": [], "missing_required": []}
    row |= {"date_from_partition": False, "unmapped": [], "partitions": 0, "first": None, "last": None}
    row |= {"not_dates": [], "problem": None}
    try:
        plan = plan_columns(name, mapped, source)
        row |= plan.model_dump()
        planned = plan_table(name, mapped, source, plan)
    except ValidationError as problem:
        row["problem"] = str(problem)
        return row
    dated = planned.dated
    row |= {"partitions": len(dated), "first": dated[0][0] if dated else None}
    row |= {"last": dated[-1][0] if dated else None, "not_dates": [p.value for p in planned.skipped]}
    return row


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
