"""Days on the command line: `YYYY-MM-DD`, `today`, `yesterday`, `-Nd` or `-Ntd`, as Beijing dates on the
deployment's clock (so a virtual clock moves them too). The grammar is `core.durations.parse_day`, the one
the API reads; the command line also forgives case and surrounding spaces."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from touchpoint.core.durations import DAY_FORMS, DurationError, day_from_text

DAY_HELP = DAY_FORMS + ", a Beijing date"
FromOption = Annotated[str, typer.Option("--from", help=f"first day: {DAY_HELP}")]
ToOption = Annotated[str, typer.Option("--to", help=f"last day (inclusive): {DAY_HELP}")]


def parse_day(ctx: typer.Context, text: str) -> date:
    """A Beijing date from YYYY-MM-DD, `today`, `yesterday`, `-Nd` or `-Ntd` (relative to the deployment's
    clock); typer.BadParameter naming the text and the forms otherwise."""
    container = ctx.obj.container
    today: date = container.calendar.business_date(container.clock.now())
    try:
        return day_from_text(text.strip().lower(), today, container.calendar)
    except DurationError as exc:
        raise typer.BadParameter(str(exc)) from None
