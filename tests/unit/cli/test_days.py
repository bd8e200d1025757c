"""Days on the analytics command line: dates, today, yesterday and -Nd, on the clock, in Beijing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import typer

from touchpoint.cli.days import parse_day as _day
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import VirtualClock


def _ctx(at: datetime) -> typer.Context:
    container = SimpleNamespace(calendar=TradingCalendar(), clock=VirtualClock(at))
    return SimpleNamespace(obj=SimpleNamespace(container=container))  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("text", "want"),
    [("2026-03-05", date(2026, 3, 5)), ("today", date(2026, 3, 10)), ("yesterday", date(2026, 3, 9)),
     ("-30d", date(2026, 2, 8)), (" Today ", date(2026, 3, 10)), ("-1td", date(2026, 3, 9)),
     ("-5TD", date(2026, 3, 3))],
)  # fmt: skip
def test_days_are_beijing_dates_relative_to_the_clock(text: str, want: date) -> None:
    # 17:30 UTC on 9 March is already 10 March in Beijing.
    assert _day(_ctx(datetime(2026, 3, 9, 17, 30, tzinfo=UTC)), text) == want


@pytest.mark.parametrize(
    "text", ["2026-13-01", "last week", "-d", "30d", "9999-12-31", "-99999999999d", "-5h"]
)
def test_other_text_is_refused_naming_the_text(text: str) -> None:
    with pytest.raises(typer.BadParameter, match=re.escape(repr(text))):
        _day(_ctx(datetime(2026, 3, 9, tzinfo=UTC)), text)
