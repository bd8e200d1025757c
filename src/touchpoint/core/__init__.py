"""Pure building blocks shared by every domain: clock, time zone and trading calendar, errors, ids."""

from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import Clock, SystemClock, VirtualClock
from touchpoint.core.errors import NotFoundError, TouchpointError, ValidationError

__all__ = [
    "Clock",
    "NotFoundError",
    "SystemClock",
    "TouchpointError",
    "TradingCalendar",
    "ValidationError",
    "VirtualClock",
]
