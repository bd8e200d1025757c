"""The one duration grammar: every duration formats and parses back to itself, every other text raises the
typed DurationError naming it (never another exception), and nothing over ten years is a duration."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.durations import (
    DAY_PATTERN,
    MAX_CALENDAR,
    MAX_TRADING_DAYS,
    PATTERN,
    UNITS,
    Duration,
    DurationError,
    RelativeDay,
    day_from_text,
    duration_pattern,
    format_duration,
    parse_day,
    parse_duration,
)
from touchpoint.core.errors import ValidationError

CALENDAR = TradingCalendar()
_MINUTES = {"m": 1, "h": 60, "d": 1440}


def _within_bound(n: int, unit: str) -> bool:
    if unit == "td":
        return n <= MAX_TRADING_DAYS
    return n * _MINUTES[unit] <= MAX_CALENDAR // timedelta(minutes=1)


durations = st.builds(
    Duration,
    n=st.integers(1, MAX_CALENDAR.days * 1440),
    unit=st.sampled_from(UNITS),
    negative=st.booleans(),
).filter(lambda d: _within_bound(d.n, d.unit))


@given(durations)
@example(Duration(MAX_CALENDAR.days, "d"))
@example(Duration(MAX_TRADING_DAYS, "td", negative=True))
@example(Duration(MAX_CALENDAR // timedelta(minutes=1), "m"))
def test_every_duration_formats_and_parses_back_to_itself(duration: Duration) -> None:
    text = format_duration(duration)
    assert re.fullmatch(PATTERN, text)
    assert parse_duration(text, signed=True) == duration
    span = duration.span
    if duration.unit == "td":
        assert span is None
        assert duration.trading_days == (-duration.n if duration.negative else duration.n)
    else:
        assert span is not None
        assert abs(span) <= MAX_CALENDAR
        assert span == (-1 if duration.negative else 1) * timedelta(
            minutes=duration.n * _MINUTES[duration.unit]
        )


@given(
    st.one_of(
        st.text(max_size=30), st.integers(), st.floats(), st.none(), st.lists(st.integers(), max_size=2)
    )
)
@example("99999999999d")
@example("9" * 5000 + "d")
@example("²d")
@example("٣d")
@example("0d")
@example("07d")
@example(" 7d")
@example("7D")
@example("$..x")
@example("3654d")
@example(f"{MAX_TRADING_DAYS + 1}td")
def test_any_other_text_raises_the_typed_error_naming_it(text: object) -> None:
    """Bad text raises DurationError — a ValidationError (400) and a ValueError (pydantic's 422) — and never
    anything else; text the grammar accepts is exactly what the published pattern describes."""
    try:
        parsed = parse_duration(text, signed=True)
    except DurationError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        assert isinstance(error, ValidationError)
        assert isinstance(error, ValueError)
        assert repr(text)[:20] in str(error)
        return
    assert isinstance(text, str)
    assert re.fullmatch(PATTERN, text)
    assert format_duration(parsed) == text


def test_the_ten_year_bound_and_the_sign_rule() -> None:
    assert parse_duration("3653d").span == MAX_CALENDAR
    for text in ("3654d", "87673h", "5260321m", f"{MAX_TRADING_DAYS + 1}td", "99999999999d"):
        with pytest.raises(DurationError, match="ten years"):
            parse_duration(text)
    with pytest.raises(DurationError, match="positive"):
        parse_duration("-3d")
    assert parse_duration("-3d", signed=True).span == -timedelta(days=3)
    with pytest.raises(DurationError, match="unit here is d or td"):
        parse_duration("30m", units=("d", "td"))


@given(
    st.one_of(
        st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(date.isoformat),
        st.sampled_from(["today", "yesterday"]),
        st.builds(lambda n, u: f"-{n}{u}", st.integers(1, 2000), st.sampled_from(["d", "td"])),
    )
)
def test_every_day_text_the_pattern_allows_parses(text: str) -> None:
    assert re.fullmatch(DAY_PATTERN, text)
    parsed = parse_day(text)
    assert isinstance(parsed, date | RelativeDay)


@given(st.one_of(st.text(max_size=20), st.integers(), st.none()))
@example("9999-12-31")
@example("1899-12-31")
@example("2101-01-01")
@example("20260302")
@example("2026-W10-1")
@example("-5h")
@example("-0d")
@example("-99999999999d")
def test_any_other_day_text_raises_the_typed_error(text: object) -> None:
    try:
        parse_day(text)
    except DurationError:
        return
    assert isinstance(text, str)
    assert re.fullmatch(DAY_PATTERN, text)


def test_relative_days_count_back_from_today_in_days_or_trading_days() -> None:
    today = date(2026, 3, 10)  # a Tuesday
    assert day_from_text("today", today, CALENDAR) == today
    assert day_from_text("yesterday", today, CALENDAR) == date(2026, 3, 9)
    assert day_from_text("-30d", today, CALENDAR) == date(2026, 2, 8)
    assert day_from_text("-2td", today, CALENDAR) == date(2026, 3, 6)  # over the weekend
    assert day_from_text("2026-01-05", today, CALENDAR) == date(2026, 1, 5)
    with pytest.raises(DurationError, match="outside the calendar"):
        day_from_text("-2500td", date(2008, 1, 2), CALENDAR)


@given(st.from_regex(PATTERN, fullmatch=True))
@example("5260320m")
@example("-2520td")
def test_every_text_the_published_pattern_allows_parses(text: str) -> None:
    """The JSON Schema pattern and the parser agree both ways, bound included: the API never refuses with a
    422 a value its own schema allows (a fuzzer's positive examples all pass)."""
    assert format_duration(parse_duration(text, signed=True)) == text


@given(st.from_regex(duration_pattern(("d", "h", "td")), fullmatch=True))
def test_a_narrowed_pattern_matches_the_narrowed_parser(text: str) -> None:
    assert parse_duration(text, units=("d", "h", "td")).unit in ("d", "h", "td")


@given(st.from_regex(DAY_PATTERN, fullmatch=True))
@example("2000-02-29")
@example("2096-02-29")
@example("2100-12-31")
def test_every_day_the_published_pattern_allows_parses(text: str) -> None:
    parse_day(text)


@pytest.mark.parametrize(
    "text", ["1900-02-29", "2100-02-29", "2026-02-29", "2026-04-31", "-3654d", "-2521td"]
)
def test_days_that_do_not_exist_or_lie_too_far_are_outside_the_pattern_too(text: str) -> None:
    assert not re.fullmatch(DAY_PATTERN, text)
    with pytest.raises(DurationError):
        parse_day(text)
