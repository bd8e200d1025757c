"""What a MOT detector is and what it finds: the pure vocabulary of the rule library and the service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

DetectorKind = Literal["event", "condition", "calendar"]


class Params(BaseModel):
    """A detector's thresholds: defaults that a rule definition may override, unknown names refused."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Firing:
    """One customer at one occurrence of a moment: `occurrence` identifies it (an IPO, an expiry stage, a
    plan's default) so that it fires once; `facts` are what caused it; `deadline` the moment's own deadline
    (the 16:00 payment cut-off), which a task's due time may count back from; `at` when it happened, for a
    firing on an event (the event's time; a slot's firings happen at the evaluation)."""

    customer_no: str
    occurrence: str
    facts: dict[str, Any] = field(default_factory=dict)
    deadline: datetime | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Slot:
    """When a condition or calendar rule is evaluated: the Beijing business date, the slot's time of day
    (`10:00`) and the instant of the evaluation."""

    day: date
    time: str
    now: datetime


@dataclass(frozen=True)
class Detector:
    """One kind of moment in the library: how it is found, its thresholds and when it is looked for.

    `event` detectors read one event (`events` names the events they read) through `EventFacts`; `condition`
    and `calendar` detectors read the day's data through `DayData` at each of `at` (Beijing times), on
    trading days only when `trading_days_only`."""

    name: str
    kind: DetectorKind
    params: type[Params]
    detect: Callable[..., list[Firing]]
    title: str
    at: tuple[str, ...] = ()
    trading_days_only: bool = False
    events: Callable[[Any], tuple[str, ...]] = field(default=lambda params: ())


def money(value: Any) -> float | None:
    """A money amount as a float rounded to the cent (None stays None)."""
    return None if value is None else round(float(value), 2)
