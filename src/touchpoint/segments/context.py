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
import pyarrow.compute as pc
from ibis.expr.types import Table
from pyroaring import AbstractBitMap, BitMap, FrozenBitMap

from touchpoint.core.errors import NotFoundError
from touchpoint.core.roaring import bitmap_from_mask
from touchpoint.indicators.compile import property_condition, resolve_customers
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.indicators.model import Filter
from touchpoint.indicators.service import event_id_map
from touchpoint.segments.model import PropertyFilter, Window
from touchpoint.tags.layout import TAG_BITMAPS, TAG_VALUES
from touchpoint.tags.service import TagEnv

FEW_NUMBERS = 1_000
"""Up to this many customer numbers are looked up by uid (a row group each at most) rather than by reading
the base's whole customer-number column."""
MEMO_ENTRIES = 256
"""Condition results a context keeps (a dense one is ~1.2 MB at 10M customers)."""


@dataclass
class Context:
    """The data a rule is evaluated against, as of `at`."""

    env: TagEnv
    at: datetime
    snapshot: date
    segment_rule: Callable[[str], Any]
    list_members: Callable[[str], list[str]]
    _columns: dict[str, np.ndarray] = field(default_factory=dict)
    _tags: dict[str, dict[str, BitMap]] = field(default_factory=dict)
    _memo: dict[str, FrozenBitMap] = field(default_factory=dict)

    @property
    def analytics(self) -> Any:
        """The analytical store."""
        return self.env.analytics

    @cached_property
    def base(self) -> pa.Table:
        """(uid, customer_no) of every customer in the tag snapshot, sorted by uid."""
        table = self.analytics.read_partition(TAG_VALUES.name, self.snapshot, columns=["uid", "customer_no"])
        assert table is not None
        # Snapshots are written in uid order; sorting 10M rows with their strings cost ~0.7 s for nothing.
        return table if _ascending(table["uid"].to_numpy()) else table.sort_by("uid")

    @cached_property
    def _uid_column(self) -> pa.ChunkedArray:
        """The tag snapshot's uid column as written.

        Read on its own: the bitmap path needs the uids, not the customer numbers (a string column as large
        as all the others together), nor any tag column.
        """
        table = self.analytics.read_partition(TAG_VALUES.name, self.snapshot, columns=["uid"])
        assert table is not None
        return table["uid"]

    @cached_property
    def _written_uids(self) -> np.ndarray:
        """The tag snapshot's uids in the order they were written."""
        uids: np.ndarray = pc.cast(self._uid_column, pa.uint32()).to_numpy()
        return uids

    @cached_property
    def _written_in_order(self) -> bool:
        """Whether the tag snapshot was written in uid order (`touchpoint compute` writes it so)."""
        return _ascending(self._written_uids)

    @cached_property
    def uids(self) -> np.ndarray:
        """Every customer's uid, ascending."""
        return self._written_uids if self._written_in_order else np.sort(self._written_uids)

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

    def where(self, mask: np.ndarray) -> BitMap:
        """The customers of the base at the positions where `mask` (one flag per base customer) is true."""
        if self.dense and len(self.uids):
            return bitmap_from_mask(int(self.uids[0]), mask)  # the mask is already a bitset in uid order
        # array('I') is the buffer pyroaring ingests without a Python-level loop.
        return BitMap(array("I", self.uids[mask].tobytes()))

    @cached_property
    def universe(self) -> BitMap:
        """The whole customer base as a bitmap."""
        if self.dense and len(self.uids):
            return BitMap(
                range(int(self.uids[0]), int(self.uids[-1]) + 1)
            )  # built run by run, not uid by uid
        return BitMap(array("I", self.uids.tobytes()))

    @cached_property
    def uid_of(self) -> dict[str, int]:
        """customer_no → uid."""
        return dict(zip(self.base["customer_no"].to_pylist(), self.base["uid"].to_pylist(), strict=True))

    @cached_property
    def _serialized_tags(self) -> dict[str, dict[str, bytes]]:
        """tag → value → its serialized bitmap: the bytes are small to hold, deserializing them is not."""
        table = self.analytics.read_partition(
            TAG_BITMAPS.name, self.snapshot, columns=["tag", "value", "bitmap"]
        )
        serialized: dict[str, dict[str, bytes]] = {}
        for row in table.to_pylist() if table is not None else []:
            serialized.setdefault(row["tag"], {})[row["value"]] = row["bitmap"]
        return serialized

    def tag_values(self, tag: str) -> dict[str, BitMap]:
        """value → members of one tag on the snapshot date, deserialized when a rule first names the tag."""
        if tag not in self._tags:
            found = self._serialized_tags.get(tag, {})
            self._tags[tag] = {value: BitMap.deserialize(raw) for value, raw in found.items()}
        return self._tags[tag]

    @cached_property
    def tag_bitmaps(self) -> dict[tuple[str, str], BitMap]:
        """(tag, value) → members on the snapshot date, for every tag."""
        return {
            (tag, value): bitmap
            for tag in self._serialized_tags
            for value, bitmap in self.tag_values(tag).items()
        }

    @cached_property
    def indicator_table(self) -> pa.Table:
        """The whole indicator snapshot, aligned to `base` (sorted by uid); `indicator` reads one column."""
        table = self.analytics.read_partition(INDICATOR_VALUES.name, self.snapshot)
        assert table is not None
        return table.sort_by("uid")

    @cached_property
    def _indicator_rows(self) -> np.ndarray | None:
        """The row of the indicator snapshot holding each customer of the base (-1: none); None when its rows
        are the base's, in the same order, as `touchpoint compute` writes them."""
        table = self.analytics.read_partition(INDICATOR_VALUES.name, self.snapshot, columns=["uid"])
        assert table is not None
        if self._written_in_order and self._uid_column.equals(table["uid"]):
            return None  # written by the same compute, row for row: compared without copying either column
        return rows_of(self.uids, table["uid"].to_numpy())

    def indicator(self, name: str) -> np.ndarray:
        """One indicator's values for every customer of the base, as floats (NaN where missing).

        Reads that one column of the snapshot (not the whole snapshot) the first time a rule names it.
        """
        if name not in self._columns:
            table = self.analytics.read_partition(INDICATOR_VALUES.name, self.snapshot, columns=[name])
            assert table is not None
            values = as_floats(table[name])
            rows = self._indicator_rows
            if rows is not None:
                aligned = np.full(len(rows), np.nan)
                aligned[rows >= 0] = values[rows[rows >= 0]]
                values = aligned
            self._columns[name] = values
        return self._columns[name]

    def recall(self, key: str) -> FrozenBitMap | None:
        """A remembered condition result, if this context has built it."""
        return self._memo.get(key)

    def remember(self, key: str, build: Callable[[], BitMap]) -> FrozenBitMap:
        """The members of a condition that depends on the snapshot alone, built once per context.

        An editor previews a rule again and again, changing one condition at a time: the others are then
        set operations on bitmaps already built. Frozen, so no caller can change a shared result.
        """
        if key not in self._memo:
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.pop(next(iter(self._memo)))  # the oldest: a bound on memory, not a cache policy
            self._memo[key] = FrozenBitMap(build())
        return self._memo[key]

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

    def customer_numbers(self, members: AbstractBitMap) -> list[str]:
        """The customer numbers of a bitmap of uids in the base, in uid order (one vectorised take).

        A few members (a preview's sample) are looked up in the snapshot by uid unless the base is loaded
        already: the customer numbers are the largest column there is, and a preview needs ten of them.
        """
        if len(members) <= FEW_NUMBERS and "base" not in self.__dict__:
            return self._few_numbers(members)
        uids = np.frombuffer(members.to_array(), dtype=np.uint32)
        numbers: list[str] = self.base["customer_no"].take(pa.array(self.positions(uids))).to_pylist()
        return numbers

    def _few_numbers(self, members: AbstractBitMap) -> list[str]:
        wanted = ("uid", list(members))
        rows = self.analytics.read_partition(
            TAG_VALUES.name, self.snapshot, columns=["uid", "customer_no"], where_in=wanted
        )
        assert rows is not None
        number_of = dict(zip(rows["uid"].to_pylist(), rows["customer_no"].to_pylist(), strict=True))
        return [number_of[uid] for uid in members]

    def bitmap_of(self, customer_numbers: list[str] | pd.Series) -> BitMap:
        """The uids of customer numbers that are in the base."""
        uid_of = self.uid_of
        return BitMap([uid_of[c] for c in customer_numbers if c in uid_of])


def _ascending(values: np.ndarray) -> bool:
    """Whether `values` strictly increase (a uid column written in uid order)."""
    return bool(np.all(values[1:] > values[:-1]))


def rows_of(uids: np.ndarray, keys: np.ndarray) -> np.ndarray | None:
    """The row of `keys` holding each of `uids` (ascending), -1 where none does; None when `keys` is `uids`
    row for row, as a snapshot written in uid order is (the common case costs one comparison pass)."""
    if len(keys) == len(uids) and np.array_equal(keys, uids):
        return None
    rows = np.full(len(uids), -1, dtype=np.int64)
    if len(keys) == 0:
        return rows
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    at = np.minimum(np.searchsorted(ordered, uids), len(keys) - 1)
    hit = ordered[at] == uids
    rows[hit] = order[at[hit]]
    return rows


def as_floats(column: pa.ChunkedArray) -> np.ndarray:
    """A column as floats, NaN where missing or not a number.

    Numeric columns are cast by Arrow (no pandas Series in between: ~0.3 s at 10M); other types keep the
    lenient pandas reading (numbers in text count, the rest is NaN).
    """
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        floats: np.ndarray = pc.cast(column, pa.float64()).to_numpy()
        return floats
    coerced: np.ndarray = pd.to_numeric(column.to_pandas(), errors="coerce").to_numpy(dtype=float)
    return coerced


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
