"""The send-time rules as pure functions: consent, investor suitability, quiet hours and the periods that
frequency caps count in. The dispatcher applies them in this order; each answer says why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CUSTOMER_LEVELS = ("C1", "C2", "C3", "C4", "C5")
PRODUCT_LEVELS = ("R1", "R2", "R3", "R4", "R5")
TRUE_TEXTS = frozenset({"1", "true", "t", "y", "yes", "是", "同意"})
ALL_CHANNELS = "*"


def truthy(value: Any) -> bool:
    """A yes from an imported flag (bool, 1, 'true', 'Y', '是' …)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().lower() in TRUE_TEXTS


# Consent ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentRecord:
    """One consent change: granted or withdrawn, for one channel or for all ('*')."""

    channel: str
    granted: bool
    at: datetime


def marketing_allowed(
    channel: str,
    profile_consent: Any,
    records: Iterable[ConsentRecord],
    profile_as_of: date | None = None,
    tz: ZoneInfo | None = None,
) -> tuple[bool, str]:
    """May marketing go to this customer on this channel? The newest record for the channel or for all
    channels, else the consent flag imported with the profile (no flag means no — MIIT: no explicit consent
    is a refusal). A withdrawal for all channels beats an older grant for one, and a profile imported
    without consent after a recorded grant withdraws it (the core system heard the customer since); a
    profile with consent never undoes a recorded opt-out."""
    relevant = [r for r in records if r.channel in (channel, ALL_CHANNELS)]
    if relevant:
        newest = max(relevant, key=lambda r: (r.at, not r.granted))  # at a tie, the withdrawal holds
        recorded_on = newest.at.astimezone(tz).date() if tz else newest.at.date()
        withdrawn_since = profile_as_of is not None and profile_as_of > recorded_on
        explicit_no = profile_consent is not None and profile_consent != "" and not truthy(profile_consent)
        if newest.granted and withdrawn_since and explicit_no:
            return False, f"consent withdrawn on the profile of {profile_as_of}"
        if newest.granted:
            return True, f"consent granted ({newest.channel})"
        scope = "all channels" if newest.channel == ALL_CHANNELS else channel
        return False, f"opted out of marketing on {scope}"
    if truthy(profile_consent):
        return True, "marketing consent on the profile"
    return False, "no marketing consent"


# Suitability -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suitability:
    """The decision and its evidence, stored with the send."""

    allowed: bool
    reason: str
    evidence: dict[str, Any]


def highest_admitted(
    level: str | None,
    *,
    investor_type: str | None,
    lowest_category: bool,
    assessed_at: date | None,
    today: date,
    valid_days: int,
) -> tuple[str, str]:
    """The highest product risk level a customer admits, and why (DOMAIN.md §3.1 table). An assessment
    counts from the day it was taken through its `valid_days`-th day after; one dated after `today` is no
    assessment (a bad import or a wrong clock), so it admits R1 only, as a missing one does."""
    if lowest_category:
        return "R1", "lowest risk category (最低类别) admits R1 only"
    if (investor_type or "").lower() == "professional":
        return "R5", "professional investor"
    if level not in CUSTOMER_LEVELS:
        return "R1", "no valid risk assessment (admits R1 only)"
    if assessed_at is None:
        return "R1", "risk assessment undated (admits R1 only)"
    age_days = (today - assessed_at).days
    if age_days < 0:
        return "R1", "risk assessment dated after today (admits R1 only)"
    if age_days > valid_days:
        return "R1", "risk assessment expired (admits R1 only)"
    return PRODUCT_LEVELS[CUSTOMER_LEVELS.index(level)], f"{level} admits up to R{level[1]}"


def suitability(
    *,
    customer_level: str | None,
    investor_type: str | None,
    lowest_category: bool,
    assessed_at: date | None,
    product_code: str,
    product_level: str | None,
    today: date,
    valid_days: int,
    rule_version: str,
) -> Suitability:
    """May a message promoting this product go to this customer? Never when the product's level is above
    what the customer admits, nor when the product's level is unknown."""
    admitted, why = highest_admitted(
        customer_level,
        investor_type=investor_type,
        lowest_category=lowest_category,
        assessed_at=assessed_at,
        today=today,
        valid_days=valid_days,
    )
    evidence = {
        "customer_level": customer_level,
        "investor_type": investor_type,
        "risk_assessed_at": assessed_at.isoformat() if assessed_at else None,
        "admits_up_to": admitted,
        "product": product_code,
        "product_level": product_level,
        "rule_version": rule_version,
    }
    if product_level not in PRODUCT_LEVELS:
        return Suitability(False, f"product {product_code} has no known risk level", evidence)
    if PRODUCT_LEVELS.index(product_level) > PRODUCT_LEVELS.index(admitted):
        return Suitability(False, f"unsuitable: {why}, product {product_code} is {product_level}", evidence)
    return Suitability(True, f"suitable: {why}, product is {product_level}", evidence)


# Quiet hours -----------------------------------------------------------------------------------------------


def in_quiet_hours(moment: datetime, start: time, end: time, tz: ZoneInfo) -> bool:
    """Is `moment` inside the quiet hours [start, end) in the brokerage's time zone (spanning midnight)?"""
    local = moment.astimezone(tz).time()
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_end(moment: datetime, start: time, end: time, tz: ZoneInfo) -> datetime | None:
    """The next allowed minute when `moment` falls in quiet hours (None when it does not)."""
    if not in_quiet_hours(moment, start, end, tz):
        return None
    local = moment.astimezone(tz)
    candidate = datetime.combine(local.date(), end, tzinfo=tz)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(moment.tzinfo)


# Frequency caps --------------------------------------------------------------------------------------------


def cap_periods(moment: datetime, tz: ZoneInfo) -> tuple[str, str]:
    """The day and the ISO week (Monday first) a send counts in, in the brokerage's time zone."""
    day = moment.astimezone(tz).date()
    year, week, _ = day.isocalendar()
    return f"d{day.isoformat()}", f"w{year}-{week:02d}"
