"""`touchpoint demo` — generate the synthetic brokerage and serve it."""

from __future__ import annotations

from typing import Annotated

import typer

from touchpoint.bootstrap import describe_deployment
from touchpoint.cli.output import console, fmt, new_table, print_json, print_table, stage_progress
from touchpoint.cli.serve import ensure_port_free, serve
from touchpoint.governance import approvals
from touchpoint.ingest import TABLES, data_status


def demo_command(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(min=10, help="number of customers")] = 5000,
    days: Annotated[int, typer.Option(min=5, help="calendar days of history")] = 90,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same brokerage")] = 7,
    reset: Annotated[bool, typer.Option("--reset", help="clear the analytical store and regenerate")] = False,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="generate, print the summary and exit")
    ] = False,
    host: Annotated[str | None, typer.Option(help="address to bind")] = None,
    port: Annotated[
        int | None, typer.Option(help="port to serve on (default 8000, or TOUCHPOINT_PORT)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Generate a demo brokerage (once per data directory and parameters), print a summary, then serve."""
    # Imported here: the generator pulls in Faker, which would slow every other command's start-up.
    from touchpoint.demo import DemoParams
    from touchpoint.demo.accounts import DEMO_ACCOUNTS, DEMO_PASSWORD, ensure_demo_accounts
    from touchpoint.demo.runs import ensure_demo, ensure_demo_history, ensure_demo_journeys, ensure_demo_tags

    container = ctx.obj.container
    if not no_serve:
        # Say so now, not after minutes of generating: the port is taken.
        ensure_port_free(host or container.settings.host, port or container.settings.port)
    params = DemoParams(customers=customers, days=days, seed=seed)
    with stage_progress(enabled=not as_json) as bar:
        outcome = ensure_demo(
            env=container, principal=ctx.obj.principal, params=params, reset=reset, progress=bar
        )
    with console.status("计算指标与标签 · computing indicators and tags …"):
        computed = ensure_demo_tags(env=container, registry=container.registry, principal=ctx.obj.principal)
        journeys = ensure_demo_journeys(env=container, principal=ctx.obj.principal)
    with stage_progress(enabled=not as_json) as bar:
        replayed = ensure_demo_history(
            env=container, claim_hours=container.settings.task_claim_hours, progress=bar
        )
    ensure_demo_accounts(env=container, principal=ctx.obj.principal)
    # As `touchpoint init` does: from here on a publication, an activation, a definitions apply, a live
    # segment's rule and a large export wait for comp.sun (合规) to approve them.
    gated = approvals.switch_all_on(container.ops, clock=container.clock, principal=ctx.obj.principal)
    status = data_status(analytics=container.analytics, ops=container.ops)
    accounts = {
        "users": {a.username: a.role for a in DEMO_ACCOUNTS},
        "password": DEMO_PASSWORD,
    }
    summary = _summary(status, generated=outcome.generated) | {
        "computed": computed,
        "journeys": journeys,
        "replayed": replayed,
        "accounts": accounts,
        "approvals": [p.action for p in gated if p.required],
    }
    if as_json:
        print_json(summary | {"home": describe_deployment(container)["home"]})
    else:
        _print_summary(summary)
    if not no_serve:
        serve(container, host, port)


def _summary(status: dict[str, object], *, generated: bool) -> dict[str, object]:
    tables = status["tables"]
    assert isinstance(tables, dict)
    dates = [t["first_date"] for t in tables.values() if t["first_date"]]
    last = [t["last_date"] for t in tables.values() if t["last_date"]]
    return {
        "generated": generated,
        "rows": {name: _current_rows(name, info) for name, info in tables.items()},
        "first_date": min(dates) if dates else None,
        "last_date": max(last) if last else None,
    }


def _current_rows(name: str, info: dict[str, object]) -> object:
    # Customers and products are daily snapshots: their current count is the latest snapshot's.
    return info["latest_rows"] if TABLES[name].partition_by == "snapshot" else info["rows"]


def _print_summary(summary: dict[str, object]) -> None:
    rows = summary["rows"]
    assert isinstance(rows, dict)
    head = (
        "演示券商已生成 · demo brokerage generated"
        if summary["generated"]
        else "演示券商已存在 · demo already present"
    )
    console.print(head, style="bold")
    table = new_table("table · 表", "rows · 行数", numeric=("rows · 行数",))
    for name in TABLES:
        table.add_row(name, fmt(rows.get(name, 0)))
    print_table(table)
    console.print(f"  date range  {summary['first_date']} … {summary['last_date']}", highlight=False)
    journeys = summary.get("journeys")
    if isinstance(journeys, list) and journeys:
        console.print(f"  旅程 journeys published: {', '.join(journeys)}", highlight=False)
    accounts = summary.get("accounts")
    if isinstance(accounts, dict):
        users = " ".join(f"{name} ({role})" for name, role in accounts["users"].items())
        console.print(f"  登录 sign in as: {users}", highlight=False)
        console.print(f"  演示密码 demo password: {accounts['password']}", highlight=False)
    gated = summary.get("approvals")
    if isinstance(gated, list) and gated:
        console.print(
            f"  审批 approval required for: {', '.join(gated)} (comp.sun approves)", highlight=False
        )
    computed = summary.get("computed")
    if isinstance(computed, dict):
        console.print(
            f"  指标 indicators {computed['indicators']} · 标签 tags {computed['tags']} "
            f"computed for {computed['business_date']}",
            highlight=False,
        )
