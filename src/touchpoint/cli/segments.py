"""`touchpoint segment …` — crowd selection (人群圈选): preview a rule, save and list segments."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from touchpoint.cli.output import console, fmt, fmt_share, new_table, pending_text, print_json, print_table
from touchpoint.core.errors import ValidationError
from touchpoint.core.jobs import Job, run_in_background
from touchpoint.governance.approvals import ApprovalRead
from touchpoint.insight.lookalike import lookalike, lookalike_job
from touchpoint.insight.profile import overlap, tgi_profile
from touchpoint.segments.model import rule_schema
from touchpoint.segments.service import (
    export_members,
    list_segments,
    local_instant,
    preview,
    read_numbers,
    refresh_segment,
    save_list_segment,
    status,
)

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
RuleOption = Annotated[Path, typer.Option("--rule", help="a JSON file holding the rule tree")]
app = typer.Typer(help="Segments (人群): preview a rule, save, list, show.", no_args_is_help=True)


def _read_rule(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path}: not JSON ({exc})") from None


@app.command("preview")
def preview_command(
    ctx: typer.Context,
    rule: RuleOption,
    at: Annotated[
        str | None, typer.Option("--at", help="evaluate as of YYYY-MM-DDTHH:MM Beijing time (default now)")
    ] = None,
    path: Annotated[str, typer.Option("--path", help="bitmap (fast) or sql (reference)")] = "bitmap",
    as_json: JsonOption = False,
) -> None:
    """How many customers a rule selects, and a masked sample of them."""
    env = ctx.obj.container
    if path not in ("bitmap", "sql"):
        raise ValidationError(f"--path {path!r}: choose bitmap or sql")
    instant = local_instant(env=env, text=at) if at else None
    result = preview(
        env=env,
        principal=ctx.obj.principal,
        rule=_read_rule(rule),
        at=instant,
        path="sql" if path == "sql" else "bitmap",
    )
    if as_json:
        print_json(result)
        return
    console.print(f"{result['count']:,} of {result['base']:,} customers ({result['elapsed_ms']} ms, {path})")
    console.print("sample: " + ", ".join(result["sample"]))


@app.command("schema")
def schema_command() -> None:
    """The JSON Schema of a rule tree."""
    print_json(rule_schema())


@app.command("create")
def create_command(
    ctx: typer.Context,
    name: str,
    rule: RuleOption,
    title: Annotated[str | None, typer.Option(help="display name (default: the name)")] = None,
    description: Annotated[str, typer.Option(help="what the segment is for")] = "",
    as_json: JsonOption = False,
) -> None:
    """Save a segment (a new version if it exists)."""
    body = {"title": title or name, "description": description, "rule": _read_rule(rule)}
    saved = ctx.obj.container.registry.save(ctx.obj.principal, "segment", name, body)
    if as_json:
        print_json(saved.model_dump(mode="json"))
    elif saved.pending_approval is not None:
        console.print(pending_text(saved.pending_approval))
    else:
        console.print(f"saved segment {name} (version {saved.version})")


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every saved segment."""
    segments = list_segments(env=ctx.obj.container)
    if as_json:
        print_json([s.model_dump(mode="json") for s in segments.values()])
        return
    table = new_table("name", "title", "kind", "description")
    for segment in segments.values():
        table.add_row(segment.name, segment.title, segment.kind, segment.description or "")
    print_table(table)


@app.command("show")
def show_command(ctx: typer.Context, name: str, as_json: JsonOption = False) -> None:
    """A saved segment: its rule, size history, last computation and last error."""
    body = status(env=ctx.obj.container, name=name)
    if as_json:
        print_json(body)
        return
    console.print(f"{body['name']}  {body['title']}  ({body['kind']})  size {fmt(body['size'])}")
    computed = body["last_computed"]
    console.print(f"last computed {fmt(datetime.fromisoformat(computed)) + ' UTC' if computed else 'never'}")
    if body["last_error"]:
        console.print(f"last error: {body['last_error']} (retry at {body['retry_at']})")
    if body["history"]:
        history = new_table("date", "size", title="size history", numeric=("size",))
        for point in body["history"]:
            history.add_row(str(point["date"]), fmt(point["size"]))
        print_table(history)
    console.print(json.dumps(body["rule"], ensure_ascii=False, indent=2))


@app.command("refresh")
def refresh_command(ctx: typer.Context, name: str, as_json: JsonOption = False) -> None:
    """Evaluate a saved segment now and keep today's member snapshot."""
    body = refresh_segment(env=ctx.obj.container, principal=ctx.obj.principal, name=name)
    if as_json:
        print_json(body)
    else:
        console.print(f"{name}: {body['size']:,} members")


@app.command("upload")
def upload_command(
    ctx: typer.Context,
    name: str,
    path: Path,
    title: Annotated[str | None, typer.Option(help="display name (default: the name)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Make a static segment from a file of customer numbers (one per line, or CSV with customer_no)."""
    env = ctx.obj.container
    numbers = read_numbers(path.read_bytes())
    body = save_list_segment(
        env=env,
        principal=ctx.obj.principal,
        name=name,
        title=title or name,
        numbers=numbers,
        source=path.name,
    )
    uploaded = body["upload"]
    if as_json:
        print_json(body)
        return
    console.print(f"{name}: {body['size']:,} members from {uploaded['rows']:,} numbers")
    if uploaded["unknown"]:
        console.print(f"{len(uploaded['unknown'])} unknown: {', '.join(uploaded['unknown'][:10])}")


@app.command("export")
def export_command(
    ctx: typer.Context,
    name: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write")],
    attributes: Annotated[
        str, typer.Option("--attributes", help="comma-separated customer attributes to add")
    ] = "",
    approval: Annotated[
        int | None, typer.Option(help="the approved request of a large export (used once)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the members of the newest snapshot as CSV (recorded in the audit log; above the segment.export
    threshold, a request for approval first)."""
    chosen = [a.strip() for a in attributes.split(",") if a.strip()]
    text = export_members(
        env=ctx.obj.container, principal=ctx.obj.principal, name=name, attributes=chosen, approval=approval
    )
    if isinstance(text, ApprovalRead):
        if as_json:
            print_json({"pending_approval": text.model_dump(mode="json")})
        else:
            console.print(
                pending_text(text) + f"; once approved: touchpoint segment export {name} --approval {text.id}"
            )
        return
    output.write_text(text, encoding="utf-8")
    rows = max(text.count("\n") - 1, 0)
    if as_json:
        print_json({"segment": name, "rows": rows, "path": str(output), "attributes": chosen})
    else:
        console.print(f"wrote {rows:,} members to {output}")


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@app.command("insight")
def insight_command(
    ctx: typer.Context,
    name: str,
    against: Annotated[
        str | None, typer.Option(help="compare with this segment (default: all customers)")
    ] = None,
    tags: Annotated[str, typer.Option(help="comma-separated tags (default: every non-sensitive tag)")] = "",
    indicators: Annotated[str, typer.Option(help="comma-separated indicators to summarise")] = "",
    as_json: JsonOption = False,
) -> None:
    """What sets a segment apart: TGI of every tag value against the base, indicator summaries."""
    body = tgi_profile(
        env=ctx.obj.container,
        segment=name,
        against=against,
        tags=_names(tags) or None,
        indicators=_names(indicators),
    )
    if as_json:
        print_json(body)
        return
    console.print(f"{name}: {body['segment_size']:,} vs {body['against']} {body['base_size']:,}")
    table = new_table("tag", "top value", "TGI", "share of segment", numeric=("TGI", "share of segment"))
    for tag in body["tags"][:10]:
        top = tag["values"][0] if tag["values"] else None
        if top:
            table.add_row(
                tag["tag"], str(top["value"]), fmt(top["tgi"], digits=1), fmt_share(top["segment_share"])
            )
    print_table(table)


@app.command("overlap")
def overlap_command(ctx: typer.Context, names: list[str], as_json: JsonOption = False) -> None:
    """Sizes of 2–4 segments and of every overlap between them (for a Venn chart)."""
    body = overlap(env=ctx.obj.container, segments=names)
    if as_json:
        print_json(body)
        return
    table = new_table("segments", "customers", numeric=("customers",))
    for region in body["regions"]:
        table.add_row(" ∩ ".join(region["segments"]), fmt(region["intersection"]))
    print_table(table)


@app.command("lookalike")
def lookalike_command(
    ctx: typer.Context,
    seed: str,
    target: str,
    top: Annotated[int | None, typer.Option(min=1, help="keep the K best-scoring customers")] = None,
    min_score: Annotated[
        float | None, typer.Option(min=0, max=1, help="keep everyone above this score")
    ] = None,
    pool: Annotated[str | None, typer.Option(help="candidates from this segment (default: everyone)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Expand a seed segment into a new static segment of look-alikes (Ctrl-C cancels)."""
    env = ctx.obj.container
    job = lookalike_job(ctx.obj.principal, seed, target)

    def work(running: Job) -> Any:
        return lookalike(
            env=env,
            principal=ctx.obj.principal,
            seed=seed,
            target=target,
            top=top,
            min_score=min_score,
            pool=pool,
            job=running,
        )

    thread = run_in_background(work, job)
    with Progress(disable=as_json) as bar:
        task = bar.add_task("lookalike", total=1.0)
        try:
            while thread.is_alive():
                bar.update(task, completed=job.progress, description=job.stage)
                thread.join(0.2)
        except KeyboardInterrupt:
            job.cancel.set()
            thread.join()
    if job.error:
        raise ValidationError(job.error)
    assert job.result is not None
    if as_json:
        print_json(job.result)
        return
    result = job.result
    console.print(
        f"{target}: {result['size']:,} look-alikes of {seed} ({result['seed_size']:,}), "
        f"hold-out AUC {result['auc_holdout']}"
    )
