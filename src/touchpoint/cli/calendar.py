"""`touchpoint calendar` — trading days in the brokerage's calendar."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from touchpoint.cli.output import print_json

app = typer.Typer(help="Trading days (XSHG) in the brokerage time zone.", no_args_is_help=True)

DateArg = Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="a date, YYYY-MM-DD")]


@app.command("check")
def check(
    ctx: typer.Context,
    day: DateArg,
    offset: Annotated[
        int, typer.Option("--add", help="also show the N-th trading day after (before if < 0)")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Is DAY a trading day, and which trading day is N after it."""
    calendar = ctx.obj.container.calendar
    value = day.date()
    body = {
        "date": value.isoformat(),
        "is_trading_day": calendar.is_trading_day(value),
        "offset": offset,
        "trading_day_at_offset": calendar.add_trading_days(value, offset).isoformat(),
        "holidays_recorded_until": calendar.recorded_until.isoformat(),
    }
    if as_json:
        print_json(body)
        return
    verdict = "a trading day" if body["is_trading_day"] else "not a trading day"
    typer.echo(f"{value} is {verdict}; {offset} trading day(s) after: {body['trading_day_at_offset']}")
