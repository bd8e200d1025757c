"""Helpers for MOT rule tests: crafted tables loaded through the import path, a rule's firings by day."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

import pyarrow as pa

from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.moments.firing import Firing, Slot
from touchpoint.moments.model import MotRule
from touchpoint.moments.service import detect

_SOURCES = itertools.count()


def load(container: Container, table: str, rows: list[dict[str, Any]], day: date | None = None) -> None:
    """Import rows into a canonical table (a snapshot table on `day`), as a data team's file would come."""
    columns = list(
        dict.fromkeys(k for row in rows for k in row)
    )  # from_pylist reads the first row's keys only
    rows = [{k: row.get(k) for k in columns} for row in rows]
    report = import_arrow(
        env=container,
        principal=SYSTEM,
        table=table,
        data=pa.Table.from_pylist(rows),
        options=ImportOptions(business_date=day, force=True),
        source_name=f"test:{table}:{next(_SOURCES)}",
    )
    assert report.rows_rejected == 0, report.errors


def rule(detector: str, **fields: Any) -> MotRule:
    """A rule on a detector, service class, owned by the system unless told otherwise."""
    return MotRule.model_validate(
        {"name": detector, "title": detector, "detector": detector, "classification": "service", **fields}
    )


def at(container: Container, day: date, clock: str) -> datetime:
    """The UTC instant of a Beijing time on a day."""
    hour, minute = (int(p) for p in clock.split(":"))
    return container.calendar.to_utc(day, time(hour, minute))


def firings_on(container: Container, mot: MotRule, day: date, clock: str | None = None) -> list[Firing]:
    """What the rule finds at its slot (or `clock`) on `day`, skipping closed days as the scheduler does."""
    from touchpoint.moments.catalogue import DETECTORS

    detector = DETECTORS[mot.detector]
    if detector.trading_days_only and not container.calendar.is_trading_day(day):
        return []
    when = clock or mot.times()[0]
    return detect(container, mot, Slot(day, when, at(container, day, when)))


def customers_by_day(
    container: Container, mot: MotRule, days: Iterable[date], clock: str | None = None
) -> dict[date, list[str]]:
    """The customers the rule fires for on each day that it fires at all."""
    found = {}
    for day in days:
        who = sorted(f.customer_no for f in firings_on(container, mot, day, clock))
        if who:
            found[day] = who
    return found
