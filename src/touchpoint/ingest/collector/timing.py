"""Event time: parsing, client clock-skew correction, and the accepted window."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from touchpoint.ingest.collector.model import EventProblem

MAX_MILLIS_DIGITS = 18


@dataclass(frozen=True)
class TimeWindow:
    """How old or how far in the future an event's time may be before it is quarantined."""

    max_age: timedelta = timedelta(days=30)
    max_future: timedelta = timedelta(hours=1)
    age_limit_lifted: bool = False

    def lifting_age_limit(self) -> TimeWindow:
        """The same window without the age limit: an operator's override when replaying the quarantine."""
        return replace(self, age_limit_lifted=True)

    def check(self, event_time: datetime, received: datetime, *, historical: bool) -> None:
        """Quarantine events outside the window instead of silently re-timing them."""
        if event_time > received + self.max_future:
            raise EventProblem("in_future", f"time {event_time.isoformat()} is ahead of the server clock")
        if historical or self.age_limit_lifted:
            return
        if event_time < received - self.max_age:
            raise EventProblem(
                "too_old", f"time {event_time.isoformat()} is older than {self.max_age.days} days"
            )


def from_millis(value: Any, field_name: str = "time") -> datetime:
    """Epoch milliseconds (or seconds, 10 digits, as the Sensors SDK allows) to an aware datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventProblem("bad_time", f"{field_name} must be epoch milliseconds")
    millis = value * 1000 if abs(value) < 10_000_000_000 else value
    try:
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise EventProblem("bad_time", f"{field_name} is out of range") from exc


def from_iso(value: Any, field_name: str = "timestamp") -> datetime:
    """ISO 8601 with an offset (or `Z`) to an aware datetime."""
    if not isinstance(value, str):
        raise EventProblem("bad_time", f"{field_name} must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise EventProblem("bad_time", f"{field_name} {value!r} is not ISO 8601") from exc
    if parsed.tzinfo is None:
        raise EventProblem("bad_time", f"{field_name} {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def any_time(value: Any, field_name: str = "time") -> datetime:
    """Epoch milliseconds or ISO 8601 with an offset."""
    # Only ASCII digits are milliseconds ("²".isdigit() is true), and no more than fit an instant.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > MAX_MILLIS_DIGITS:
            raise EventProblem("bad_time", f"{field_name} is out of range")
        return from_millis(int(value), field_name)
    return from_iso(value, field_name) if isinstance(value, str) else from_millis(value, field_name)


def corrected(client_time: datetime, client_sent: datetime | None, received: datetime) -> datetime:
    """Shift a client-stamped time by the client's clock error, measured at send time."""
    if client_sent is None:
        return client_time
    return client_time + (received - client_sent)


def to_millis(instant: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(instant.timestamp() * 1000)
