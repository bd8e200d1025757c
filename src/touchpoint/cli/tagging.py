"""`touchpoint indicator|tag|library|compute|customer …` — the tag-management CLI."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from touchpoint.cli.definitions import print_plan
from touchpoint.cli.output import console, fmt, fmt_share, new_table, print_json, print_table, stage_progress
from touchpoint.indicators import delete_indicator, get_indicator, list_indicators
from touchpoint.tags.customer360 import customer_view
from touchpoint.tags.definitions_io import apply_import, default_library
from touchpoint.tags.inspect import catalogue, member_list, tag_detail
from touchpoint.tags.service import (
    compute,
    delete_tag,
    indicator_dependents,
    latest_data_date,
    list_tags,
    read_imported_csv,
    recent_compute_runs,
    upload_imported,
)

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
indicator_app = typer.Typer(help="Indicators (指标): list, show, delete.", no_args_is_help=True)
tag_app = typer.Typer(help="Tags (标签): list, tree, show, upload, delete.", no_args_is_help=True)
library_app = typer.Typer(help="The default brokerage tag library.", no_args_is_help=True)
customer_app = typer.Typer(help="Customer 360° view.", no_args_is_help=True)


@indicator_app.command("list")
def indicator_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every indicator with its source, aggregation and window."""
    found = list_indicators(env=ctx.obj.container)
    if as_json:
        print_json([d.model_dump(mode="json", exclude_none=True) for d in found.values()])
        return
    table = new_table("name", "title", "category", "source", "aggregation", "window", "unit")
    for d in found.values():
        table.add_row(
            d.name,
            d.title,
            d.category,
            d.source + (f":{d.event}" if d.event else ""),
            d.aggregation,
            d.window.label() if d.window else f"= {d.formula}",
            d.unit,
        )
    print_table(table)


@indicator_app.command("show")
def indicator_show(ctx: typer.Context, name: str, as_json: JsonOption = True) -> None:
    """One indicator's definition and the tags that read it."""
    c = ctx.obj.container
    body = get_indicator(env=c, name=name).model_dump(mode="json", exclude_none=True)
    print_json(body | {"read_by": indicator_dependents(env=c, indicator=name)})


@indicator_app.command("delete")
def indicator_delete(ctx: typer.Context, name: str) -> None:
    """Delete an indicator that no tag reads."""
    c = ctx.obj.container
    dependents = indicator_dependents(env=c, indicator=name)
    delete_indicator(env=c, principal=ctx.obj.principal, name=name, dependents=dependents)
    typer.echo(f"deleted indicator {name}")


@tag_app.command("list")
def tag_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every tag with its category and kind."""
    found = list_tags(env=ctx.obj.container)
    if as_json:
        print_json([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in found.values()])
        return
    table = new_table("name", "title", "category", "kind", "values", "sensitive")
    for t in found.values():
        table.add_row(
            t.name, t.title, t.category, t.kind, " / ".join(t.possible_values()), "yes" if t.sensitive else ""
        )
    print_table(table)


@tag_app.command("tree")
def tag_tree(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The tag catalogue as a category tree."""
    tree = catalogue(env=ctx.obj.container)
    if as_json:
        print_json(tree)
        return
    for node in tree:
        _print_node(node, 0)


def _print_node(node: dict[str, object], depth: int) -> None:
    console.print("  " * depth + f"{node['name']}/")
    for tag in node["tags"]:  # type: ignore[attr-defined]
        console.print("  " * (depth + 1) + f"{tag['name']}  {tag['title']}  ({tag['kind']})")
    for child in node["children"]:  # type: ignore[attr-defined]
        _print_node(child, depth + 1)


@tag_app.command("show")
def tag_show(ctx: typer.Context, name: str, as_json: JsonOption = False) -> None:
    """Coverage, distribution, history, lineage and model metrics of one tag."""
    detail = tag_detail(env=ctx.obj.container, name=name)
    if as_json:
        print_json(detail)
        return
    definition = detail["definition"]
    console.print(
        f"{definition['name']}  {definition['title']}  [{definition['category']}]  {definition['kind']}"
        + ("  sensitive" if definition.get("sensitive") else "")
    )
    if definition.get("description"):
        console.print(definition["description"])
    console.print(f"owner {definition['owner']}, updated {definition['schedule']}")
    if definition.get("params"):
        console.print("params: " + ", ".join(f"{k}={v}" for k, v in definition["params"].items()))
    console.print(
        f"business date {detail['business_date']}, "
        f"coverage {detail['coverage']:.1%} of {detail['population']:,}"
    )
    table = new_table("value", "customers", "share", numeric=("customers", "share"))
    for row in detail["distribution"]:
        table.add_row(row["value"], f"{row['count']:,}", f"{row['share']:.1%}")
    print_table(table)
    lineage = detail["lineage"]
    console.print(
        "reads: "
        + ", ".join(
            [f"indicator {i}" for i in lineage["indicators"]]
            + [f"attribute {a}" for a in lineage["attributes"]]
        )
    )
    dates = [h["date"] for h in detail["history"]]
    if dates:
        console.print(f"history: {len(dates)} date(s), {dates[0]} … {dates[-1]}")
    metrics = detail["model_metrics"]
    if metrics:
        console.print(
            f"model: {metrics.get('algorithm')}, hold-out AUC {fmt(metrics.get('auc_holdout'), digits=3)}, "
            f"{fmt(metrics.get('train_rows', 0))} training rows, "
            f"positive rate {fmt_share(metrics.get('positive_rate'))}"
            if "auc_holdout" in metrics
            else f"model: {metrics.get('error')}"
        )


@tag_app.command("upload")
def tag_upload(ctx: typer.Context, name: str, path: Path, as_json: JsonOption = False) -> None:
    """Replace an imported tag's list from a CSV with columns customer_no,value."""
    rows = read_imported_csv(path.read_bytes())
    result = upload_imported(env=ctx.obj.container, principal=ctx.obj.principal, tag=name, rows=rows)
    if as_json:
        print_json(result)
        return
    typer.echo(f"{result['tag']}: {result['rows']} customers")
    unknown = result["unknown_customers"]
    if unknown:
        typer.echo(f"{len(unknown)} not in the customers snapshot: {', '.join(unknown[:10])}")


@tag_app.command("members")
def tag_members(
    ctx: typer.Context,
    name: str,
    value: str,
    day: Annotated[
        datetime | None, typer.Option("--date", formats=["%Y-%m-%d"], help="business date")
    ] = None,
    limit: Annotated[int, typer.Option(min=0, help="customer numbers to list")] = 20,
    as_json: JsonOption = False,
) -> None:
    """How many customers carry a tag value, and the first of them."""
    result = member_list(
        principal=ctx.obj.principal,
        env=ctx.obj.container,
        name=name,
        value=value,
        day=day.date() if day else None,
        limit=limit,
    )
    if as_json:
        print_json(result)
        return
    typer.echo(f"{name}={value} on {result['business_date']}: {result['count']:,} customers")
    for number in result["customers"]:
        typer.echo(f"  {number}")


@tag_app.command("delete")
def tag_delete(ctx: typer.Context, name: str) -> None:
    """Delete a tag (its past snapshots stay)."""
    delete_tag(env=ctx.obj.container, principal=ctx.obj.principal, name=name)
    typer.echo(f"deleted tag {name}")


@library_app.command("install")
def library_install(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Install or update the default brokerage library (indicators and tags)."""
    container = ctx.obj.container
    done = apply_import(registry=container.registry, principal=ctx.obj.principal, text=default_library())
    print_plan(done, as_json=as_json)


def compute_command(
    ctx: typer.Context,
    day: Annotated[
        datetime | None, typer.Option("--date", formats=["%Y-%m-%d"], help="business date")
    ] = None,
    runs: Annotated[bool, typer.Option("--runs", help="list recent runs instead of computing")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="store the result even if missing inputs move many tags")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Compute every indicator and tag for a business date (default: the latest date with data)."""
    c = ctx.obj.container
    if runs:
        _print_runs(recent_compute_runs(env=c), as_json=as_json)
        return
    business_date = day.date() if day else latest_data_date(env=c)
    with stage_progress(enabled=not as_json) as bar:
        result = compute(
            env=c,
            principal=ctx.obj.principal,
            day=business_date,
            force=force,
            range_rows=c.settings.compute_range_rows,
            progress=bar,
        )
    if as_json:
        print_json(result)
    else:
        typer.echo(
            f"{result['business_date']}: {result['customers']:,} customers, "
            f"{result['indicators']} indicators, "
            f"{result['tags']} tags"
        )


def _print_runs(runs: list[dict[str, object]], *, as_json: bool) -> None:
    if as_json:
        print_json(runs)
        return
    table = new_table("date", "status", "started (UTC)", "seconds", "detail", numeric=("seconds",))
    for run in runs:
        stats = run["stats"] if isinstance(run["stats"], dict) else {}
        detail = run["error"] or (
            f"{stats.get('customers', 0):,} customers · {stats.get('indicators')} indicators · "
            f"{stats.get('tags')} tags"
            if stats
            else ""
        )
        started = datetime.fromisoformat(str(run["started_at"]))
        finished = datetime.fromisoformat(str(run["finished_at"])) if run["finished_at"] else None
        took = f"{(finished - started).total_seconds():.1f}" if finished else ""
        table.add_row(
            str(run["business_date"]), str(run["status"]), f"{started:%Y-%m-%d %H:%M}", took, str(detail)
        )
    print_table(table)


@customer_app.command("show")
def customer_show(ctx: typer.Context, customer_no: str, as_json: JsonOption = False) -> None:
    """Attributes, identities, tags, indicators, assets, holdings, trades and events of one customer."""
    view = customer_view(env=ctx.obj.container, principal=ctx.obj.principal, customer_no=customer_no)
    if as_json:
        print_json(view)
        return
    attributes = view["attributes"]
    console.print(
        f"{customer_no}  {attributes.get('name')}  uid {view['uid']}  {attributes.get('branch_id')}  "
        f"risk {attributes.get('risk_level')}"
    )
    for section in ("tags", "indicators"):
        values = view[section].get("values", {})
        table = new_table(section[:-1], "value", title=f"{section} ({view[section].get('business_date')})")
        for key, value in values.items():
            if value is not None:
                table.add_row(key, fmt(value))
        print_table(table)
    console.print(f"{len(view['trades'])} recent trades, {len(view['events'])} recent events")
