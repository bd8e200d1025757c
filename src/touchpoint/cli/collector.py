"""`touchpoint collector …` — the collector's counters, quarantine and compaction."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from touchpoint.cli.output import console, print_json
from touchpoint.ingest.collector import repo
from touchpoint.ingest.collector.service import replay_sensors_log
from touchpoint.ingest.collector.stats import collector_stats
from touchpoint.ingest.compactor import compact

app = typer.Typer(help="Event collector: stats, quarantine, compaction.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]


@app.command("stats")
def stats(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Accepted, duplicates, quarantined by reason, and the lag of each consumer."""
    c = ctx.obj.container
    body = collector_stats(log=c.log, ops=c.ops, clock=c.clock)
    if as_json:
        print_json(body)
        return
    table = Table("metric", "label", "value")
    for key in ("accepted", "duplicates", "batches", "quarantined", "rejected_batches"):
        for label, value in sorted(body[key].items()):
            table.add_row(key, label, f"{value:,}")
    for name, lag in body["consumers"].items():
        table.add_row("lag", name, f"{lag['records']:,} events, {lag['seconds']} s")
    console.print(table)


@app.command("quarantine")
def quarantine(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="how many of the newest to show")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The newest quarantined messages, with their reasons."""
    c = ctx.obj.container
    with c.ops.begin() as connection:
        rows = repo.recent_quarantine(connection, limit)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "received", "source", "reason", "detail")
    for row in rows:
        table.add_row(
            str(row["id"]), row["received_at"].isoformat(), row["source"], row["reason"], row["detail"]
        )
    console.print(table)


@app.command("replay")
def replay(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="a file written by the Sensors LoggingConsumer (JSON lines)")],
    project: Annotated[str, typer.Option(help="Sensors project of the events")] = "default",
    historical: Annotated[bool, typer.Option("--historical", help="accept events of any age")] = False,
    as_json: JsonOption = False,
) -> None:
    """Collect a Sensors log file (the LogAgent path) exactly as if the SDK had sent it."""
    c = ctx.obj.container
    if not path.is_file():
        raise typer.BadParameter(f"no such file: {path}")
    with path.open("rb") as handle:
        result = replay_sensors_log(env=c.collector_env, lines=handle, project=project, historical=historical)
    body = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "quarantined": result.quarantined,
        "reasons": result.reasons,
    }
    if as_json:
        print_json(body)
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in body.items()))


@app.command("compact")
def compact_now(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Write every pending event to the analytical store now."""
    c = ctx.obj.container
    total = 0
    while (
        step := compact(log=c.log, ops=c.ops, analytics=c.analytics, clock=c.clock, calendar=c.calendar)
    ).records:
        total += step.records
    if as_json:
        print_json({"compacted_records": total})
    else:
        typer.echo(f"compacted {total:,} records")
