"""`touchpoint import TABLE PATH` — batch import of core-system tables and historical events."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from touchpoint.cli.output import console, errors, new_table, print_json, stage_progress
from touchpoint.ingest import TABLES, ImportOptions, ImportRejected, ImportReport, import_file
from touchpoint.ingest.history import ImportVersion, import_history

LARGE_FILE_BYTES = 8 << 20
"""Files above this size show a progress bar."""
HISTORY = "history"
"""`touchpoint import history TABLE [--date D] [--json]` lists the versions imports wrote."""


def import_command(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help=f"one of: {', '.join(TABLES)}; or `{HISTORY}`")],
    path: Annotated[
        Path,
        typer.Argument(help=f"CSV (UTF-8 or GBK), Parquet, or JSON Lines (events); after {HISTORY}: TABLE"),
    ],
    business_date: Annotated[
        datetime | None,
        typer.Option(
            "--date", formats=["%Y-%m-%d"], help="business date of a snapshot or a dateless daily file"
        ),
    ] = None,
    file_format: Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl")] = None,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", help="a CSV file's encoding, utf-8 or gbk (default: judged from it)"),
    ] = None,
    skip_bad_rows: Annotated[
        bool,
        typer.Option("--skip-bad-rows", help="import the good rows; write the bad ones to a reject file"),
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="the file is the complete content of every date it touches")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="import even if this exact file was imported")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Import a file into a canonical table. A file with bad rows is rejected whole unless --skip-bad-rows.

    `touchpoint import history TABLE [--date D] [--json]` lists every kept version of the table's dates with
    the import that wrote it: who, when, the file and its sha256, the rows.
    """
    container = ctx.obj.container
    if table == HISTORY:
        _show_history(
            import_history(
                env=container,
                principal=ctx.obj.principal,
                table=str(path),
                business_date=business_date.date() if business_date else None,
            ),
            as_json,
        )
        return
    options = ImportOptions(
        business_date=business_date.date() if business_date else None,
        skip_bad_rows=skip_bad_rows,
        replace=replace,
        force=force,
        encoding=encoding,
    )
    try:
        with stage_progress(
            enabled=not as_json and path.stat().st_size > 8 << 20 if path.exists() else False
        ) as bar:
            report = import_file(
                env=container,
                principal=ctx.obj.principal,
                table=table,
                path=path,
                options=options,
                file_format=file_format,
                progress=bar,
            )
    except ImportRejected as rejected:
        _show(rejected.report, as_json)
        raise typer.Exit(1) from None
    _show(report, as_json)


def _show(report: ImportReport, as_json: bool) -> None:
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    out = errors if report.status == "rejected" else console
    out.print(report.summary(), highlight=False)
    if report.errors:
        table = new_table(
            "row",
            "line",
            "column",
            "value",
            "reason",
            title=f"{report.error_count} problem(s)",
            numeric=("row", "line"),
        )
        for error in report.errors[:50]:
            table.add_row(
                str(error.row), str(error.line or ""), error.column or "", error.value or "", error.reason
            )
        out.print(table)
        if report.error_count > 50:
            out.print(f"… {report.error_count - 50} more (see --json)")
    if report.reject_file:
        out.print(f"bad rows written to {report.reject_file}", highlight=False)
    if report.status == "rejected":
        out.print("nothing was imported; fix the rows above or use --skip-bad-rows", highlight=False)
    if report.status == "already_imported":
        out.print(
            f"this file is the current version of its rows (import {report.run_id}): nothing was read or "
            "written; --force applies it again",
            highlight=False,
        )


def _show_history(versions: list[ImportVersion], as_json: bool) -> None:
    if as_json:
        print_json([v.model_dump(mode="json") for v in versions])
        return
    if not versions:
        console.print("no versions recorded")
    for v in versions:  # one line each: a table would cut the run id and the hash on a narrow terminal
        state = "current" if v.superseded_by is None else f"replaced by v{v.superseded_by}"
        made = f"by {v.actor} at {_when(v.imported_at)} from {v.source} sha256 {v.sha256}" if v.run_id else ""
        console.print(
            f"{v.date.isoformat()}  v{v.version}  {state}  {v.rows} rows  {made}  run {v.run_id or '-'}",
            highlight=False,
            soft_wrap=True,
        )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"
