from datetime import UTC, datetime, timedelta, timezone

import pytest

from touchpoint.core.clock import SystemClock, VirtualClock


def test_virtual_clock_moves_only_when_told() -> None:
    clock = VirtualClock(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))
    assert clock.now() == datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    assert clock.advance(timedelta(days=2)) == datetime(2026, 1, 7, 1, 0, tzinfo=UTC)
    assert clock.now() == datetime(2026, 1, 7, 1, 0, tzinfo=UTC)


def test_virtual_clock_normalises_to_utc_and_refuses_going_back() -> None:
    beijing = timezone(timedelta(hours=8))
    clock = VirtualClock(datetime(2026, 1, 5, 9, 0, tzinfo=beijing))
    assert clock.now() == datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="backwards"):
        clock.set(datetime(2026, 1, 4, tzinfo=UTC))
    with pytest.raises(ValueError, match="time zone"):
        VirtualClock(datetime(2026, 1, 5))


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
