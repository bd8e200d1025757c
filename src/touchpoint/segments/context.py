"""What one evaluation of a rule reads: the customer base, tag bitmaps, indicator and attribute columns, and
the events inside a relative window — all as of one evaluation time, loaded once and shared by the leaves."""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
from touchpoint.segments.shards import PieceCache, in_parallel, spans
from touchpoint.store import PartitionInfo
from touchpoint.tags.layout import TAG_BITMAPS, TAG_VALUES
from touchpoint.tags.service import TagEnv

FEW_NUMBERS = 1_000
"""Up to this many customer numbers are looked up by uid (a row group each at most) rather than by reading
the base's whole customer-number column."""
KNOWN_NUMBERS = 10_000
"""Customer numbers looked up by uid that a snapshot's data keeps for the next preview's sample."""
MEMO_ENTRIES = 256
"""Condition results a snapshot's data keeps (a dense one is ~1.2 MB at 10M customers, 12 MB at 100M), also
bounded to a quarter of its cache's bytes."""


class SnapshotData:
    """What rules read from one tag snapshot: the customer base, tag bitmaps, indicator and attribute columns,
    each loaded when a rule first needs it, and the condition results built from them. Indicator columns
    are held and tested by uid range (`shards`), so that a preview at 100M customers keeps within
    `cache_bytes` and tests an edited condition on the shards in parallel.

    It depends on the snapshot's files alone, so contexts share it while those files stay the same
    (`snapshot_data`): an editor's second preview finds the columns and results the first one loaded. Every
    piece is read from the partition versions it was keyed on (`versions`), so a recomputation committed
    while it loads cannot mix two versions. Shared by the API's threads: a value two threads load at once may
    be loaded twice (the later replaces the earlier); the remembered results are guarded, because evicting
    one is two steps. Memory is bounded: the base, the uids, indicator pieces within `cache_bytes`, and
    MEMO_ENTRIES results within a quarter of it besides.
    """

    def __init__(
        self,
        analytics: Any,
        snapshot: date,
        versions: Mapping[str, PartitionInfo | None],
        cache_bytes: int,
    ) -> None:
        self.analytics = analytics
        self.snapshot = snapshot
        self.versions = dict(versions)
        """table → the partition version every read of that table uses (None: no such partition)."""
        self.pieces = PieceCache(cache_bytes)
        """(indicator, shard) → that shard's values, within the budget (`preview_cache_mb`: 2 GiB is 25
        columns at 10M customers, two at 100M); remembered results take up to a quarter as much again."""
        self._tags: dict[str, dict[str, FrozenBitMap]] = {}
        self._memo: dict[str, FrozenBitMap] = {}
        self._memo_bytes = 0
        self._numbers: dict[int, str] = {}
        self._memo_lock = threading.Lock()

    @property
    def customers_day(self) -> date | None:
        """The customers snapshot attributes are read from: the newest on or before `snapshot`."""
        info = self.versions.get("customers")
        return info.dt if info is not None else None

    def _read(
        self,
        table: str,
        columns: list[str],
        where_in: tuple[str, list[int]] | None = None,
        where_range: tuple[str, int, int] | None = None,
    ) -> pa.Table | None:
        """Columns of the pinned version of one of the snapshot's tables (None when it has no partition)."""
        info = self.versions.get(table)
        if info is None:
            return None
        read: pa.Table = self.analytics.read_version(
            table, info, columns=columns, where_in=where_in, where_range=where_range
        )
        return read

    @cached_property
    def base(self) -> pa.Table:
        """(uid, customer_no) of every customer in the tag snapshot, sorted by uid."""
        table = self._read(TAG_VALUES.name, ["uid", "customer_no"])
        assert table is not None
        # Snapshots are written in uid order; sorting 10M rows with their strings cost ~0.7 s for nothing.
        return table if _ascending(table["uid"].to_numpy()) else table.sort_by("uid")

    @cached_property
    def uids(self) -> np.ndarray:
        """Every customer's uid, ascending (read-only: shared by every context of the snapshot).

        Read on its own: the bitmap path needs the uids, not the customer numbers (a string column as large
        as all the others together), nor any tag column; kept as 4 bytes a customer, not as read.
        """
        table = self._read(TAG_VALUES.name, ["uid"])
        assert table is not None
        uids: np.ndarray = pc.cast(table["uid"], pa.uint32()).to_numpy()
        if not _ascending(uids):
            uids = np.sort(uids)
        uids.flags.writeable = False
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

    def where(self, mask: np.ndarray) -> BitMap:
        """The customers of the base at the positions where `mask` (one flag per base customer) is true."""
        return self._where_from(0, mask) if len(self.uids) else BitMap()

    @cached_property
    def universe(self) -> FrozenBitMap:
        """The whole customer base as a bitmap (frozen: every context of the snapshot shares it)."""
        if self.dense and len(self.uids):
            # built run by run, not uid by uid
            return FrozenBitMap(range(int(self.uids[0]), int(self.uids[-1]) + 1))
        return FrozenBitMap(array("I", self.uids.tobytes()))

    @cached_property
    def uid_of(self) -> dict[str, int]:
        """customer_no → uid."""
        return dict(zip(self.base["customer_no"].to_pylist(), self.base["uid"].to_pylist(), strict=True))

    @cached_property
    def _serialized_tags(self) -> dict[str, dict[str, bytes]]:
        """tag → value → its serialized bitmap: the bytes are small to hold, deserializing them is not."""
        table = self._read(TAG_BITMAPS.name, ["tag", "value", "bitmap"])
        serialized: dict[str, dict[str, bytes]] = {}
        for row in table.to_pylist() if table is not None else []:
            serialized.setdefault(row["tag"], {})[row["value"]] = row["bitmap"]
        return serialized

    def tag_values(self, tag: str) -> dict[str, FrozenBitMap]:
        """value → members of one tag on the snapshot date, deserialized when a rule first names the tag."""
        if tag not in self._tags:
            found = self._serialized_tags.get(tag, {})
            self._tags[tag] = {value: FrozenBitMap.deserialize(raw) for value, raw in found.items()}
        return self._tags[tag]

    @cached_property
    def tag_bitmaps(self) -> dict[tuple[str, str], FrozenBitMap]:
        """(tag, value) → members on the snapshot date, for every tag."""
        return {
            (tag, value): bitmap
            for tag in self._serialized_tags
            for value, bitmap in self.tag_values(tag).items()
        }

    @cached_property
    def indicator_names(self) -> list[str]:
        """The indicators the snapshot holds."""
        info = self.versions.get(INDICATOR_VALUES.name)
        assert info is not None
        columns: list[str] = self.analytics.version_columns(INDICATOR_VALUES.name, info)
        return [c for c in columns if c not in ("uid", "customer_no")]

    @cached_property
    def shards(self) -> list[tuple[int, int]]:
        """The [start, stop) base positions of each shard (uid range) the indicator columns are held by."""
        return spans(len(self.uids))

    def indicator_piece(self, name: str, shard: int) -> np.ndarray:
        """One indicator's values (floats, NaN where missing) for the customers of one shard of the base.

        Read the first time from the row groups holding the shard's uid range (the snapshot is written in
        uid order; a snapshot that is not is read whole per shard, slowly but rightly), aligned to the base
        by uid: a uid missing from the indicator snapshot reads as no value, as the SQL path's left join says.
        """
        found = self.pieces.get((name, shard))
        if found is not None:
            return found
        start, stop = self.shards[shard]
        uids = self.uids[start:stop]
        table = self._read(
            INDICATOR_VALUES.name, ["uid", name], where_range=("uid", int(uids[0]), int(uids[-1]))
        )
        assert table is not None
        values = as_floats(table[name])
        rows = rows_of(uids, table["uid"].to_numpy())
        if rows is None:  # the base's rows in its order: copied, or the piece would keep the row groups read
            values = np.array(values, copy=True)
        else:
            aligned = np.full(len(rows), np.nan)
            aligned[rows >= 0] = values[rows[rows >= 0]]
            values = aligned
        values.flags.writeable = False  # shared by every context of the snapshot
        return self.pieces.put((name, shard), values)

    def indicator(self, name: str) -> np.ndarray:
        """One indicator's values for every customer of the base, as floats (NaN where missing): a new array
        of the whole column (a comparison is `indicator_where`, a few values `indicator_at`)."""
        pieces = in_parallel(lambda shard: self.indicator_piece(name, shard), range(len(self.shards)))
        return np.concatenate(pieces) if pieces else np.empty(0)

    def indicator_at(self, name: str, positions: np.ndarray) -> np.ndarray:
        """One indicator's values at base positions (ascending), read only from the shards holding them."""
        bounds = np.searchsorted(positions, [start for start, _ in self.shards[1:]])
        groups = np.split(positions, bounds)
        chosen = [(shard, at) for shard, at in enumerate(groups) if len(at)]

        def gather(item: tuple[int, np.ndarray]) -> np.ndarray:
            shard, at = item
            values: np.ndarray = self.indicator_piece(name, shard)[at - self.shards[shard][0]]
            return values

        found = in_parallel(gather, chosen)
        return np.concatenate(found) if found else np.empty(0)

    def indicator_where(self, name: str, test: Callable[[np.ndarray], np.ndarray]) -> BitMap:
        """The customers whose value of one indicator passes `test` (values → flags), shard by shard."""

        def members(shard: int) -> BitMap:
            start, _ = self.shards[shard]
            return self._where_from(start, test(self.indicator_piece(name, shard)))

        return BitMap().union(*in_parallel(members, range(len(self.shards))))  # no shards: nobody

    def _where_from(self, start: int, mask: np.ndarray) -> BitMap:
        """The customers at base positions start + i where `mask[i]` is true."""
        if self.dense:
            return bitmap_from_mask(int(self.uids[0]) + start, mask)
        return BitMap(array("I", self.uids[start : start + len(mask)][mask].tobytes()))

    def recall(self, key: str) -> FrozenBitMap | None:
        """A remembered condition result, if it has been built on this snapshot."""
        return self._memo.get(key)

    def remember(self, key: str, build: Callable[[], AbstractBitMap]) -> FrozenBitMap:
        """The members of a condition that depends on the snapshot alone, built once per snapshot.

        An editor previews a rule again and again, changing one condition at a time: the others are then
        set operations on bitmaps already built. Frozen, so no caller can change a shared result.
        """
        found = self._memo.get(key)
        if found is not None:
            return found
        built = FrozenBitMap(build())
        size = bitmap_bytes(built)
        limit = self.pieces.budget // 4
        with self._memo_lock:
            if key in self._memo:
                return self._memo[key]
            if size > limit:
                return built  # larger than all results may be together: handed back, not kept
            # The oldest go first: a bound on memory, not a cache policy.
            while self._memo and (len(self._memo) >= MEMO_ENTRIES or self._memo_bytes + size > limit):
                self._memo_bytes -= bitmap_bytes(self._memo.pop(next(iter(self._memo))))
            self._memo[key] = built
            self._memo_bytes += size
            return built

    @cached_property
    def attributes(self) -> pd.DataFrame:
        """The customers snapshot on or before the snapshot date, one row per customer of the base."""
        info = self.versions.get("customers")
        if info is None:
            raise NotFoundError("no customers snapshot; import customers first")
        customers = self.analytics.read_version("customers", info)
        frame = customers.drop_columns(["attributes"]).to_pandas()
        aligned: pd.DataFrame = self.base.to_pandas().merge(frame, on="customer_no", how="left")
        return aligned

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
        """Looked up by uid in the snapshot (a row group each), and kept: an editor's previews of one rule
        and its edits mostly show the same first members."""
        known = self._numbers
        found = {uid: number for uid in members if (number := known.get(uid)) is not None}
        missing = [uid for uid in members if uid not in found]
        if missing:
            rows = self._read(TAG_VALUES.name, ["uid", "customer_no"], where_in=("uid", missing))
            assert rows is not None
            fetched = dict(zip(rows["uid"].to_pylist(), rows["customer_no"].to_pylist(), strict=True))
            found.update(fetched)
            if len(known) + len(fetched) > KNOWN_NUMBERS:
                known.clear()  # a bound on memory; the base itself is the place for many numbers
            known.update(fetched)
        return [found[uid] for uid in members]

    def bitmap_of(self, customer_numbers: list[str] | pd.Series) -> BitMap:
        """The uids of customer numbers that are in the base."""
        uid_of = self.uid_of
        return BitMap([uid_of[c] for c in customer_numbers if c in uid_of])


def bitmap_bytes(bitmap: AbstractBitMap) -> int:
    """The bytes a bitmap's containers hold."""
    stats = bitmap.get_statistics()
    return int(
        stats["n_bytes_array_containers"]
        + stats["n_bytes_run_containers"]
        + stats["n_bytes_bitset_containers"]
    )


def snapshot_data(analytics: Any, snapshot: date) -> SnapshotData:
    """The data of one tag snapshot date, shared with earlier callers while its files are unchanged (the tag
    values and bitmaps, the indicators, and the customers snapshot attributes come from)."""
    sources = [
        (TAG_VALUES.name, snapshot),
        (TAG_BITMAPS.name, snapshot),
        (INDICATOR_VALUES.name, snapshot),
        ("customers", analytics.latest_partition_on_or_before("customers", snapshot)),
    ]
    data: SnapshotData = analytics.derived(
        f"segments.snapshot:{snapshot.isoformat()}",
        sources,
        lambda versions: SnapshotData(analytics, snapshot, versions, analytics.derived_budget_bytes),
    )
    return data


@dataclass
class Context:
    """The data a rule is evaluated against, as of `at`: one snapshot's data and the events before `at`."""

    env: TagEnv
    at: datetime
    data: SnapshotData
    segment_rule: Callable[[str], Any]
    list_members: Callable[[str], list[str]]

    @property
    def analytics(self) -> Any:
        """The analytical store."""
        return self.env.analytics

    @property
    def snapshot(self) -> date:
        """The tag snapshot's date."""
        return self.data.snapshot

    # The snapshot's readers, by name (what rules, insight and journeys ask a context for).

    @property
    def base(self) -> pa.Table:
        """(uid, customer_no) of every customer, sorted by uid."""
        return self.data.base

    @property
    def uids(self) -> np.ndarray:
        """Every customer's uid, ascending."""
        return self.data.uids

    @property
    def universe(self) -> BitMap:
        """The whole customer base (a copy the caller may change; cheap: the base is mostly runs)."""
        return BitMap(self.data.universe)

    @property
    def uid_of(self) -> dict[str, int]:
        """customer_no → uid."""
        return self.data.uid_of

    @property
    def tag_bitmaps(self) -> dict[tuple[str, str], FrozenBitMap]:
        """(tag, value) → members, for every tag."""
        return self.data.tag_bitmaps

    @property
    def indicator_names(self) -> list[str]:
        """The indicators the snapshot holds."""
        return self.data.indicator_names

    @property
    def attributes(self) -> pd.DataFrame:
        """The customers snapshot, one row per customer of the base."""
        return self.data.attributes

    def positions(self, uids: np.ndarray) -> np.ndarray:
        """Where each of `uids` (all in the base, ascending) sits in the base."""
        return self.data.positions(uids)

    def where(self, mask: np.ndarray) -> BitMap:
        """The customers at the positions where `mask` is true."""
        return self.data.where(mask)

    def tag_values(self, tag: str) -> dict[str, FrozenBitMap]:
        """value → members of one tag."""
        return self.data.tag_values(tag)

    def indicator(self, name: str) -> np.ndarray:
        """One indicator's values for every customer of the base (NaN where missing)."""
        return self.data.indicator(name)

    def indicator_at(self, name: str, positions: np.ndarray) -> np.ndarray:
        """One indicator's values at base positions (ascending)."""
        return self.data.indicator_at(name, positions)

    def indicator_where(self, name: str, test: Callable[[np.ndarray], np.ndarray]) -> BitMap:
        """The customers whose value of one indicator passes `test`."""
        return self.data.indicator_where(name, test)

    def recall(self, key: str) -> FrozenBitMap | None:
        """A remembered condition result."""
        return self.data.recall(key)

    def remember(self, key: str, build: Callable[[], AbstractBitMap]) -> FrozenBitMap:
        """A snapshot condition's members, built once per snapshot."""
        return self.data.remember(key, build)

    def customer_numbers(self, members: AbstractBitMap) -> list[str]:
        """The customer numbers of a bitmap of uids, in uid order."""
        return self.data.customer_numbers(members)

    def bitmap_of(self, customer_numbers: list[str] | pd.Series) -> BitMap:
        """The uids of customer numbers that are in the base."""
        return self.data.bitmap_of(customer_numbers)

    # What depends on `at`: the events.

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
