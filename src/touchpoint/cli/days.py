"""Days on the command line: `YYYY-MM-DD`, `today`, `yesterday` or `-Nd`, as Beijing dates on the
deployment's clock (so a virtual clock moves them too)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated

import typer

DAY_HELP = "YYYY-MM-DD, today, yesterday or -Nd (N days before today), a Beijing date"
FromOption = Annotated[str, typer.Option("--from", help=f"first day: {DAY_HELP}")]
ToOption = Annotated[str, typer.Option("--to", help=f"last day (inclusive): {DAY_HELP}")]


def parse_day(ctx: typer.Context, text: str) -> date:
    """A Beijing date from YYYY-MM-DD, `today`, `yesterday` or `-Nd` (relative to the deployment's clock)."""
    container = ctx.obj.container
    today: date = container.calendar.business_date(container.clock.now())
    word = text.strip().lower()
    relative = re.fullmatch(r"-(\d{1,4})d", word)
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    if relative:
        return today - timedelta(days=int(relative.group(1)))
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date: write {DAY_HELP}") from None
