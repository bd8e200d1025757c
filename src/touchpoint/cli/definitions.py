"""`touchpoint definitions …` — every kind of definition through the one registry: a whole configuration
as a directory (export, plan, apply), and one definition's versions, diff and deletion."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml

from touchpoint.cli.output import console, new_table, pending_text, print_json, print_table
from touchpoint.core.errors import ValidationError
from touchpoint.governance.registry import ApplyRead, PlanRead, read_directory, write_directory, yaml_text
from touchpoint.tags.definitions_io import apply_import, parse_yaml, plan_import
from touchpoint.tags.service import dry_run

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
DiffOption = Annotated[bool, typer.Option("--diff/--no-diff", help="print each change's diff")]
app = typer.Typer(
    help="Definitions of every kind (定义): export a directory, plan, apply; history, diff.",
    no_args_is_help=True,
)


@app.command("export")
def export_command(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="written as DIR/<kind>/<name>.yaml")],
    as_json: JsonOption = False,
) -> None:
    """Write every live definition of every kind to a directory (to keep the configuration in git)."""
    exported = ctx.obj.container.registry.export()
    written, removed = write_directory(directory, exported)
    counts = {kind: len(bodies) for kind, bodies in exported.items()}
    if as_json:
        print_json({"directory": str(directory), "files": written, "removed": removed, "kinds": counts})
        return
    shown = ", ".join(f"{k} {n}" for k, n in counts.items())
    console.print(f"wrote {written} definitions to {directory}: {shown}", highlight=False)
    if removed:
        console.print(f"removed {removed} file(s) of definitions no longer live", highlight=False)


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    directory: Path,
    diff: DiffOption = True,
    as_json: JsonOption = False,
) -> None:
    """What applying a directory would change, with the diff of each change; nothing is written."""
    plan = ctx.obj.container.registry.plan(read_directory(directory))
    print_plan(plan, as_json=as_json, diff=diff)


@app.command("apply")
def apply_command(
    ctx: typer.Context,
    directory: Path,
    diff: DiffOption = False,
    as_json: JsonOption = False,
) -> None:
    """Apply a directory: every change in one transaction (kinds in dependency order), or one approval
    request holding them all when definitions.apply needs approval."""
    done = ctx.obj.container.registry.apply(ctx.obj.principal, read_directory(directory))
    print_plan(done, as_json=as_json, diff=diff)


@app.command("import")
def import_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="a definitions file: `indicators` and `tags` lists")],
    apply: Annotated[
        bool, typer.Option("--apply", help="write the changes (default: only the plan)")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show what importing a definitions file (the tag library's format) would change; with --apply,
    apply it through the registry."""
    text = path.read_text(encoding="utf-8")
    registry = ctx.obj.container.registry
    if apply:
        print_plan(apply_import(registry=registry, principal=ctx.obj.principal, text=text), as_json=as_json)
    else:
        print_plan(plan_import(registry=registry, text=text), as_json=as_json)


@app.command("dry-run")
def dry_run_command(
    ctx: typer.Context,
    path: Path,
    sample: Annotated[int, typer.Option(min=1, help="customers to compute on")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Check a definitions file's indicators and tags and compute them on a random sample; nothing is
    written."""
    indicators, tags = parse_yaml(path.read_text(encoding="utf-8"))
    with console.status(f"dry run on {sample:,} customers …"):
        result = dry_run(env=ctx.obj.container, indicators=indicators, tags=tags, sample=sample)
    if as_json:
        print_json(result)
        return
    typer.echo(f"{result['business_date']}: {result['sample']:,} customers sampled")
    for name, summary in result["indicators"].items():
        shown = {k: v for k, v in summary.items() if k != "top_values"}
        typer.echo(f"  indicator {name}: {shown}")
    for name, summary in result["tags"].items():
        typer.echo(f"  tag {name}: coverage {summary['coverage']:.1%} {summary['distribution']}")


@app.command("list")
def list_command(ctx: typer.Context, kind: str, as_json: JsonOption = False) -> None:
    """Every live definition of a kind (indicator, tag, segment, template, journey)."""
    bodies = ctx.obj.container.registry.list(kind)
    if as_json:
        print_json(bodies)
        return
    table = new_table("name", "title")
    for name, body in bodies.items():
        table.add_row(name, str(body.get("title", "")))
    print_table(table)


@app.command("get")
def get_command(
    ctx: typer.Context,
    kind: str,
    name: str,
    version: Annotated[int | None, typer.Option(min=1, help="an older version")] = None,
    as_json: JsonOption = False,
) -> None:
    """One definition as YAML (the newest live version, or the given one)."""
    found = ctx.obj.container.registry.get(kind, name, version)
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    typer.echo(f"# {kind} {name} version {found.version} by {found.actor} at {_when(found.created_at)}")
    typer.echo(yaml_text(found.body), nl=False)


@app.command("history")
def history_command(ctx: typer.Context, kind: str, name: str, as_json: JsonOption = False) -> None:
    """Every version of one definition: who saved it and when (deleted marks a deletion)."""
    versions = ctx.obj.container.registry.history(kind, name)
    if as_json:
        print_json([v.model_dump(mode="json") for v in versions])
        return
    table = new_table("version", "by", "at", "")
    for v in versions:
        table.add_row(str(v.version), v.actor, _when(v.created_at), "deleted" if v.body is None else "")
    print_table(table)


@app.command("diff")
def diff_command(
    ctx: typer.Context,
    kind: str,
    name: str,
    path: Annotated[Path, typer.Argument(help="a YAML file holding the definition's body")],
    as_json: JsonOption = False,
) -> None:
    """What saving a file's body as this definition would change in its live version."""
    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError(f"{path}: not valid YAML: {exc}") from None
    text = ctx.obj.container.registry.diff(kind, name, body)
    if as_json:
        print_json({"kind": kind, "name": name, "diff": text})
        return
    typer.echo(text or "no change", nl=not text)


@app.command("delete")
def delete_command(ctx: typer.Context, kind: str, name: str) -> None:
    """Delete a definition its domain allows to go (nothing may still read it)."""
    ctx.obj.container.registry.delete(ctx.obj.principal, kind, name)
    typer.echo(f"deleted {kind} {name}")


def print_plan(plan: PlanRead, *, as_json: bool, diff: bool = False) -> None:
    """A plan or an apply: each change, its diff when asked, and the counts (or the approval request)."""
    if as_json:
        print_json(plan.model_dump(mode="json"))
        return
    changes = [i for i in plan.items if i.action in ("create", "update")]
    if changes:
        table = new_table("action", "kind", "name", "live version")
        for item in changes:
            table.add_row(item.action, item.kind, item.name, str(item.live_version or "—"))
        print_table(table)
    if diff:
        for item in changes:
            typer.echo(item.diff, nl=False)
    counts = {
        a: sum(1 for i in plan.items if i.action == a) for a in ("create", "update", "unchanged", "absent")
    }
    summary = f"{counts['create']} to create, {counts['update']} to update, {counts['unchanged']} unchanged"
    if counts["absent"]:
        summary += f", {counts['absent']} live but not in the directory (kept)"
    if not isinstance(plan, ApplyRead):
        typer.echo(f"plan: {summary}")
    elif plan.pending_approval is not None:
        typer.echo(f"nothing written yet ({summary}); {pending_text(plan.pending_approval)}")
    else:
        typer.echo(f"applied: {summary}")


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
