"""The MOT detector library: every kind of moment a rule may name, by name."""

from __future__ import annotations

from touchpoint.moments.firing import Detector
from touchpoint.moments.rules_daily import DAILY_DETECTORS
from touchpoint.moments.rules_event import EVENT_DETECTORS
from touchpoint.moments.rules_ipo import IPO_DETECTORS
from touchpoint.moments.rules_positions import POSITION_DETECTORS

DETECTORS: dict[str, Detector] = {
    d.name: d for d in (*EVENT_DETECTORS, *DAILY_DETECTORS, *POSITION_DETECTORS, *IPO_DETECTORS)
}
