"""`touchpoint analytics …` — behaviour analytics for scripts and schedulers (the shape is kept stable)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from touchpoint.analytics.distribution import distribution
from touchpoint.analytics.funnel import FunnelQuery, funnel
from touchpoint.analytics.paths import paths
from touchpoint.analytics.retention import retention
from touchpoint.analytics.trend import event_trend
from touchpoint.cli.output import console, print_json

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
DateOption = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Beijing date (inclusive)")]
app = typer.Typer(
    help="Behaviour analytics (行为分析): funnels, retention, event trends.", no_args_is_help=True
)


@app.command("funnel")
def funnel_command(
    ctx: typer.Context,
    steps: Annotated[str, typer.Option(help="comma-separated events, 2 to 20")],
    window: Annotated[str, typer.Option(help="conversion window: 30m, 12h, 7d or 5td")],
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first Beijing date")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last Beijing date")],
    mode: Annotated[str, typer.Option(help="ordered")] = "ordered",
    as_json: JsonOption = False,
) -> None:
    """Customers reaching each step of an ordered funnel, with conversions and times between steps."""
    query = FunnelQuery.model_validate(
        {
            "steps": [{"event": e.strip()} for e in steps.split(",") if e.strip()],
            "window": window,
            "start": start.date(),
            "end": end.date(),
            "mode": mode,
        }
    )
    result = funnel(env=ctx.obj.container.tag_env, query=query)
    if as_json:
        print_json(result)
        return
    for step in result["steps"]:
        console.print(
            f"{step['event']:<28} {step['customers']:>10,}  {step['conversion_from_first']:>7.1%}",
            highlight=False,
        )


@app.command("events")
def events_command(
    ctx: typer.Context,
    event: Annotated[str, typer.Option(help="the event")],
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first Beijing date")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last Beijing date")],
    by: Annotated[str | None, typer.Option(help="group by this event property")] = None,
    unit: Annotated[str, typer.Option(help="day, week or month")] = "day",
    as_json: JsonOption = False,
) -> None:
    """Events, customers and events per customer by Beijing day (or week, month), optionally grouped."""
    if unit not in ("day", "week", "month"):
        raise typer.BadParameter(f"--unit {unit!r}: choose day, week or month")
    result = event_trend(
        env=ctx.obj.container.tag_env,
        event=event,
        start=start.date(),
        end=end.date(),
        by=by,
        unit="week" if unit == "week" else "month" if unit == "month" else "day",
    )
    if as_json:
        print_json(result)
        return
    for row in result["series"]:
        group = f"  {row['group']}" if "group" in row else ""
        console.print(
            f"{row['date']}{group:<14} {row['count']:>10,} {row['customers']:>10,}", highlight=False
        )


@app.command("retention")
def retention_command(
    ctx: typer.Context,
    start_event: Annotated[
        str, typer.Option("--start-event", help="the event that puts a customer in a cohort")
    ],
    return_event: Annotated[str, typer.Option("--return-event", help="the event that counts as coming back")],
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first Beijing date")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last Beijing date")],
    periods: Annotated[int, typer.Option(help="periods after the start period")] = 7,
    unit: Annotated[str, typer.Option(help="day, week or month")] = "day",
    first_time: Annotated[
        bool, typer.Option("--first-time", help="only each customer's first period")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The cohort triangle: per start period, its size and how many came back in each later period."""
    if unit not in ("day", "week", "month"):
        raise typer.BadParameter(f"--unit {unit!r}: choose day, week or month")
    result = retention(
        env=ctx.obj.container.tag_env,
        start_event=start_event,
        return_event=return_event,
        start=start.date(),
        end=end.date(),
        periods=periods,
        unit="week" if unit == "week" else "month" if unit == "month" else "day",
        first_time=first_time,
    )
    if as_json:
        print_json(result)
        return
    for cohort in result["cohorts"]:
        size = cohort["size"]
        rates = " ".join(f"{n / size:>6.1%}" if size else "     -" for n in cohort["retained"])
        console.print(f"{cohort['start']} {size:>8,}  {rates}", highlight=False)


@app.command("distribution")
def distribution_command(
    ctx: typer.Context,
    event: Annotated[str, typer.Option(help="the event")],
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first Beijing date")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last Beijing date")],
    as_json: JsonOption = False,
) -> None:
    """Customers by how many times they did the event (1, 2, 3–5, 6–10, …)."""
    result = distribution(env=ctx.obj.container.tag_env, event=event, start=start.date(), end=end.date())
    if as_json:
        print_json(result)
        return
    for bucket in result["buckets"]:
        console.print(f"{bucket['times']:>8} {bucket['customers']:>10,}", highlight=False)


@app.command("paths")
def paths_command(
    ctx: typer.Context,
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first Beijing date")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last Beijing date")],
    from_event: Annotated[str | None, typer.Option("--from-event", help="paths after this event")] = None,
    to_event: Annotated[str | None, typer.Option("--to-event", help="paths leading to this event")] = None,
    steps: Annotated[int, typer.Option(help="events per path, 2 to 10")] = 5,
    limit: Annotated[int, typer.Option(help="heaviest links to keep")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Sankey data of what customers do after (or before) an event, within 30-minute sessions."""
    result = paths(
        env=ctx.obj.container.tag_env,
        start=start.date(),
        end=end.date(),
        from_event=from_event,
        to_event=to_event,
        steps=steps,
        limit=limit,
    )
    if as_json:
        print_json(result)
        return
    for link in result["links"]:
        console.print(f"{link['source']:<30} → {link['target']:<30} {link['value']:>8,}", highlight=False)
