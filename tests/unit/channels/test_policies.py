"""The send-time rules as pure functions, against the DOMAIN.md §3.1 table written out independently."""

from __future__ import annotations

import os
import time as system_time
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from touchpoint.channels.policies import (
    ConsentRecord,
    cap_periods,
    in_quiet_hours,
    marketing_allowed,
    quiet_hours_end,
    suitability,
    truthy,
)

BEIJING = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 3, 31)
# The matching table (适当性匹配), as the regulation states it: customer level → product levels allowed.
TABLE = {
    "C1": {"R1"},
    "C2": {"R1", "R2"},
    "C3": {"R1", "R2", "R3"},
    "C4": {"R1", "R2", "R3", "R4"},
    "C5": {"R1", "R2", "R3", "R4", "R5"},
}


def _decide(
    level: str | None, investor: str | None, lowest: bool, assessed: date | None, product: str
) -> bool:
    return suitability(
        customer_level=level,
        investor_type=investor,
        lowest_category=lowest,
        assessed_at=assessed,
        product_code="P1",
        product_level=product,
        today=TODAY,
        valid_days=730,
        rule_version="test-v1",
    ).allowed


# The spellings of a professional investor (专业投资者) the rule must recognise, written out.
PROFESSIONAL = {"professional", "Professional", "PROFESSIONAL"}
VALID_DAYS = 730  # risk_test_valid_days' default


def _admits_more_than_r1(age_days: int | None) -> bool:
    """An assessment counts from the day it is taken through its 730th day after; none, or one dated after
    today (a bad import or a wrong clock, never a real assessment), admits nothing above R1."""
    return age_days is not None and 0 <= age_days <= VALID_DAYS


@given(
    level=st.sampled_from(["C1", "C2", "C3", "C4", "C5", None, "X9", "c3"]),
    investor=st.sampled_from(["ordinary", "professional", "Professional", "PROFESSIONAL", "", None]),
    lowest=st.booleans(),
    age_days=st.one_of(st.none(), st.integers(min_value=-40, max_value=1500)),
    product=st.sampled_from(["R1", "R2", "R3", "R4", "R5"]),
)
# The expiry at its limit: the 729th and 730th days still admit the level, the 731st does not.
@example(level="C3", investor="ordinary", lowest=False, age_days=729, product="R3")
@example(level="C3", investor="ordinary", lowest=False, age_days=730, product="R3")
@example(level="C3", investor="ordinary", lowest=False, age_days=731, product="R3")
@example(level="C3", investor="ordinary", lowest=False, age_days=731, product="R1")
@example(level="C5", investor="ordinary", lowest=False, age_days=0, product="R5")
# An assessment dated tomorrow is no assessment.
@example(level="C5", investor="ordinary", lowest=False, age_days=-1, product="R2")
@example(level="C5", investor="ordinary", lowest=False, age_days=-1, product="R1")
# A professional investor whatever the case of the word, and nothing for a missing type.
@example(level="C1", investor="Professional", lowest=False, age_days=100, product="R5")
@example(level="C1", investor="PROFESSIONAL", lowest=False, age_days=None, product="R5")
@example(level="C1", investor=None, lowest=False, age_days=100, product="R2")
@example(level="C1", investor="PROFESSIONAL", lowest=True, age_days=100, product="R2")
def test_suitability_follows_the_matching_table(
    level: str | None, investor: str | None, lowest: bool, age_days: int | None, product: str
) -> None:
    assessed = TODAY - timedelta(days=age_days) if age_days is not None else None
    if lowest:
        expected = product == "R1"  # the lowest category may be matched with R1 only, whatever else holds
    elif investor in PROFESSIONAL:
        expected = True
    elif level not in TABLE or not _admits_more_than_r1(age_days):
        expected = product == "R1"  # no valid assessment: nothing above R1
    else:
        expected = product in TABLE[str(level)]
    assert _decide(level, investor, lowest, assessed, product) is expected


@pytest.mark.parametrize(
    ("age_days", "admits", "reason"),
    [
        (-1, "R1", "risk assessment dated after today (admits R1 only)"),
        (0, "R4", "C4 admits up to R4"),
        (729, "R4", "C4 admits up to R4"),
        (730, "R4", "C4 admits up to R4"),
        (731, "R1", "risk assessment expired (admits R1 only)"),
        (None, "R1", "risk assessment undated (admits R1 only)"),
    ],
)
def test_the_assessment_expires_after_its_730th_day_and_a_future_one_is_refused(
    age_days: int | None, admits: str, reason: str
) -> None:
    assessed = TODAY - timedelta(days=age_days) if age_days is not None else None
    decision = suitability(
        customer_level="C4",
        investor_type="ordinary",
        lowest_category=False,
        assessed_at=assessed,
        product_code="F1",
        product_level="R2",
        today=TODAY,
        valid_days=VALID_DAYS,
        rule_version="v",
    )
    assert decision.evidence["admits_up_to"] == admits
    expected_reason = f"suitable: {reason}, product is R2" if admits == "R4" else f"unsuitable: {reason}, "
    assert decision.reason.startswith(expected_reason)
    assert decision.allowed is (admits == "R4")


@pytest.mark.parametrize(
    ("investor", "lowest", "level", "admits", "reason"),
    [
        ("Professional", False, None, "R5", "professional investor"),
        ("PROFESSIONAL", False, "C1", "R5", "professional investor"),
        ("professional", True, "C5", "R1", "lowest risk category (最低类别) admits R1 only"),
        (None, False, "X9", "R1", "no valid risk assessment (admits R1 only)"),
        ("ordinary", False, "C2", "R2", "C2 admits up to R2"),
    ],
)
def test_each_rule_names_itself_in_the_reason(
    investor: str | None, lowest: bool, level: str | None, admits: str, reason: str
) -> None:
    decision = suitability(
        customer_level=level,
        investor_type=investor,
        lowest_category=lowest,
        assessed_at=TODAY,
        product_code="F7",
        product_level="R3",
        today=TODAY,
        valid_days=VALID_DAYS,
        rule_version="v",
    )
    assert decision.evidence["admits_up_to"] == admits
    if admits in ("R5",):
        assert decision.reason == f"suitable: {reason}, product is R3"
    else:
        assert decision.reason == f"unsuitable: {reason}, product F7 is R3"


def test_the_evidence_names_levels_and_rule_version() -> None:
    decision = suitability(
        customer_level="C2",
        investor_type="ordinary",
        lowest_category=False,
        assessed_at=date(2026, 1, 5),
        product_code="F004",
        product_level="R4",
        today=TODAY,
        valid_days=730,
        rule_version="CSRC-2017-v1",
    )
    assert not decision.allowed
    assert decision.evidence == {
        "customer_level": "C2",
        "investor_type": "ordinary",
        "risk_assessed_at": "2026-01-05",
        "admits_up_to": "R2",
        "product": "F004",
        "product_level": "R4",
        "rule_version": "CSRC-2017-v1",
    }
    assert "F004 is R4" in decision.reason
    unknown = suitability(
        customer_level="C5",
        investor_type="ordinary",
        lowest_category=False,
        assessed_at=TODAY,
        product_code="F9",
        product_level=None,
        today=TODAY,
        valid_days=730,
        rule_version="v",
    )
    assert unknown.allowed is False
    assert unknown.reason == "product F9 has no known risk level"
    assert unknown.evidence["product_level"] is None
    assert unknown.evidence["admits_up_to"] == "R5"


def test_consent_newest_record_wins_and_no_flag_means_no() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    assert marketing_allowed("sms", None, []) == (False, "no marketing consent")
    assert marketing_allowed("sms", "是", []) == (True, "marketing consent on the profile")
    assert marketing_allowed("email", False, [ConsentRecord("*", False, t0)]) == (
        False,
        "opted out of marketing on all channels",
    )
    assert marketing_allowed("sms", True, [ConsentRecord("sms", False, t0)]) == (
        False,
        "opted out of marketing on sms",
    )
    later_grant = [ConsentRecord("*", False, t0), ConsentRecord("sms", True, t0 + timedelta(days=1))]
    assert marketing_allowed("sms", False, later_grant)[0]
    assert not marketing_allowed("email", True, later_grant)[0]  # the global withdrawal still holds there
    tie = [ConsentRecord("sms", True, t0), ConsentRecord("*", False, t0)]
    assert not marketing_allowed("sms", True, tie)[0]  # at the same instant, withdrawing everything wins


def test_quiet_hours_span_midnight_and_end_at_the_next_allowed_minute() -> None:
    start, end = time(21), time(8)
    at_2230 = datetime(2026, 3, 31, 22, 30, tzinfo=BEIJING)
    assert quiet_hours_end(at_2230, start, end, BEIJING) == datetime(2026, 4, 1, 8, 0, tzinfo=BEIJING)
    at_0300 = datetime(2026, 4, 1, 3, 0, tzinfo=BEIJING)
    assert quiet_hours_end(at_0300, start, end, BEIJING) == datetime(2026, 4, 1, 8, 0, tzinfo=BEIJING)
    assert quiet_hours_end(datetime(2026, 4, 1, 8, 0, tzinfo=BEIJING), start, end, BEIJING) is None
    assert in_quiet_hours(datetime(2026, 4, 1, 21, 0, tzinfo=BEIJING), start, end, BEIJING)
    assert not in_quiet_hours(datetime(2026, 4, 1, 20, 59, tzinfo=BEIJING), start, end, BEIJING)
    assert not in_quiet_hours(at_2230, time(0), time(0), BEIJING)  # equal bounds: no quiet hours


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)))
def test_a_delayed_send_lands_outside_quiet_hours_within_a_day(moment: datetime) -> None:
    until = quiet_hours_end(moment, time(21), time(8), BEIJING)
    if until is None:
        assert not in_quiet_hours(moment, time(21), time(8), BEIJING)
        return
    assert moment < until <= moment + timedelta(hours=11)
    assert not in_quiet_hours(until, time(21), time(8), BEIJING)
    assert until.astimezone(BEIJING).time() == time(8)


def test_caps_count_in_beijing_days_and_iso_weeks() -> None:
    late_sunday_utc = datetime(2026, 4, 5, 16, 30, tzinfo=UTC)  # Monday 00:30 in Beijing
    assert cap_periods(late_sunday_utc, BEIJING) == ("d2026-04-06", "w2026-15")


def test_a_later_profile_without_consent_withdraws_a_recorded_grant_but_never_undoes_an_opt_out() -> None:
    granted = [ConsentRecord("*", True, datetime(2026, 3, 1, 2, tzinfo=UTC))]
    assert marketing_allowed("sms", False, granted, date(2026, 3, 1))[0]  # same day: the grant stands
    assert marketing_allowed("sms", False, granted, date(2026, 3, 5)) == (
        False,
        "consent withdrawn on the profile of 2026-03-05",
    )
    opted_out = [ConsentRecord("sms", False, datetime(2026, 3, 1, 2, tzinfo=UTC))]
    assert not marketing_allowed("sms", True, opted_out, date(2026, 3, 5))[0]


def test_an_early_morning_grant_is_dated_in_beijing_and_a_missing_flag_withdraws_nothing() -> None:
    at_0730 = [
        ConsentRecord("*", True, datetime(2026, 3, 30, 23, 30, tzinfo=UTC))
    ]  # 07:30 on 03-31 in Beijing
    assert marketing_allowed("sms", False, at_0730, date(2026, 3, 31), BEIJING)[0]
    assert not marketing_allowed("sms", False, at_0730, date(2026, 4, 1), BEIJING)[0]
    assert marketing_allowed("sms", None, at_0730, date(2026, 4, 1), BEIJING)[0]  # no flag: no statement


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (None, False),
        (1, True),
        (2, True),
        (0, False),
        (0.0, False),
        (-1, True),
        ("yes", True),
        (" Y ", True),
        ("TRUE", True),
        ("是", True),
        ("同意", True),
        ("no", False),
        ("否", False),
        ("", False),
    ],
)
def test_an_imported_flag_reads_as_yes_only_when_it_says_so(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


def test_a_later_profile_withdraws_a_grant_only_with_an_explicit_no() -> None:
    granted = [ConsentRecord("sms", True, datetime(2026, 3, 1, 2, tzinfo=UTC))]
    later = date(2026, 3, 5)
    assert marketing_allowed("sms", "", granted, later) == (True, "consent granted (sms)")  # blank: no answer
    assert marketing_allowed("sms", True, granted, later) == (True, "consent granted (sms)")
    assert marketing_allowed("sms", "否", granted, later)[0] is False


@pytest.fixture(params=["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def machine_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the machine's own time zone set to a far-apart one: no answer may depend on it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    system_time.tzset()
    yield request.param
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    system_time.tzset()


@pytest.mark.usefixtures("machine_zone")
def test_a_grant_recorded_in_another_zone_is_dated_by_its_own_clock_when_no_zone_is_given() -> None:
    # 01:00 on 03-02 in Beijing is 03-01 in UTC and 03-02 past UTC+14: the record's own date is 03-02.
    granted = [ConsentRecord("sms", True, datetime(2026, 3, 2, 1, tzinfo=BEIJING))]
    assert marketing_allowed("sms", False, granted, date(2026, 3, 2))[0]
    assert not marketing_allowed("sms", False, granted, date(2026, 3, 3))[0]


@pytest.mark.usefixtures("machine_zone")
@pytest.mark.parametrize(
    ("local", "until"),
    [
        (datetime(2026, 4, 1, 3, 0, tzinfo=BEIJING), datetime(2026, 4, 1, 8, 0, tzinfo=BEIJING)),
        (datetime(2026, 3, 31, 21, 0, tzinfo=BEIJING), datetime(2026, 4, 1, 8, 0, tzinfo=BEIJING)),
        (datetime(2026, 4, 1, 7, 59, 59, tzinfo=BEIJING), datetime(2026, 4, 1, 8, 0, tzinfo=BEIJING)),
    ],
)
def test_quiet_hours_end_in_beijing_whatever_the_machine_zone(local: datetime, until: datetime) -> None:
    for moment in (local, local.astimezone(UTC)):
        found = quiet_hours_end(moment, time(21), time(8), BEIJING)
        assert found == until
        assert found is not None
        assert found.utcoffset() == moment.utcoffset()  # answered in the caller's zone


@pytest.mark.parametrize(
    ("at", "quiet"),
    [(time(11, 59), False), (time(12, 0), True), (time(13, 59), True), (time(14, 0), False)],
)
def test_quiet_hours_within_one_day_include_the_start_and_exclude_the_end(at: time, quiet: bool) -> None:
    moment = datetime.combine(date(2026, 4, 1), at, tzinfo=BEIJING)
    assert in_quiet_hours(moment, time(12), time(14), BEIJING) is quiet
    expected = datetime(2026, 4, 1, 14, tzinfo=BEIJING) if quiet else None
    assert quiet_hours_end(moment, time(12), time(14), BEIJING) == expected


@pytest.mark.usefixtures("machine_zone")
def test_an_evening_quiet_window_ends_the_same_beijing_day_whatever_the_machine_zone() -> None:
    # 22:00 in Beijing is already the next day on a UTC+14 machine; the window still ends at 23:30 today.
    moment = datetime(2026, 4, 1, 22, tzinfo=BEIJING)
    assert quiet_hours_end(moment, time(18, 30), time(23, 30), BEIJING) == datetime(
        2026, 4, 1, 23, 30, tzinfo=BEIJING
    )
