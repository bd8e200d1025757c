"""What one evaluation of a rule reads: the customer base, tag bitmaps, indicator and attribute columns, and
the events inside a relative window — all as of one evaluation time, loaded once and shared by the leaves."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.expr.types import Table
from pyroaring import BitMap

from touchpoint.core.errors import NotFoundError
from touchpoint.indicators.compile import property_condition, resolve_customers
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.indicators.model import Filter
from touchpoint.indicators.service import event_id_map
from touchpoint.segments.model import PropertyFilter, Window
from touchpoint.tags.layout import TAG_BITMAPS, TAG_VALUES
from touchpoint.tags.service import TagEnv


@dataclass
class Context:
    """The data a rule is evaluated against, as of `at`."""

    env: TagEnv
    at: datetime
    snapshot: date
    segment_rule: Callable[[str], Any]
    list_members: Callable[[str], list[str]]
    _columns: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def analytics(self) -> Any:
        """The analytical store."""
        return self.env.analytics

    @cached_property
    def base(self) -> pa.Table:
        """(uid, customer_no) of every customer in the tag snapshot, sorted by uid."""
        table = self.analytics.read_partition(TAG_VALUES.name, self.snapshot)
        assert table is not None
        return table.select(["uid", "customer_no"]).sort_by("uid")

    @cached_property
    def uids(self) -> np.ndarray:
        """Every customer's uid, ascending."""
        uids: np.ndarray = self.base["uid"].to_numpy().astype(np.uint32)
        return uids

    @cached_property
    def dense(self) -> bool:
        """Whether the base's uids are one unbroken run (then a uid's position is simple arithmetic)."""
        uids = self.uids
        return len(uids) == 0 or int(uids[-1]) - int(uids[0]) + 1 == len(uids)

    def positions(self, uids: np.ndarray) -> np.ndarray:
        """Where each of `uids` (all in the base, ascending) sits in the base."""
        if self.dense:
            return uids.astype(np.int64) - int(self.uids[0]) if len(self.uids) else uids.astype(np.int64)
        found: np.ndarray = np.searchsorted(self.uids, uids)
        return found

    @cached_property
    def universe(self) -> BitMap:
        """The whole customer base as a bitmap."""
        return BitMap(array("I", self.uids.tobytes()))

    @cached_property
    def uid_of(self) -> dict[str, int]:
        """customer_no → uid."""
        return dict(zip(self.base["customer_no"].to_pylist(), self.base["uid"].to_pylist(), strict=True))

    @cached_property
    def tag_bitmaps(self) -> dict[tuple[str, str], BitMap]:
        """(tag, value) → members on the snapshot date."""
        table = self.analytics.read_partition(TAG_BITMAPS.name, self.snapshot)
        rows = table.to_pylist() if table is not None else []
        return {(r["tag"], r["value"]): BitMap.deserialize(r["bitmap"]) for r in rows}

    @cached_property
    def indicator_table(self) -> pa.Table:
        """The indicator snapshot, aligned to `base` (sorted by uid)."""
        table = self.analytics.read_partition(INDICATOR_VALUES.name, self.snapshot)
        assert table is not None
        return table.sort_by("uid")

    def indicator(self, name: str) -> np.ndarray:
        """One indicator's values for every customer of the base, as floats (NaN where missing)."""
        if name not in self._columns:
            column = self.indicator_table[name]
            self._columns[name] = pd.to_numeric(column.to_pandas(), errors="coerce").to_numpy(dtype=float)
        return self._columns[name]

    @cached_property
    def attributes(self) -> pd.DataFrame:
        """The customers snapshot on or before the snapshot date, one row per customer of the base."""
        day = self.analytics.latest_partition_on_or_before("customers", self.snapshot)
        if day is None:
            raise NotFoundError("no customers snapshot; import customers first")
        customers = self.analytics.read_partition("customers", day).drop_columns(["attributes"]).to_pandas()
        aligned: pd.DataFrame = self.base.to_pandas().merge(customers, on="customer_no", how="left")
        return aligned

    @cached_property
    def id_map(self) -> Table:
        """Distinct id → customer number for events."""
        return ibis.memtable(event_id_map(self.env))

    def events(self, names: list[str], within: Window) -> Table:
        """Events of `names` inside the window ending at `at`, each with its customer number."""
        analytics = self.analytics
        if analytics.partitions("events"):
            events = analytics.table("events")
        else:  # nothing collected yet: an empty table with every column, so each rule reads what it needs
            events = ibis.memtable(analytics.layout("events").full_schema.empty_table())
        start, first_day, last_day = self.window_dates(within)
        chosen = events.filter(
            events.event.isin(names),
            events.time <= ibis.literal(self.at),
            events.dt >= first_day,
            events.dt <= last_day,
        )
        if start is not None:
            chosen = chosen.filter(chosen.time > ibis.literal(start))
        resolved = resolve_customers(chosen, self.id_map)
        return resolved.filter(resolved.customer_no.notnull())

    def window_dates(self, within: Window) -> tuple[datetime | None, date, date]:
        """The exclusive start instant of a window (None for trading days) and the first and last Beijing
        dates whose events it reads.

        A window of N trading days reads the events of those N trading days, an event dated on a closed day
        counting for the next trading day (as indicators count it): the closed days just before the first
        trading day are in, and the closed days after the last trading day on or before today are not.
        """
        calendar = self.env.calendar
        today = calendar.business_date(self.at)
        span = within.span()
        if span is not None:
            start = self.at - span
            return start, calendar.business_date(start), today
        first_trading_day, last = calendar.trailing_sessions(today, within.n)
        return None, calendar.first_day_rolling_into(first_trading_day), last

    def customer_numbers(self, members: BitMap) -> list[str]:
        """The customer numbers of a bitmap of uids in the base, in uid order (one vectorised take)."""
        uids = np.frombuffer(members.to_array(), dtype=np.uint32)
        numbers: list[str] = self.base["customer_no"].take(pa.array(self.positions(uids))).to_pylist()
        return numbers

    def bitmap_of(self, customer_numbers: list[str] | pd.Series) -> BitMap:
        """The uids of customer numbers that are in the base."""
        uid_of = self.uid_of
        return BitMap([uid_of[c] for c in customer_numbers if c in uid_of])


def property_filters(table: Table, filters: list[PropertyFilter]) -> Table:
    """Apply event property filters (the same semantics as indicator filters)."""
    for item in filters:
        condition = Filter(property=item.property, op=item.op, value=item.value)
        table = table.filter(property_condition(table, condition))
    return table


def gap_of(text: str) -> timedelta:
    """A sequence gap as a duration."""
    span = Window(text).span()
    assert span is not None
    return span
