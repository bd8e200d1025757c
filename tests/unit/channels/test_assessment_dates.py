"""A risk assessment recorded as an instant is dated by its Beijing day, as the expiry counts days."""

from datetime import UTC, date, datetime

from touchpoint.channels.dispatcher import _as_date
from touchpoint.core.calendar import TradingCalendar

CALENDAR = TradingCalendar()


def test_an_evening_utc_instant_is_the_next_beijing_day() -> None:
    assert _as_date(datetime(2026, 3, 1, 16, 0, tzinfo=UTC), CALENDAR) == date(2026, 3, 2)
    assert _as_date(datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC), CALENDAR) == date(2026, 3, 1)


def test_dates_naive_instants_and_text() -> None:
    assert _as_date(date(2026, 3, 1), CALENDAR) == date(2026, 3, 1)
    assert _as_date(datetime(2026, 3, 1, 23, 0), CALENDAR) == date(2026, 3, 1)
    assert _as_date("2026-03-01T23:00:00", CALENDAR) == date(2026, 3, 1)
    assert _as_date("", CALENDAR) is None
    assert _as_date(None, CALENDAR) is None
