"""Business time: the brokerage's time zone and the exchange trading calendar (XSHG).

exchange-calendars records Shanghai Stock Exchange holidays only a year or so ahead. Past its last recorded
year the calendar falls back to weekdays minus the holidays a brokerage configures, and says so through
`recorded_until`, so a rule that needs 2027 sessions keeps working once the operator adds the holidays.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_EXCHANGE = "XSHG"
_FALLBACK_YEARS = 5
HORIZON_WARNING_DAYS = 60


@dataclass(frozen=True)
class CalendarHorizon:
    """The end of the recorded closures as of one day, and whether to warn about it."""

    recorded_until: date
    days_left: int
    next_year: int
    next_year_configured: bool
    warning: bool


class TradingCalendar:
    """Trading days of an exchange seen from a brokerage time zone."""

    def __init__(
        self,
        timezone: str = DEFAULT_TIMEZONE,
        exchange: str = DEFAULT_EXCHANGE,
        extra_holidays: Iterable[date] = (),
    ) -> None:
        self.tz = ZoneInfo(timezone)
        self.exchange = exchange
        self.extra_holidays: tuple[date, ...] = tuple(sorted(set(extra_holidays)))
        recorded, fallback = _sessions(exchange, self.extra_holidays)
        self.recorded_until: date = date.fromordinal(recorded[-1])
        self._ordinals = recorded + fallback

    def horizon(self, today: date, warn_days: int = HORIZON_WARNING_DAYS) -> CalendarHorizon:
        """How far ahead the closures are known: a warning from `warn_days` before the last recorded session
        until the brokerage configures a closure of the following year (`extra_holidays`) — past that point
        trading days are weekdays only, and a T+2 deadline on the wrong day is a compliance incident."""
        next_year = self.recorded_until.year + 1
        configured = any(day.year >= next_year for day in self.extra_holidays)
        days_left = (self.recorded_until - today).days
        return CalendarHorizon(
            recorded_until=self.recorded_until,
            days_left=days_left,
            next_year=next_year,
            next_year_configured=configured,
            warning=not configured and days_left <= warn_days,
        )

    @property
    def first_day(self) -> date:
        """The earliest trading day this calendar knows."""
        return date.fromordinal(self._ordinals[0])

    @property
    def last_day(self) -> date:
        """The latest trading day this calendar knows (recorded or weekday fallback)."""
        return date.fromordinal(self._ordinals[-1])

    def business_date(self, instant: datetime) -> date:
        """The calendar date of `instant` in the brokerage time zone."""
        if instant.tzinfo is None:
            raise ValueError("instant must carry a time zone")
        return instant.astimezone(self.tz).date()

    def to_utc(self, day: date, at: time = time(0, 0)) -> datetime:
        """The UTC instant of local wall-clock time `at` on `day`."""
        return datetime.combine(day, at, tzinfo=self.tz).astimezone(UTC)

    def is_trading_day(self, day: date) -> bool:
        """True when the exchange is open on `day`."""
        self._check_range(day)
        i = bisect.bisect_left(self._ordinals, day.toordinal())
        return i < len(self._ordinals) and self._ordinals[i] == day.toordinal()

    def add_trading_days(self, day: date, n: int) -> date:
        """The n-th trading day after `day` (before it when n < 0); n = 0 rolls forward to a trading day."""
        self._check_range(day)
        ordinal = day.toordinal()
        if n >= 0:
            i = (
                bisect.bisect_right(self._ordinals, ordinal)
                if n > 0
                else bisect.bisect_left(self._ordinals, ordinal)
            )
            index = i + max(n - 1, 0)
        else:
            index = bisect.bisect_left(self._ordinals, ordinal) + n
        if not 0 <= index < len(self._ordinals):
            raise ValueError(f"{n} trading days from {day} falls outside the calendar")
        return date.fromordinal(self._ordinals[index])

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after `day`."""
        return self.add_trading_days(day, 1)

    def previous_trading_day(self, day: date) -> date:
        """The last trading day strictly before `day`."""
        return self.add_trading_days(day, -1)

    def on_or_before(self, day: date) -> date:
        """`day` when the exchange is open on it, else the last trading day before it."""
        return day if self.is_trading_day(day) else self.previous_trading_day(day)

    def trailing_sessions(self, day: date, n: int) -> tuple[date, date]:
        """The first and last of the `n` trading days that end with the last one on or before `day`."""
        last = self.on_or_before(day)
        return self.add_trading_days(last, -(n - 1)), last

    def first_day_rolling_into(self, session: date) -> date:
        """The first calendar date whose rows count for trading day `session` when a closed day's rows count
        for the next trading day: the day after the trading day before it."""
        return self.previous_trading_day(session) + timedelta(days=1)

    def trading_days(self, start: date, end: date) -> list[date]:
        """Every trading day in the closed range [start, end]."""
        lo = bisect.bisect_left(self._ordinals, start.toordinal())
        hi = bisect.bisect_right(self._ordinals, end.toordinal())
        return [date.fromordinal(o) for o in self._ordinals[lo:hi]]

    def count_trading_days(self, start: date, end: date) -> int:
        """How many trading days lie in the closed range [start, end]."""
        lo = bisect.bisect_left(self._ordinals, start.toordinal())
        hi = bisect.bisect_right(self._ordinals, end.toordinal())
        return max(hi - lo, 0)

    def _check_range(self, day: date) -> None:
        if not self.first_day <= day <= self.last_day:
            raise ValueError(f"{day} is outside the trading calendar ({self.first_day} – {self.last_day})")


@lru_cache(maxsize=8)
def _sessions(exchange: str, extra_holidays: tuple[date, ...]) -> tuple[list[int], list[int]]:
    import exchange_calendars  # slow to import; only needed once per process

    calendar = exchange_calendars.get_calendar(exchange)
    holidays = {d.toordinal() for d in extra_holidays}
    recorded = [ts.date().toordinal() for ts in calendar.sessions if ts.date().toordinal() not in holidays]
    start = date.fromordinal(recorded[-1]) + timedelta(days=1)
    end = date(start.year + _FALLBACK_YEARS, 12, 31)
    fallback = [
        o
        for o in range(start.toordinal(), end.toordinal() + 1)
        if date.fromordinal(o).weekday() < 5 and o not in holidays
    ]
    return recorded, fallback
