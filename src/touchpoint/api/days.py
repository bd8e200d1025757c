"""Days in query strings, read as the CLI reads them: `YYYY-MM-DD`, `today`, `yesterday`, `-30d`, `-5td`.

One grammar (core/durations.py) for both entry points; a relative day is counted from the deployment's clock,
so a virtual clock moves it too. The OpenAPI document carries the pattern, so the console and a fuzzer know
the forms; a day that matches the pattern but is out of range (after 2100, before the first trading day)
answers 400 naming the parameter.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import Query

from touchpoint.bootstrap import Container
from touchpoint.core.durations import DAY_FORMS, DAY_PATTERN, DurationError, day_from_text
from touchpoint.core.errors import Fault, ValidationError

DayQuery = Annotated[
    str | None,
    Query(alias="date", pattern=DAY_PATTERN, description=f"a business date: {DAY_FORMS}"),
]


def resolve_day(c: Container, text: str | None, *, name: str = "date") -> date | None:
    """The Beijing date that a query parameter names (None when absent), today on the container's clock."""
    if text is None:
        return None
    today = c.calendar.business_date(c.clock.now())
    try:
        return day_from_text(text, today, c.calendar)
    except DurationError as exc:
        raise ValidationError(str(exc), faults=[Fault(loc=("query", name), msg=str(exc))]) from None


def resolve_period(c: Container, start: str | None, end: str | None, *, days: int = 30) -> tuple[date, date]:
    """The days a `from`/`to` pair names: to today and from `days` days before `to` by default; 400 when
    `from` is after `to`."""
    last = resolve_day(c, end, name="to") or c.calendar.business_date(c.clock.now())
    first = resolve_day(c, start, name="from") or last - timedelta(days=days - 1)
    if first > last:
        raise ValidationError(f"from {first} is after to {last}")
    return first, last
