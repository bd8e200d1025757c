"""`touchpoint journey …` — define, publish, run and inspect journeys (客户旅程)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import Progress
from rich.table import Table

from touchpoint.cli.days import DAY_HELP, FromOption, ToOption, parse_day
from touchpoint.cli.output import (
    console,
    fmt,
    fmt_share,
    fmt_utc,
    new_table,
    pending_text,
    print_json,
    print_table,
)
from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.governance.approvals import ApprovalRead
from touchpoint.journeys.checks import validate
from touchpoint.journeys.model import JourneyDef, journey_schema
from touchpoint.journeys.runtime import admit
from touchpoint.journeys.service import (
    RUNS_PAGE_MAX,
    customer_runs,
    get_journey,
    list_journeys,
    list_runs,
    parse_journey,
    publish,
    resume_run,
    save_journey,
    set_status,
    statistics,
    stop_run,
    stuck,
)
from touchpoint.journeys.simulate import simulate

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
app = typer.Typer(help="Journeys (客户旅程): define, publish, pause, inspect.", no_args_is_help=True)


def read_definition(path: Path) -> Any:
    """A journey file: JSON, or YAML (.yaml/.yml)."""
    text = path.read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValidationError(
            f"{path}: not {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'} ({exc})"
        ) from None


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of a journey definition."""
    print_json(journey_schema())


@app.command("validate")
def validate_command(ctx: typer.Context, path: Path, as_json: JsonOption = False) -> None:
    """Check a journey file without saving it."""
    journey = parse_journey(read_definition(path))
    validate(env=ctx.obj.container, journey=journey)
    if as_json:
        print_json({"name": journey.name, "valid": True})
        return
    console.print(f"{journey.name}: valid · 校验通过")


@app.command("save")
def save_command(ctx: typer.Context, path: Path, as_json: JsonOption = False) -> None:
    """Save a journey file as the journey's next version (a draft until published)."""
    journey = parse_journey(read_definition(path))
    version = save_journey(env=ctx.obj.container, principal=ctx.obj.principal, journey=journey)
    if as_json:
        print_json({"name": journey.name, "version": version})
        return
    console.print(f"{journey.name}: saved as version {version}")


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every journey with its status and versions."""
    rows = list_journeys(env=ctx.obj.container)
    if as_json:
        print_json(rows)
        return
    table = new_table("name", "title", "status", "live", "latest")
    for row in rows:
        live = row["live_version"]
        table.add_row(
            row["name"], row["title"], row["status"], f"v{live}" if live else "-", f"v{row['latest_version']}"
        )
    print_table(table)


@app.command("show")
def show_command(
    ctx: typer.Context,
    name: str,
    version: Annotated[int | None, typer.Option(help="a saved version (default: the newest)")] = None,
    yaml_out: Annotated[bool, typer.Option("--yaml", help="print as YAML")] = False,
) -> None:
    """Print a journey's definition (JSON, or YAML to keep in version control)."""
    body = get_journey(env=ctx.obj.container, name=name, version=version).model_dump(mode="json")
    if yaml_out:
        typer.echo(yaml.safe_dump(body, allow_unicode=True, sort_keys=False))
        return
    print_json(body)


@app.command("publish")
def publish_command(
    ctx: typer.Context,
    name: str,
    in_flight: Annotated[str, typer.Option(help="runs on older versions: keep, move or end")] = "keep",
    node_map: Annotated[
        list[str] | None, typer.Option("--map", help="with --in-flight move: OLD=NEW node ids; repeatable")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Make the newest saved version live."""
    if in_flight not in ("keep", "move", "end"):
        raise typer.BadParameter(f"--in-flight {in_flight!r}: choose keep, move or end")
    pairs = dict(_pair(text) for text in node_map or [])
    result = publish(
        env=ctx.obj.container,
        principal=ctx.obj.principal,
        name=name,
        in_flight="move" if in_flight == "move" else "end" if in_flight == "end" else "keep",
        node_map=pairs,
    )
    _done(result, as_json)


def _pair(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old or not new:
        raise typer.BadParameter(f"--map {text!r}: write OLD=NEW")
    return old.strip(), new.strip()


def _status_command(to: str, doc: str) -> Any:
    def command(ctx: typer.Context, name: str, as_json: JsonOption = False) -> None:
        _done(set_status(env=ctx.obj.container, principal=ctx.obj.principal, name=name, to=to), as_json)

    command.__doc__ = doc
    return command


app.command("pause")(_status_command("paused", "Pause a live journey: runs stay where they are."))
app.command("resume")(_status_command("live", "Resume a paused journey: runs go on from where they are."))
app.command("stop")(_status_command("stopped", "Stop a journey: every run ends; nothing more is sent."))
app.command("archive")(_status_command("archived", "Archive a stopped or draft journey."))


def _done(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    if result.get("pending_approval"):
        console.print(pending_text(ApprovalRead.model_validate(result["pending_approval"])), highlight=False)
        return
    console.print(", ".join(f"{k}: {v}" for k, v in result.items()), highlight=False)


@app.command("enter")
def enter_command(
    ctx: typer.Context,
    name: str,
    customer: Annotated[list[str], typer.Option(help="customer number; repeatable")],
    payload: Annotated[str, typer.Option(help="entry payload as JSON")] = "{}",
    as_json: JsonOption = False,
) -> None:
    """Admit customers to a live journey (an API-entry journey, or by hand)."""
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--payload is not JSON ({exc})") from None
    env = ctx.obj.container
    _done(admit(env=env, name=name, customers=customer, payloads=dict.fromkeys(customer, body)), as_json)


@app.command("stats")
def stats_command(ctx: typer.Context, name: str, as_json: JsonOption = False) -> None:
    """Per-node statistics and goal conversion against the hold-out."""
    result = statistics(env=ctx.obj.container, name=name)
    if as_json:
        print_json(result)
        return
    console.print(f"{result['name']}: {_runs_entered(result)}", highlight=False)
    print_table(_node_table(result["nodes"]))
    _print_goal(result["goal"])


@app.command("report")
def report_command(
    ctx: typer.Context,
    name: str,
    start: Annotated[
        str | None, typer.Option("--from", help="first day of entry (default: every run)")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="last day of entry")] = None,
    as_json: JsonOption = False,
) -> None:
    """The measured outcome: funnel per variant and hold-out, uplift with its 95 % interval and p-value,
    assets change and net inflow per customer over the attribution window, by day."""
    from touchpoint.journeys.report import journey_report

    first = parse_day(ctx, start) if start else None
    last = parse_day(ctx, end) if end else None
    found = journey_report(
        env=ctx.obj.container, principal=ctx.obj.principal, name=name, start=first, end=last
    )
    if as_json:
        print_json(found)
        return
    stages = ("entered", "sent", "delivered", "clicked", "goal")
    table = new_table(
        "group", *stages, "conv.", "ΔAUM/cust", "net in/cust", title=f"{name} · 效果报告", numeric=stages
    )
    for group, g in found["groups"].items():
        rate = "-" if g["conversion_rate"] is None else f"{g['conversion_rate'] * 100:.1f}%"
        table.add_row(
            group,
            *(fmt(g[s]) for s in stages),
            rate,
            fmt(g["aum_change_per_customer"]),
            fmt(g["net_inflow_per_customer"]),
        )
    print_table(table)
    u = found["uplift"]
    if u["absolute"] is None:
        console.print("uplift: no hold-out runs to compare with", highlight=False)
        return
    console.print(
        f"uplift {u['absolute'] * 100:+.2f} pp "
        f"(95% CI {fmt(u['ci_low'], digits=4)} … {fmt(u['ci_high'], digits=4)}), "
        f"relative {fmt(u['relative'], digits=3)}, p = {fmt(u['p_value'], digits=4)}",
        highlight=False,
    )


def _runs_entered(result: dict[str, Any]) -> str:
    """`36 runs entered · 进入旅程 (waiting_event 30, done 6)`: the journey's runs by status."""
    by_status = ", ".join(f"{k} {fmt(v)}" for k, v in result["runs"].items())
    return f"{fmt(result['entered'])} runs entered · 进入旅程" + (f" ({by_status})" if by_status else "")


def _node_table(nodes: list[dict[str, Any]]) -> Table:
    """Per node: runs that entered it and wait there, how they left (outcomes) and its actions by status."""
    table = new_table(
        "node", "type", "entered", "waiting", "outcomes", "actions", numeric=("entered", "waiting")
    )
    for node in nodes:
        table.add_row(
            node["node"],
            node["type"],
            fmt(node["entered"]),
            fmt(node["waiting"]),
            ", ".join(f"{k} {fmt(v)}" for k, v in node["outcomes"].items()),
            ", ".join(f"{k} {fmt(v)}" for k, v in node["actions"].items()),
        )
    return table


def _print_goal(goal: dict[str, Any]) -> None:
    """Goal conversion of treated runs against the hold-out, as percentages with the counts behind them."""

    def rate(group: dict[str, Any]) -> str:
        return f"{fmt_share(group['rate'])} ({fmt(group['converted'])} of {fmt(group['runs'])})"

    console.print(
        f"goal · 目标转化: treated {rate(goal['treated'])} · hold-out 对照组 {rate(goal['holdout'])}",
        highlight=False,
    )


@app.command("runs")
def runs_command(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="a journey: list its runs in bulk")] = None,
    customer: Annotated[
        str | None, typer.Option(help="or: every run of one customer, with its effects")
    ] = None,
    node: Annotated[str | None, typer.Option(help="only runs at this node")] = None,
    status: Annotated[
        str | None, typer.Option(help="only runs with this status (active, waiting, done, converted, …)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=RUNS_PAGE_MAX, help="runs per page")] = 100,
    cursor: Annotated[str | None, typer.Option(help="the next_cursor of the previous page")] = None,
    as_json: JsonOption = False,
) -> None:
    """A journey's runs in bulk (`runs NAME [--node N] [--status S]`, paged, customer numbers masked), or a
    customer's runs (`runs --customer C…`): where each is, why, what it waits for, and each effect's outcome
    (sent, skipped by a channel policy with the reason, delayed, failed)."""
    env = ctx.obj.container
    if (name is None) == (customer is None):
        raise typer.BadParameter("give a journey NAME or --customer, not both")
    if name is not None:
        page = list_runs(env=env, name=name, node=node, status=status, limit=limit, cursor=cursor)
        if as_json:
            print_json(page)
            return
        _print_run_page(page)
        return
    runs = customer_runs(env=env, principal=ctx.obj.principal, customer_no=str(customer))
    if as_json:
        print_json(runs)
        return
    _print_customer_runs(runs)


def _print_customer_runs(runs: list[dict[str, Any]]) -> None:
    """One table of the runs (where each is and why), then one of their effects with each outcome."""
    table = new_table("run", "journey", "v", "status", "node", "last step", "wake at (UTC)", numeric=("v",))
    effects = new_table("run", "node", "action", "status", "reason")
    for run in runs:
        why = run["steps"][-1]["outcome"] if run["steps"] else "entered"
        table.add_row(
            run["run"],
            run["journey"],
            fmt(run["version"]),
            run["status"],
            run["node"] or "-",
            why,
            fmt_utc(run["wake_at"]),
        )
        for effect in run["effects"]:
            effects.add_row(
                run["run"], effect["node"], effect["kind"], effect["status"], effect["reason"] or ""
            )
    print_table(table)
    if effects.row_count:
        print_table(effects)


def _print_run_page(page: dict[str, Any]) -> None:
    table = new_table(
        "run", "customer", "v", "status", "node", "entered (UTC)", "wake at (UTC)", "hold-out", numeric=("v",)
    )
    for run in page["runs"]:
        table.add_row(
            run["run"],
            run["customer_no"],
            fmt(run["version"]),
            run["status"],
            run["node"] or "-",
            fmt_utc(run["entered_at"]),
            fmt_utc(run["wake_at"]),
            "yes" if run["holdout"] else "",
        )
    print_table(table)
    if page["next_cursor"]:
        console.print(f"more: --cursor {page['next_cursor']}", highlight=False)


@app.command("stuck")
def stuck_command(
    ctx: typer.Context,
    resume: Annotated[bool, typer.Option("--resume", help="make each stuck run due now")] = False,
    as_json: JsonOption = False,
) -> None:
    """Runs past their wake-at that no worker has taken (and, with --resume, wake them)."""
    env = ctx.obj.container
    found = stuck(env=env)
    if resume:
        for run in found:
            resume_run(env=env, principal=ctx.obj.principal, run_id=run["run"])
    if as_json:
        print_json({"stuck": found, "resumed": len(found) if resume else 0})
        return
    console.print(
        f"{fmt(len(found))} stuck run(s) · 卡住的实例{' resumed · 已唤醒' if resume else ''}", highlight=False
    )
    if not found:
        return
    # No customer column: a run is acted on by its id, and a run list shows customer numbers only masked.
    table = new_table("run", "journey", "node", "wake at (UTC)", "errors", numeric=("errors",))
    for run in found:
        table.add_row(
            run["run"], run["journey"], run["node"] or "-", fmt_utc(run["wake_at"]), fmt(run["errors"])
        )
    print_table(table)


@app.command("stop-run")
def stop_run_command(ctx: typer.Context, run: str, as_json: JsonOption = False) -> None:
    """End one run."""
    _done(stop_run(env=ctx.obj.container, principal=ctx.obj.principal, run_id=run), as_json)


@app.command("simulate")
def simulate_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE|NAME", help=SOURCE_HELP)],
    start: FromOption,
    end: ToOption,
    sample: Annotated[int, typer.Option(help="paths to show")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Replay a period's recorded events and data through a journey (log channel, virtual clock)."""
    first, last = parse_day(ctx, start), parse_day(ctx, end)  # the options before the journey is looked up
    journey = _journey_of(ctx, source)
    result = simulate(
        env=ctx.obj.container,
        journey=journey,
        start=first,
        end=last,
        sample=sample,
        on_event=None if as_json else _progress_bar(),
    )
    _print_walk(result, as_json)


@app.command("test")
def walk_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE|NAME", help=SOURCE_HELP)],
    customer: Annotated[str, typer.Option(help="the customer to walk through")],
    start: Annotated[str, typer.Option("--from", help=f"first day (default -30d): {DAY_HELP}")] = "-30d",
    end: Annotated[str, typer.Option("--to", help=f"last day (default today): {DAY_HELP}")] = "today",
    payload: Annotated[str, typer.Option(help="entry payload as JSON (API entry)")] = "{}",
    as_json: JsonOption = False,
) -> None:
    """Walk one customer through a journey step by step, time fast-forwarded."""
    env = ctx.obj.container
    first, last = parse_day(ctx, start), parse_day(ctx, end)
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--payload is not JSON ({exc})") from None
    journey = _journey_of(ctx, source)
    result = simulate(
        env=env, journey=journey, start=first, end=last, customers=[customer], payload=body, sample=1
    )
    _print_walk(result, as_json)


SOURCE_HELP = "a journey file (YAML or JSON), or the name of a saved journey (its newest version)"


def _journey_of(ctx: typer.Context, source: str) -> JourneyDef:
    """The journey in the file `source`, or else the newest saved version of the journey named `source`."""
    path = Path(source)
    if path.exists():
        return parse_journey(read_definition(path))
    try:
        return get_journey(env=ctx.obj.container, name=source)
    except NotFoundError:
        raise NotFoundError(
            f"{source}: no such file, and no saved journey of that name (文件不存在，也没有同名旅程)"
        ) from None


def _progress_bar() -> Callable[[int, int], None]:
    """A callback that draws the replay's progress on the terminal (cleared when the replay ends)."""
    bar = Progress(transient=True, console=console)
    task = bar.add_task("replaying events", total=None)

    def advance(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)
        if done >= total:
            bar.stop()

    return advance


def _print_walk(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    console.print(
        f"{fmt(result['events_replayed'])} events replayed · 回放事件, {_runs_entered(result)}",
        highlight=False,
    )
    print_table(_node_table(result["nodes"]))
    _print_goal(result["goal"])
    for path in result["paths"]:
        held = " (hold-out)" if path["holdout"] else ""
        table = new_table(
            "at", "node", "what", "detail", title=f"{path['customer_no']} · {path['status']}{held}"
        )
        for step in path["steps"]:
            table.add_row(step["at"], step["node"], step["outcome"], step["detail"] or "")
        for message in path["messages"]:
            table.add_row("", message["node"], "✉ message", message["content"])
        for effect in path["effects"]:
            when = effect["at"] or (f"due {effect['due_at']}" if effect["due_at"] else "")
            table.add_row(
                when, effect["node"], f"{effect['kind']} {effect['status']}", effect["reason"] or ""
            )
        print_table(table)
    for note in result.get("notes", []):
        console.print(f"note: {note}", highlight=False)
    for walked in result.get("customers", []):
        verdict = "entered" if walked["entered"] else "did not enter"
        console.print(f"{walked['customer_no']}: {verdict}", style="bold", highlight=False)
        for reason in walked["why"]:
            console.print(f"  · {reason}", highlight=False)
