"""`touchpoint analytics …` — behaviour analytics for scripts and schedulers (the shape is kept stable)."""

from __future__ import annotations

import contextlib
import re
from typing import Annotated, Any, TypeVar, cast

import typer
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from rich.table import Table

from touchpoint.analytics.distribution import distribution
from touchpoint.analytics.funnel import funnel, save_funnel_segment
from touchpoint.analytics.model import FunnelQuery, RetentionQuery
from touchpoint.analytics.paths import paths
from touchpoint.analytics.retention import retention, save_retention_segment
from touchpoint.analytics.trend import UNITS, Unit, event_trend
from touchpoint.cli.days import FromOption, ToOption, parse_day
from touchpoint.cli.output import (
    console,
    fmt,
    fmt_change,
    fmt_money,
    fmt_share,
    new_table,
    print_json,
    print_table,
)
from touchpoint.core.errors import ValidationError, pydantic_faults
from touchpoint.segments.model import PropertyFilter

M = TypeVar("M", bound=BaseModel)
JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
WhereOption = Annotated[
    list[str] | None, typer.Option("--where", help="event property filter such as amount>=1000; repeatable")
]
app = typer.Typer(
    help="Behaviour analytics (行为分析): funnels, retention, event trends.", no_args_is_help=True
)


@app.command("funnel")
def funnel_command(
    ctx: typer.Context,
    steps: Annotated[str, typer.Option(help="comma-separated events, 2 to 20")],
    window: Annotated[str, typer.Option(help="conversion window: 30m, 12h, 7d or 5td")],
    start: FromOption,
    end: ToOption,
    mode: Annotated[str, typer.Option(help="ordered, strict or unordered")] = "ordered",
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="exclude EVENT (whole funnel) or EVENT:A-B (between steps A and B); repeatable"),
    ] = None,
    by: Annotated[str | None, typer.Option(help="break down by PROPERTY, attribute:NAME or tag:NAME")] = None,
    top: Annotated[int, typer.Option(help="groups kept in a breakdown (the rest: 其他)")] = 10,
    save_segment: Annotated[
        str | None, typer.Option("--save-segment", help="save the customers of --step as this static segment")
    ] = None,
    step: Annotated[int | None, typer.Option(help="with --save-segment: the step (1-based)")] = None,
    who: Annotated[str, typer.Option(help="with --save-segment: dropped or reached")] = "dropped",
    as_json: JsonOption = False,
) -> None:
    """Customers reaching each step of a funnel, with conversions and times between steps."""
    query = _validated(
        FunnelQuery,
        {
            "steps": [{"event": e.strip()} for e in steps.split(",") if e.strip()],
            "window": window,
            "start": parse_day(ctx, start),
            "end": parse_day(ctx, end),
            "mode": mode,
            "exclusions": [_exclusion(text) for text in exclude or []],
            "by": by,
            "top": top,
        },
    )
    env = ctx.obj.container
    if save_segment is not None:
        if step is None or who not in ("dropped", "reached"):
            raise typer.BadParameter("--save-segment needs --step K and --who dropped|reached")
        saved = save_funnel_segment(
            env=env,
            principal=ctx.obj.principal,
            query=query,
            step=step,
            who="reached" if who == "reached" else "dropped",
            name=save_segment,
        )
        _print_saved(saved, as_json)
        return
    result = funnel(env=env, query=query)
    if as_json:
        print_json(result)
        return
    for group in [{"group": "全部 · all", "steps": result["steps"]}, *result.get("breakdown", [])]:
        print_table(_funnel_table(group["group"], group["steps"]))


def _funnel_table(title: str, steps: list[dict[str, Any]]) -> Table:
    numbers = ("客户 customers", "环比 vs prev", "总体 vs first", "用时 median")
    table = new_table("步骤 step", *numbers, title=title, numeric=numbers)
    for k, step in enumerate(steps, start=1):
        median = step["median_seconds_from_previous"]
        table.add_row(
            f"{k}. {step['event']}",
            fmt(step["customers"]),
            fmt_share(step["conversion_from_previous"]),
            fmt_share(step["conversion_from_first"]),
            "-" if median is None else _duration(median),
        )
    return table


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _exclusion(text: str) -> dict[str, object]:
    """`EVENT` or `EVENT:A-B` as an exclusion step."""
    event, _, span = text.partition(":")
    if not span:
        return {"event": event.strip()}
    after, _, before = span.partition("-")
    if not (after.strip().isdigit() and before.strip().isdigit()):
        raise typer.BadParameter(f"--exclude {text!r}: write EVENT or EVENT:A-B with step numbers A < B")
    return {"event": event.strip(), "after": int(after), "before": int(before)}


def _print_saved(saved: dict[str, object], as_json: bool) -> None:
    if as_json:
        print_json(saved)
        return
    console.print(f"{saved['name']}: {saved['size']:,} customers saved as a static segment", highlight=False)


@app.command("events")
def events_command(
    ctx: typer.Context,
    event: Annotated[str, typer.Option(help="the event")],
    start: FromOption,
    end: ToOption,
    by: Annotated[
        str | None, typer.Option(help="group by an event PROPERTY, attribute:NAME or tag:NAME")
    ] = None,
    unit: Annotated[str, typer.Option(help="day, week, month or trading_day")] = "day",
    top: Annotated[int, typer.Option(help="groups kept (the rest: 其他)")] = 10,
    measure: Annotated[str | None, typer.Option(help="sum:PROPERTY, avg:PROPERTY or max:PROPERTY")] = None,
    where: WhereOption = None,
    compare_from: Annotated[
        str | None, typer.Option("--compare-from", help="compare with as long a period from this day")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Events, customers and events per customer by Beijing day (or week, month, trading day)."""
    result = event_trend(
        env=ctx.obj.container,
        event=event,
        start=parse_day(ctx, start),
        end=parse_day(ctx, end),
        by=by,
        unit=_unit(unit),
        top=top,
        measure=measure,
        compare_from=parse_day(ctx, compare_from) if compare_from else None,
        where=_filters(where),
    )
    if as_json:
        print_json(result)
        return
    print_table(_trend_table(result))
    if "comparison" in result:
        comparison = result["comparison"]
        changes = ", ".join(
            f"{_TREND_WORDS.get(k, k)} {fmt_change(v)}" for k, v in comparison["change"].items()
        )
        console.print(f"对比 vs {comparison['from']} ~ {comparison['to']}: {changes}", highlight=False)


_TREND_WORDS = {"count": "events", "customers": "customers", "per_customer": "per customer", "value": "value"}


def _trend_table(result: dict[str, Any]) -> Table:
    """One row per period (and group), then the period's total; the measure's column only when asked."""
    grouped = result.get("by") is not None
    measure = result.get("measure")
    numbers = ("事件 events", "客户 customers", "人均 per customer", *([f"{measure}"] if measure else []))
    headers = ("日期 date", *(["分组 group"] if grouped else []), *numbers)
    table = new_table(*headers, title=result["event"], numeric=numbers)
    rows = [*result["series"], {"date": "合计 total", **result["total"]}]
    for row in rows:
        table.add_row(
            str(row["date"]),
            *([str(row.get("group", ""))] if grouped else []),
            fmt(row["count"]),
            fmt(row["customers"]),
            fmt(row["per_customer"]),
            *([fmt_money(row.get("value"))] if measure else []),
        )
    return table


def _filters(texts: list[str] | None) -> list[PropertyFilter]:
    """`amount>=1000`, `fund_type=股票型`, `channel!=app` as event property filters (numbers as numbers)."""
    filters = []
    for text in texts or []:
        found = re.fullmatch(r"\s*([^=!<>\s]+)\s*(>=|<=|!=|=|>|<)\s*(.*?)\s*", text)
        if found is None:
            raise typer.BadParameter(f"--where {text!r}: write PROPERTY=VALUE (or !=, >, >=, <, <=)")
        name, op, raw = found.groups()
        value: object = raw
        with contextlib.suppress(ValueError):
            value = float(raw) if "." in raw else int(raw)
        filters.append(_validated(PropertyFilter, {"property": name, "op": op, "value": value}))
    return filters


def _validated(model: type[M], body: dict[str, Any]) -> M:
    """The model built from options; a fault becomes an error naming the option's field, not a traceback."""
    try:
        return model.model_validate(body)
    except PydanticError as exc:
        raise ValidationError(pydantic_faults(exc, root=model.__name__)) from None


def _unit(text: str) -> Unit:
    if text not in UNITS:
        raise typer.BadParameter(f"--unit {text!r}: choose {', '.join(UNITS)}")
    return cast(Unit, text)


@app.command("retention")
def retention_command(
    ctx: typer.Context,
    start_event: Annotated[
        str, typer.Option("--start-event", help="the event that puts a customer in a cohort")
    ],
    return_event: Annotated[str, typer.Option("--return-event", help="the event that counts as coming back")],
    start: FromOption,
    end: ToOption,
    periods: Annotated[int, typer.Option(help="periods after the start period")] = 7,
    unit: Annotated[str, typer.Option(help="day, week or month")] = "day",
    first_time: Annotated[
        bool, typer.Option("--first-time", help="only each customer's first period")
    ] = False,
    save_segment: Annotated[
        str | None, typer.Option("--save-segment", help="save one cell's customers as this static segment")
    ] = None,
    cohort: Annotated[str | None, typer.Option(help="with --save-segment: the cohort's first day")] = None,
    offset: Annotated[int, typer.Option(help="with --save-segment: periods after the start (0: all)")] = 0,
    as_json: JsonOption = False,
) -> None:
    """The cohort triangle: per start period, its size and how many came back in each later period."""
    if unit not in ("day", "week", "month"):
        raise typer.BadParameter(f"--unit {unit!r}: choose day, week or month")
    query = _validated(
        RetentionQuery,
        {
            "start_event": start_event,
            "return_event": return_event,
            "start": parse_day(ctx, start),
            "end": parse_day(ctx, end),
            "periods": periods,
            "unit": unit,
            "first_time": first_time,
        },
    )
    env = ctx.obj.container
    if save_segment is not None:
        if cohort is None:
            raise typer.BadParameter("--save-segment needs --cohort YYYY-MM-DD (and --offset K)")
        saved = save_retention_segment(
            env=env,
            principal=ctx.obj.principal,
            query=query,
            cohort=parse_day(ctx, cohort),
            offset=offset,
            name=save_segment,
        )
        _print_saved(saved, as_json)
        return
    result = retention(env=env, **dict(query))
    if as_json:
        print_json(result)
        return
    offsets = tuple(f"+{k}" for k in range(1, result["periods"] + 1))
    numbers = ("人数 size", *offsets)
    table = new_table("批次 cohort", *numbers, numeric=numbers)
    for row in result["cohorts"]:
        size = row["size"]
        rates = [fmt_share(n / size) if size and n is not None else "-" for n in row["retained"]]
        table.add_row(str(row["start"]), fmt(size), *rates)
    print_table(table)


@app.command("distribution")
def distribution_command(
    ctx: typer.Context,
    event: Annotated[str, typer.Option(help="the event")],
    start: FromOption,
    end: ToOption,
    where: WhereOption = None,
    as_json: JsonOption = False,
) -> None:
    """Customers by how many times they did the event (1, 2, 3–5, 6–10, …)."""
    result = distribution(
        env=ctx.obj.container,
        event=event,
        start=parse_day(ctx, start),
        end=parse_day(ctx, end),
        where=_filters(where),
    )
    if as_json:
        print_json(result)
        return
    total = sum(bucket["customers"] for bucket in result["buckets"])
    numbers = ("客户 customers", "占比 share")
    table = new_table("次数 times", *numbers, title=result["event"], numeric=(*numbers, "次数 times"))
    for bucket in result["buckets"]:
        share = bucket["customers"] / total if total else None
        table.add_row(str(bucket["times"]), fmt(bucket["customers"]), fmt_share(share))
    print_table(table)


@app.command("paths")
def paths_command(
    ctx: typer.Context,
    start: FromOption,
    end: ToOption,
    from_event: Annotated[str | None, typer.Option("--from-event", help="paths after this event")] = None,
    to_event: Annotated[str | None, typer.Option("--to-event", help="paths leading to this event")] = None,
    steps: Annotated[int, typer.Option(help="events per path, 2 to 10")] = 5,
    limit: Annotated[int, typer.Option(help="heaviest links to keep")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Sankey data of what customers do after (or before) an event, within 30-minute sessions."""
    result = paths(
        env=ctx.obj.container,
        start=parse_day(ctx, start),
        end=parse_day(ctx, end),
        from_event=from_event,
        to_event=to_event,
        steps=steps,
        limit=limit,
    )
    if as_json:
        print_json(result)
        return
    # A node id is `step:event`; the step shows how far into the path the link is.
    table = new_table("从 from", "到 to", "会话 sessions", numeric=("会话 sessions",))
    for link in result["links"]:
        table.add_row(str(link["source"]), str(link["target"]), fmt(link["value"]))
    print_table(table)
