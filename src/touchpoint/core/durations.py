"""One duration grammar (时长) for the whole platform: `30m`, `12h`, `7d` calendar time and `5td` XSHG trading
days — funnel windows, segment windows and gaps, journey waits and goals, relative days (`-30d`, `today`) on
the command line and over HTTP all read it here.

A duration is a whole number from 1 followed by its unit, optionally after a `-` where the caller allows it
(an offset before a date). Nothing longer than ten years is a duration: a longer window is always a mistake,
and refusing it keeps every later date computation inside what `datetime` can hold. Bad text raises
`DurationError`, which names the text, is a `ValidationError` (HTTP 400, exit code) and a `ValueError` (so a
pydantic validator turns it into a 422 on the field).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, cast

from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.errors import ValidationError

Unit = Literal["m", "h", "d", "td"]
UNITS: tuple[Unit, ...] = ("m", "h", "d", "td")
MAX_CALENDAR = timedelta(days=3653)  # ten years, three of them leap years
MAX_TRADING_DAYS = 2520  # ten years of 252 sessions: more than XSHG ever opens in ten years
MAX_DIGITS = 9  # longer numbers are over the bound in every unit; also keeps int() cheap
_UNIT_SPAN = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_GRAMMAR = re.compile(r"(-?)([0-9]+)(td|m|h|d)")  # [0-9], not \\d: int() would take other scripts' digits
EXAMPLES = "30m, 12h, 7d or 5td"


def _up_to(limit: int) -> str:
    """A regular expression for the whole numbers 1 … `limit`, written without leading zeros."""
    digits = str(limit)
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        last = i == len(digits) - 1
        high = int(digit) if last else int(digit) - 1  # equal digits go on to the next position
        if high >= low:
            rest = len(digits) - i - 1
            span = str(low) if low == high else f"[{low}-{high}]"
            parts.append(digits[:i] + span + (f"[0-9]{{{rest}}}" if rest else ""))
    return "(" + "|".join(parts) + ")"


def _limit(unit: Unit) -> int:
    """The largest N of a duration in `unit` (ten years)."""
    if unit == "td":
        return MAX_TRADING_DAYS
    return MAX_CALENDAR // _UNIT_SPAN[unit]


def duration_pattern(units: tuple[Unit, ...] = UNITS, *, signed: bool = False) -> str:
    """The JSON Schema pattern of exactly the texts `parse_duration(text, signed=…, units=…)` accepts, bound
    included, so that a value the schema allows is never refused (and the other way round)."""
    numbers = "|".join(f"{_up_to(_limit(unit))}{unit}" for unit in units)
    return f"^{'-?' if signed else ''}({numbers})$"


class DurationError(ValidationError, ValueError):
    """Text that is not a duration (or a relative day) this grammar accepts; the message names the text."""

    def __init__(self, text: object, problem: str) -> None:
        super().__init__(f"{_shown(text)}: {problem}")
        self.text = text


@dataclass(frozen=True)
class Duration:
    """A parsed duration: `n` (≥ 1) of `unit`, before a moment when `negative`."""

    n: int
    unit: Unit
    negative: bool = False

    @property
    def span(self) -> timedelta | None:
        """The calendar length (negative for an offset before), or None for trading days."""
        if self.unit == "td":
            return None
        length = _UNIT_SPAN[self.unit] * self.n
        return -length if self.negative else length

    @property
    def trading_days(self) -> int | None:
        """The signed number of trading days, or None for calendar time."""
        if self.unit != "td":
            return None
        return -self.n if self.negative else self.n

    def __str__(self) -> str:
        return format_duration(self)


def parse_duration(text: object, *, signed: bool = False, units: tuple[Unit, ...] = UNITS) -> Duration:
    """The duration written in `text` (`30m`, `12h`, `7d`, `5td`; `-3d` when `signed`), at most ten years;
    `units` narrows which units the caller takes. Raises DurationError naming the text otherwise."""
    if not isinstance(text, str):
        raise DurationError(text, f"a duration is text such as {EXAMPLES}")
    found = _GRAMMAR.fullmatch(text)
    if found is None:
        raise DurationError(text, f"write N followed by {_listed(units)} (e.g. {EXAMPLES})")
    sign, digits, unit_text = found.groups()
    unit = cast(Unit, unit_text)
    if unit not in units:
        raise DurationError(text, f"the unit here is {_listed(units)}")
    if sign and not signed:
        raise DurationError(text, "a duration here is positive (no leading -)")
    if digits.startswith("0"):
        raise DurationError(text, "must be longer than zero, written without leading zeros")
    if len(digits) > MAX_DIGITS:
        raise DurationError(text, "longer than ten years")
    n = int(digits)
    duration = Duration(n=n, unit=unit, negative=bool(sign))
    _check_bound(text, duration)
    return duration


PATTERN = duration_pattern(signed=True)
UNSIGNED_PATTERN = duration_pattern()


def format_duration(duration: Duration) -> str:
    """The text that parses back to `duration` (`-3d`, `5td`)."""
    return f"{'-' if duration.negative else ''}{duration.n}{duration.unit}"


def _check_bound(text: str, duration: Duration) -> None:
    if duration.unit == "td":
        if duration.n > MAX_TRADING_DAYS:
            raise DurationError(text, f"longer than ten years (at most {MAX_TRADING_DAYS}td)")
        return
    if _UNIT_SPAN[duration.unit] * duration.n > MAX_CALENDAR:
        raise DurationError(text, f"longer than ten years (at most {MAX_CALENDAR.days}d)")


# Relative days ---------------------------------------------------------------------------------------------


def shift(start: datetime, text: str, calendar: TradingCalendar) -> datetime:
    """The instant a duration after `start` (before it, for `-…`); trading days keep the Beijing time of day:
    `Ntd` is the N-th trading day after start's Beijing date and `-Ntd` the N-th before it, so from a closed
    day (a weekend, a holiday) `1td` is the next session and `-1td` the last one before."""
    duration = parse_duration(text.strip(), signed=True)
    span = duration.span
    if span is not None:
        return start + span
    local = start.astimezone(calendar.tz)
    target = calendar.add_trading_days(local.date(), -duration.n if duration.negative else duration.n)
    return calendar.to_utc(target, local.time())


EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2100, 12, 31)
DAY_FORMS = "YYYY-MM-DD, today, yesterday, -Nd (N days before today) or -Ntd (N trading days before)"
# For JSON Schema, exactly the texts parse_day accepts: a real date from 1900 to 2100 (Feb 29 in leap years
# only: 1904 … 2096, 2000 included, 1900 and 2100 not) or a relative day within ten years.
_YEAR = "(19[0-9]{2}|20[0-9]{2}|2100)"
_MONTH_DAY = (
    "((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_DAY = "(19(0[48]|[2468][048]|[13579][26])|20([02468][048]|[13579][26]))-02-29"
DAY_PATTERN = (
    f"^({_YEAR}-{_MONTH_DAY}|{_LEAP_DAY}|today|yesterday"
    f"|-({_up_to(MAX_CALENDAR.days)}d|{_up_to(MAX_TRADING_DAYS)}td))$"
)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class RelativeDay:
    """A day counted back from today: `today` (no duration), `yesterday` (1d), `-30d`, `-5td`."""

    back: Duration | None = None

    def on(self, today: date, calendar: TradingCalendar) -> date:
        """The date this stands for when today (a Beijing date on the deployment's clock) is `today`."""
        if self.back is None:
            return today
        if self.back.unit == "td":
            try:
                return calendar.add_trading_days(today, -self.back.n)
            except ValueError as exc:  # before the calendar's first trading day
                raise DurationError(str(self), str(exc)) from None
        return today - timedelta(days=self.back.n)

    def __str__(self) -> str:
        return "today" if self.back is None else f"-{self.back.n}{self.back.unit}"


DayRef = date | RelativeDay


def parse_day(text: object) -> DayRef:
    """A date (`YYYY-MM-DD`, 1900 to 2100) or a day relative to today (`today`, `yesterday`, `-30d`,
    `-5td`), exactly as DAY_PATTERN describes; DurationError naming the text otherwise."""
    if isinstance(text, date):
        return _in_bounds(text, text)
    if not isinstance(text, str):
        raise DurationError(text, f"a day is text: {DAY_FORMS}")
    if text == "today":
        return RelativeDay()
    if text == "yesterday":
        return RelativeDay(Duration(1, "d"))
    if text.startswith("-"):
        back = parse_duration(text, signed=True, units=("d", "td"))
        return RelativeDay(Duration(back.n, back.unit))
    if not _ISO_DAY.fullmatch(text):  # fromisoformat alone would also take 20260302 and 2026-W10-1
        raise DurationError(text, f"not a day: write {DAY_FORMS}")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DurationError(text, f"not a day: write {DAY_FORMS}") from None
    return _in_bounds(text, day)


def resolve_day(value: DayRef, today: date, calendar: TradingCalendar) -> date:
    """The date a parsed day stands for, today being `today`."""
    if isinstance(value, RelativeDay):
        return value.on(today, calendar)
    return value


def day_from_text(text: str, today: date, calendar: TradingCalendar) -> date:
    """`parse_day` then `resolve_day`: the date that `text` names, today being `today`."""
    return resolve_day(parse_day(text), today, calendar)


def _in_bounds(text: object, day: date) -> date:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise DurationError(text, f"dates run from {EARLIEST_DAY.year} to {LATEST_DAY.year}")
    return day


def _listed(units: tuple[Unit, ...]) -> str:
    return ", ".join(units[:-1]) + f" or {units[-1]}" if len(units) > 1 else units[0]


def _shown(text: object) -> str:
    """The offending text, quoted, cut short so that a megabyte of input does not become the message."""
    shown = repr(text)
    return shown if len(shown) <= 40 else shown[:37] + "..."
