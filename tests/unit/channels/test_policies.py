"""The send-time rules as pure functions, against the DOMAIN.md §3.1 table written out independently."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from touchpoint.channels.policies import (
    ConsentRecord,
    cap_periods,
    in_quiet_hours,
    marketing_allowed,
    quiet_hours_end,
    suitability,
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


def _decide(level: str | None, investor: str, lowest: bool, assessed: date | None, product: str) -> bool:
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


@given(
    level=st.sampled_from(["C1", "C2", "C3", "C4", "C5", None, "X9"]),
    investor=st.sampled_from(["ordinary", "professional", ""]),
    lowest=st.booleans(),
    age_days=st.one_of(st.none(), st.integers(min_value=0, max_value=1500)),
    product=st.sampled_from(["R1", "R2", "R3", "R4", "R5"]),
)
def test_suitability_follows_the_matching_table(
    level: str | None, investor: str, lowest: bool, age_days: int | None, product: str
) -> None:
    assessed = TODAY - timedelta(days=age_days) if age_days is not None else None
    if lowest:
        expected = product == "R1"  # the lowest category may be matched with R1 only, whatever else holds
    elif investor == "professional":
        expected = True
    elif level not in TABLE or assessed is None or age_days is None or age_days > 730:
        expected = product == "R1"  # no valid assessment: nothing above R1
    else:
        expected = product in TABLE[level]
    assert _decide(level, investor, lowest, assessed, product) is expected
    if level == "C2" and investor != "professional" and product in ("R3", "R4", "R5"):
        assert not _decide(level, investor, lowest, assessed, product)


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
    assert not unknown.allowed
    assert "no known risk level" in unknown.reason


def test_consent_newest_record_wins_and_no_flag_means_no() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    assert marketing_allowed("sms", None, []) == (False, "no marketing consent")
    assert marketing_allowed("sms", "是", [])[0]
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
