"""`touchpoint mot|task|kpi …` — moments of truth (关键时刻), the advisor workbench (服务任务) and the
service-process KPIs (服务考核)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, cast

import typer

from touchpoint.cli.days import parse_day
from touchpoint.cli.output import console, fmt, fmt_utc, new_table, print_json, print_table

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
FromText = Annotated[str, typer.Option("--from", help="first day: YYYY-MM-DD, today, -30d, -5td …")]
ToText = Annotated[str, typer.Option("--to", help="last day (inclusive)")]
mot_app = typer.Typer(
    help="MOT rules (关键时刻): the library, evaluation, firings, statistics.", no_args_is_help=True
)
task_app = typer.Typer(
    help="Advisor tasks (服务任务): list, show, claim, assign, complete; guidance.", no_args_is_help=True
)
kpi_app = typer.Typer(help="Campaign and service KPIs (活动效果, 服务考核).", no_args_is_help=True)


def _period(ctx: typer.Context, start: str, end: str) -> tuple[date, date]:
    return parse_day(ctx, start), parse_day(ctx, end)


# MOT rules -------------------------------------------------------------------------------------------------


@mot_app.command("list")
def mot_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every rule: detector kind, class, owner, SLA, times and firings in the last 30 days."""
    from touchpoint.moments.reads import rule_summaries

    rules = rule_summaries(env=ctx.obj.container, principal=ctx.obj.principal)
    if as_json:
        print_json(rules)
        return
    table = new_table(
        "#",
        "rule",
        "title",
        "kind",
        "class",
        "owner",
        "sla",
        "at",
        "on",
        "fired 30d",
        title="关键时刻 · MOT rules",
        numeric=("fired 30d",),
    )
    for r in rules:
        table.add_row(
            fmt(r["catalogue"]),
            r["name"],
            r["title"],
            r["kind"],
            r["classification"],
            r["owner"],
            r["sla"],
            " ".join(r["times"]) or "event",
            "yes" if r["enabled"] else "no",
            fmt(r["fired_30d"]),
        )
    print_table(table)


@mot_app.command("show")
def mot_show(ctx: typer.Context, name: str, as_json: JsonOption = False) -> None:
    """One rule's definition."""
    from touchpoint.moments.service import get_rule

    rule = get_rule(env=ctx.obj.container, name=name)
    body = rule.model_dump(mode="json")
    if as_json:
        print_json(body)
        return
    for key, value in body.items():
        console.print(f"{key}: {value}", highlight=False)


@mot_app.command("install")
def mot_install(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Install or update the shipped rule library (23 rules of DOMAIN.md §2.1; needs the tag library)."""
    from touchpoint.moments.service import install_library

    done = install_library(registry=ctx.obj.container.registry, principal=ctx.obj.principal)
    if as_json:
        print_json(done.model_dump(mode="json"))
        return
    held = " (held for approval)" if done.pending_approval else ""
    console.print(f"{done.changes} rule(s) created or updated{held}", highlight=False)


@mot_app.command("run")
def mot_run(
    ctx: typer.Context,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="only these rules (repeatable)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate now the condition and calendar rules whose times have come today (as the worker does)."""
    from touchpoint.moments.service import evaluate_due

    result = evaluate_due(env=ctx.obj.container, only=rule)
    if as_json:
        print_json(result)
        return
    for slot in result["evaluated"]:
        console.print(f"evaluated {slot}", highlight=False)
    for name, count in sorted(result["fired"].items()):
        console.print(f"{name}: {count} new firing(s)", highlight=False)
    for name, error in sorted(result["errors"].items()):
        console.print(f"{name}: {error}", highlight=False)
    if not result["evaluated"]:
        console.print(
            "nothing due: every slot that has come today was evaluated on today's data", highlight=False
        )


@mot_app.command("firings")
def mot_firings(
    ctx: typer.Context,
    rule: Annotated[str | None, typer.Option(help="one rule")] = None,
    customer: Annotated[str | None, typer.Option(help="one customer number")] = None,
    start: FromText = "-30d",
    end: ToText = "today",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Firings newest first (customer numbers masked)."""
    from touchpoint.moments.reads import list_firings

    first, last = _period(ctx, start, end)
    found = list_firings(
        env=ctx.obj.container,
        principal=ctx.obj.principal,
        rule=rule,
        customer_no=customer,
        start=first,
        end=last,
        limit=limit,
    )
    if as_json:
        print_json(found)
        return
    table = new_table(
        "fired (UTC)", "rule", "customer", "occurrence", "due (UTC)", "task", title="触发 · firings"
    )
    for f in found:
        table.add_row(
            fmt_utc(f["fired_at"]),
            f["rule"],
            f["customer_no"],
            f["occurrence"],
            fmt_utc(f["due_at"]),
            f["task_id"] or "",
        )
    print_table(table)


@mot_app.command("stats")
def mot_stats(
    ctx: typer.Context, start: FromText = "-30d", end: ToText = "today", as_json: JsonOption = False
) -> None:
    """Per rule: fired, served (task done or message sent) and served within the SLA."""
    from touchpoint.moments.reads import rule_stats

    first, last = _period(ctx, start, end)
    found = rule_stats(env=ctx.obj.container, principal=ctx.obj.principal, start=first, end=last)
    if as_json:
        print_json(found)
        return
    table = new_table(
        "rule",
        "fired",
        "served",
        "on time",
        "served %",
        "on time %",
        title=f"{first} … {last}",
        numeric=("fired", "served", "on time", "served %", "on time %"),
    )
    for r in found:
        table.add_row(
            r["rule"],
            fmt(r["fired"]),
            fmt(r["served"]),
            fmt(r["on_time"]),
            _pct(r["served_rate"]),
            _pct(r["on_time_rate"]),
        )
    print_table(table)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@task_app.command("guidance")
def task_guidance(
    ctx: typer.Context,
    segment: Annotated[
        str | None, typer.Option(help="rank a segment's members (default: your own book)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: JsonOption = False,
) -> None:
    """策略引导: customers ranked by a next best action, each suggestion with its reason."""
    from touchpoint.moments.guidance import next_best_actions

    found = next_best_actions(
        env=ctx.obj.container, principal=ctx.obj.principal, segment=segment, limit=limit
    )
    if as_json:
        print_json(found)
        return
    table = new_table("customer", "score", "suggestion", "action", title="策略引导 · next best actions")
    for entry in found:
        for n, s in enumerate(entry["suggestions"]):
            action = " ".join(f"{k}={v}" for k, v in s["action"].items() if v is not None)
            table.add_row(entry["customer_no"] if n == 0 else "", fmt(s["score"]), s["reason"], action)
    print_table(table)


# Advisor tasks ---------------------------------------------------------------------------------------------


@task_app.command("list")
def task_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="open, done or cancelled; --all for any")] = "open",
    every: Annotated[bool, typer.Option("--all", help="tasks of every status")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="only open tasks past their due time")] = False,
    escalated: Annotated[bool, typer.Option("--escalated", help="only escalated tasks")] = False,
    advisor: Annotated[str | None, typer.Option(help="one advisor id")] = None,
    rule: Annotated[str | None, typer.Option(help="one MOT rule")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Tasks due soonest first, overdue ones flagged."""
    from touchpoint.tasks.service import list_tasks

    page = list_tasks(
        env=ctx.obj.container,
        principal=ctx.obj.principal,
        status=None if every else status,
        overdue=overdue,
        escalated=True if escalated else None,
        advisor_id=advisor,
        rule=rule,
        limit=limit,
    )
    if as_json:
        print_json(page)
        return
    table = new_table(
        "task",
        "due (UTC)",
        "priority",
        "customer",
        "advisor",
        "title",
        "status",
        title=f"服务任务 · {page['total']} task(s)",
    )
    for t in page["tasks"]:
        due = fmt_utc(t["due_at"]) + (" overdue 已逾期" if t["overdue"] else "")
        table.add_row(
            t["id"],
            due,
            t["priority"],
            t["customer_no"],
            t["advisor_id"] or "queue",
            t["title"],
            t["outcome"] or t["status"],
        )
    print_table(table)


@task_app.command("show")
def task_show(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """One task with its talking points and suitability facts."""
    from touchpoint.tasks.service import get_task

    _print_task(get_task(env=ctx.obj.container, principal=ctx.obj.principal, task_id=task_id), as_json)


@task_app.command("claim")
def task_claim(ctx: typer.Context, task_id: str, as_json: JsonOption = False) -> None:
    """Take an open task to work on it."""
    from touchpoint.tasks.service import claim_task

    _print_task(claim_task(env=ctx.obj.container, principal=ctx.obj.principal, task_id=task_id), as_json)


@task_app.command("assign")
def task_assign(
    ctx: typer.Context,
    task_id: str,
    advisor: Annotated[str, typer.Option(help="advisor id")],
    as_json: JsonOption = False,
) -> None:
    """Give an open task to an advisor."""
    from touchpoint.tasks.service import assign_task

    done = assign_task(
        env=ctx.obj.container, principal=ctx.obj.principal, task_id=task_id, advisor_id=advisor
    )
    _print_task(done, as_json)


@task_app.command("complete")
def task_complete(
    ctx: typer.Context,
    task_id: str,
    outcome: Annotated[str, typer.Option(help="reached, not_reached, declined, converted or follow_up")],
    note: Annotated[str, typer.Option(help="what was said")] = "",
    follow_up_on: Annotated[str | None, typer.Option(help="the day to call again (follow_up)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record the outcome and close the task (a journey waiting for it goes on)."""
    from pydantic import ValidationError as PydanticError

    from touchpoint.tasks.model import OUTCOMES, TaskComplete
    from touchpoint.tasks.service import complete_task

    if outcome not in OUTCOMES:
        raise typer.BadParameter(
            f"{outcome!r} is not an outcome: choose {', '.join(OUTCOMES)}", param_hint="--outcome"
        )
    day = parse_day(ctx, follow_up_on) if follow_up_on else None
    try:
        result = TaskComplete.model_validate({"outcome": outcome, "note": note, "follow_up_on": day})
    except PydanticError as exc:
        raise typer.BadParameter(exc.errors()[0]["msg"], param_hint="--outcome") from None
    _print_task(
        complete_task(env=ctx.obj.container, principal=ctx.obj.principal, task_id=task_id, result=result),
        as_json,
    )


def _print_task(task: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(task)
        return
    for key in (
        "id",
        "title",
        "customer_no",
        "advisor_id",
        "branch_id",
        "priority",
        "status",
        "due_at",
        "overdue",
        "reason",
        "talking_points",
        "suitability",
        "facts",
        "outcome",
        "note",
        "follow_up_on",
        "escalated_at",
    ):
        console.print(f"{key}: {task.get(key)}", highlight=False)


# KPIs ------------------------------------------------------------------------------------------------------


@kpi_app.command("service")
def kpi_service(
    ctx: typer.Context,
    start: FromText = "-30d",
    end: ToText = "today",
    by: Annotated[str, typer.Option(help="advisor, branch or rule")] = "advisor",
    within_days: Annotated[int, typer.Option(min=1, max=90, help="conversion window after a task")] = 7,
    as_json: JsonOption = False,
) -> None:
    """Dispatch coverage, completion, on-time, reach and conversion rates per advisor, branch or rule."""
    from touchpoint.tasks.kpis import GroupBy, service_kpis

    if by not in ("advisor", "branch", "rule"):
        raise typer.BadParameter("choose advisor, branch or rule", param_hint="--by")
    first, last = _period(ctx, start, end)
    found = service_kpis(
        env=ctx.obj.container,
        principal=ctx.obj.principal,
        start=first,
        end=last,
        group_by=cast(GroupBy, by),
        within_days=within_days,
    )
    if as_json:
        print_json(found)
        return
    headers = ("dispatched", "coverage", "completion", "on time", "reach", "conversion")
    table = new_table(by, *headers, title=f"服务考核 · {first} … {last}", numeric=headers)
    for row in [*found["rows"], found["total"]]:
        table.add_row(
            row["group"],
            fmt(row["dispatched"]),
            _pct(row["coverage_rate"]),
            _pct(row["completion_rate"]),
            _pct(row["on_time_rate"]),
            _pct(row["reach_rate"]),
            _pct(row["conversion_rate"]),
        )
    print_table(table)


@kpi_app.command("campaigns")
def kpi_campaigns(
    ctx: typer.Context, start: FromText = "-30d", end: ToText = "today", as_json: JsonOption = False
) -> None:
    """Per journey its treated customers' reach, open, click and conversion rates and the conversion uplift
    against its hold-out with the 95 % interval (活动效果; runs entered in the period)."""
    from touchpoint.journeys.campaigns import campaign_kpis

    first, last = _period(ctx, start, end)
    found = campaign_kpis(env=ctx.obj.container, principal=ctx.obj.principal, start=first, end=last)
    if as_json:
        print_json(found)
        return
    headers = ("entered", "sent", "reach", "click", "conversion", "uplift", "95% interval")
    table = new_table("journey", *headers, title=f"活动效果 · {first} … {last}", numeric=headers)
    for row in found["rows"]:
        uplift = row["uplift"] or {}
        low, high = uplift.get("ci_low"), uplift.get("ci_high")
        table.add_row(
            row["name"],
            fmt(row["entered"]),
            fmt(row["sent"]),
            _pct(row["reach_rate"]),
            _pct(row["click_rate"]),
            _pct(row["conversion_rate"]),
            _points(uplift.get("absolute")),
            "-" if low is None or high is None else f"{_points(low)} … {_points(high)}",
        )
    total = found["total"]
    table.add_row("total", fmt(total["entered"]), fmt(total["sent"]), _pct(total["reach_rate"]), *["-"] * 4)
    print_table(table)


def _points(value: float | None) -> str:
    """A difference of two rates in percentage points."""
    return "-" if value is None else f"{value * 100:+.1f} pp"
