import bisect
from datetime import UTC, date, datetime, time, timedelta

import exchange_calendars
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from touchpoint.core.calendar import TradingCalendar

CAL = TradingCalendar()


def test_known_holidays_and_weekends() -> None:
    assert CAL.is_trading_day(date(2026, 1, 5))  # Monday
    assert not CAL.is_trading_day(date(2026, 1, 3))  # Saturday
    assert not CAL.is_trading_day(date(2025, 10, 1))  # National Day
    assert not CAL.is_trading_day(date(2025, 1, 29))  # Spring Festival
    assert CAL.is_trading_day(date(2025, 10, 9))


def test_nth_trading_day_after_skips_the_national_day_week() -> None:
    # 2025-09-30 is the last session before the National Day holiday; trading resumes on 10-09.
    assert CAL.add_trading_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert CAL.add_trading_days(date(2025, 10, 9), -1) == date(2025, 9, 30)
    assert CAL.add_trading_days(date(2025, 10, 4), 0) == date(2025, 10, 9)
    assert CAL.next_trading_day(date(2025, 10, 1)) == date(2025, 10, 9)
    assert CAL.previous_trading_day(date(2025, 10, 1)) == date(2025, 9, 30)


def test_business_date_is_beijing_date() -> None:
    late_utc = datetime(2026, 1, 5, 17, 30, tzinfo=UTC)  # 01:30 on the 6th in Beijing
    assert CAL.business_date(late_utc) == date(2026, 1, 6)
    assert CAL.to_utc(date(2026, 1, 6), time(16, 0)) == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)


def test_past_the_recorded_year_weekdays_minus_configured_holidays() -> None:
    day = date(CAL.recorded_until.year + 1, 2, 1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    assert CAL.is_trading_day(day)
    assert not CAL.is_trading_day(day + timedelta(days=6 - day.weekday()))  # that week's Sunday
    closed = TradingCalendar(extra_holidays=[day])
    assert not closed.is_trading_day(day)
    assert closed.next_trading_day(day - timedelta(days=1)) > day


def test_outside_the_calendar_is_an_error() -> None:
    with pytest.raises(ValueError, match="outside"):
        CAL.is_trading_day(date(1990, 1, 1))


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=date(2015, 1, 1), max_value=date(2026, 11, 30)),
    n=st.integers(min_value=-40, max_value=40),
)
def test_add_trading_days_agrees_with_counting_sessions(day: date, n: int) -> None:
    result = CAL.add_trading_days(day, n)
    assert CAL.is_trading_day(result)
    if n > 0:
        assert result > day
        assert CAL.count_trading_days(day, result) - (1 if CAL.is_trading_day(day) else 0) == n
    elif n < 0:
        assert result < day
        assert CAL.count_trading_days(result, day) - (1 if CAL.is_trading_day(day) else 0) == -n
    else:
        assert result >= day
        assert CAL.count_trading_days(day, result) == 1


def test_sessions_match_exchange_calendars_day_by_day() -> None:
    import exchange_calendars

    reference = exchange_calendars.get_calendar("XSHG")
    day = date(2024, 1, 1)
    while day <= date(2025, 12, 31):
        assert CAL.is_trading_day(day) == reference.is_session(day.isoformat()), day
        day += timedelta(days=1)


XSHG_SESSIONS = [s.date() for s in exchange_calendars.get_calendar("XSHG").sessions]


@settings(max_examples=200, deadline=None)
@example(day=date(2025, 10, 4), n=1)  # National Day: the last session is 09-30
@example(day=date(2025, 10, 9), n=3)  # 09-29, 09-30, 10-09; the weekend 09-27/28 rolls onto 09-29
@example(day=date(2026, 3, 2), n=1)  # a Monday: Saturday and Sunday roll onto it
@given(day=st.dates(date(2020, 2, 1), date(2026, 12, 1)), n=st.integers(1, 30))
def test_trailing_sessions_and_the_days_rolling_into_them(day: date, n: int) -> None:
    """Against exchange-calendars' XSHG sessions directly."""
    last_index = bisect.bisect_right(XSHG_SESSIONS, day) - 1
    first, last = CAL.trailing_sessions(day, n)
    assert (first, last) == (XSHG_SESSIONS[last_index - n + 1], XSHG_SESSIONS[last_index])
    assert CAL.on_or_before(day) == XSHG_SESSIONS[last_index]
    rolled_from = CAL.first_day_rolling_into(first)
    assert rolled_from == XSHG_SESSIONS[last_index - n] + timedelta(days=1)
    rolled = [rolled_from + timedelta(days=k) for k in range((first - rolled_from).days + 1)]
    assert {CAL.add_trading_days(d, 0) for d in rolled} == {first}


def test_the_horizon_warning_ends_once_the_next_years_closures_are_configured() -> None:
    plain = TradingCalendar()
    end = plain.recorded_until
    assert plain.horizon(end - timedelta(days=10)).warning
    configured = TradingCalendar(extra_holidays=[date(end.year + 1, 1, 1)])
    horizon = configured.horizon(end - timedelta(days=10))
    assert horizon.next_year_configured
    assert not horizon.warning
    assert horizon.days_left == 10
    assert horizon.next_year == end.year + 1
