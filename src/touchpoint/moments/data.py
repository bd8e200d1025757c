"""What MOT detectors read: the day's data (`DayData`) and the facts about the customers of a batch of events
(`EventFacts`), both from the analytical store through Ibis, values bound as literals, never as SQL text.

A snapshot table (customers, products, plans) is read as of its newest partition on or before the day; a
table that holds no data yet gives no rows, so a detector finds nothing rather than treating missing data as
zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import ibis
from ibis.expr.types import Table

from touchpoint.core.calendar import TradingCalendar
from touchpoint.store import AnalyticalStore


@dataclass
class DayData:
    """The analytical tables as a detector sees them on `day` (a Beijing business date)."""

    analytics: AnalyticalStore
    calendar: TradingCalendar
    day: date
    members: Callable[[dict[str, Any]], list[str]] | None = None
    """The customer numbers a segment rule selects now (None where no segment context is at hand)."""

    def has(self, name: str) -> bool:
        """Whether the table holds any partition."""
        return bool(self.analytics.partitions(name))

    def table(self, name: str) -> Table | None:
        """The whole table (None when it holds no data)."""
        return self.analytics.table(name) if self.has(name) else None

    def snapshot(self, name: str, on_or_before: date | None = None) -> Table | None:
        """A snapshot table as of its newest partition on or before the day (None: no such partition)."""
        dt = self.analytics.latest_partition_on_or_before(name, on_or_before or self.day)
        if dt is None:
            return None
        table = self.analytics.table(name)
        return table.filter(table.dt == dt)

    def partition(self, name: str, dt: date) -> Table | None:
        """The rows of one date partition, when the table has it (None otherwise: not imported yet)."""
        if dt not in {p.dt for p in self.analytics.partitions(name)}:
            return None
        table = self.analytics.table(name)
        return table.filter(table.dt == dt)

    def partition_dates(self, name: str) -> list[date]:
        """The dates the table has partitions for, in order."""
        return sorted(p.dt for p in self.analytics.partitions(name))

    def start(self, day: date | None = None) -> datetime:
        """The UTC instant a Beijing day begins."""
        return self.calendar.to_utc(day or self.day)

    def end(self, day: date | None = None) -> datetime:
        """The UTC instant a Beijing day ends (the next one begins)."""
        return self.calendar.to_utc((day or self.day) + timedelta(days=1))

    def at(self, clock: str, day: date | None = None) -> datetime:
        """The UTC instant of a Beijing time of day (`16:00`) on a day."""
        hour, minute = (int(part) for part in clock.split(":"))
        return self.calendar.to_utc(day or self.day, time(hour, minute))


def rows(expr: Table) -> list[dict[str, Any]]:
    """An expression's rows as dicts (the firings: a detector filters before it materialises)."""
    return list(expr.to_pyarrow().to_pylist())


def keyed(expr: Table | None, key: str) -> dict[str, dict[str, Any]]:
    """Rows by one column's value (empty for no table)."""
    return {} if expr is None else {str(r[key]): r for r in rows(expr)}


def among(table: Table, column: str, values: Iterable[str]) -> Table:
    """The rows whose `column` is one of `values` (bound as a literal array)."""
    wanted = sorted(set(values))
    return table.filter(table[column].isin(wanted)) if wanted else table.limit(0)


def cash_now(data: DayData, customers: Iterable[str], now: datetime) -> dict[str, float]:
    """Each customer's cash as it stands at `now`: the last close before today (the day's own snapshot is
    its close, still in the future during the day) plus the bank transfers since that close. A customer
    without any close has no value (absent), never zero."""
    wanted = sorted(set(customers))
    close_day = data.analytics.latest_partition_on_or_before("assets", data.day - timedelta(days=1))
    if not wanted or close_day is None:
        return {}
    assets = data.partition("assets", close_day)
    assert assets is not None
    closes = {
        str(r["customer_no"]): float(r["cash"] or 0.0)
        for r in rows(among(assets, "customer_no", wanted).select("customer_no", "cash"))
        if r["cash"] is not None
    }
    flows = data.table("cash_flows")
    if flows is not None:
        since = data.end(close_day)
        moved = among(flows, "customer_no", list(closes)).filter((flows.time >= since) & (flows.time <= now))
        signed = ibis.cases((moved.direction == "in", moved.amount), else_=-moved.amount)
        for r in rows(moved.group_by("customer_no").aggregate(net=signed.sum())):
            closes[str(r["customer_no"])] += float(r["net"] or 0.0)
    return closes


@dataclass
class EventFacts:
    """Facts about the customers and products of one batch of events, read once per batch for just them."""

    data: DayData
    _customers: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    _products: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)

    def customers(self, numbers: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The customers' rows in the newest customers snapshot (unknown ones absent)."""
        missing = sorted(set(numbers) - set(self._customers))
        snapshot = self.data.snapshot("customers")
        if missing and snapshot is not None:
            self._customers.update(keyed(among(snapshot, "customer_no", missing), "customer_no"))
        return self._customers

    def products(self, codes: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The products' rows in the newest shelf snapshot (unknown ones absent)."""
        missing = sorted(set(codes) - set(self._products))
        snapshot = self.data.snapshot("products")
        if missing and snapshot is not None:
            self._products.update(keyed(among(snapshot, "product_code", missing), "product_code"))
        return self._products

    def prior_assets(self, customers: Iterable[str], day: date) -> dict[str, float]:
        """Total assets at the last close before `day`, per customer who has one."""
        close_day = self.data.analytics.latest_partition_on_or_before("assets", day - timedelta(days=1))
        wanted = sorted(set(customers))
        if close_day is None or not wanted:
            return {}
        assets = self.data.partition("assets", close_day)
        assert assets is not None
        picked = among(assets, "customer_no", wanted).select("customer_no", "total_assets")
        return {
            str(r["customer_no"]): float(r["total_assets"])
            for r in rows(picked)
            if r["total_assets"] is not None
        }


def first_session_of_week(data: DayData) -> bool:
    """Whether the day is the week's first trading day (a weekly batch runs then, holidays included)."""
    day = data.day
    if not data.calendar.is_trading_day(day):
        return False
    return data.calendar.previous_trading_day(day).isocalendar()[:2] != day.isocalendar()[:2]


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
