"""One-customer lookups for rendering and policies: the profile (customers snapshot with its extra
attributes), the newest tag and indicator snapshots, and the product shelf. Each snapshot is read once and
kept while its date holds, because a batch of sends asks about many customers of the same day."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from typing import Any

import orjson
import pyarrow as pa

from touchpoint.config import PiiKind
from touchpoint.governance.masking import personal_values
from touchpoint.ingest.model import ATTRIBUTES_COLUMN
from touchpoint.store import AnalyticalStore

_CACHE: dict[tuple[str, str, str], KeyedRows] = {}
_CACHE_LOCK = threading.Lock()
ADDRESS_COLUMNS = {"sms": "phone", "wechat": "wechat_openid", "email": "email", "wecom": "advisor_id"}


class KeyedRows:
    """A snapshot table for lookups by key: key → row index, columns turned into lists on first use."""

    def __init__(self, table: pa.Table | None, key: str = "customer_no", as_of: date | None = None) -> None:
        self.as_of = as_of  # the snapshot's business date
        self._table = table
        keys = table[key].to_pylist() if table is not None and key in table.column_names else []
        self._index = {k: i for i, k in enumerate(keys)}
        self._columns: dict[str, list[Any]] = {}
        # pyarrow builds a new list for each `column_names`: asked per lookup, it cost more than the send.
        self._names = table.column_names if table is not None else []
        self._known = set(self._names)

    @property
    def column_names(self) -> list[str]:
        """The snapshot's columns (without the packed extra attributes)."""
        return [n for n in self._names if n != ATTRIBUTES_COLUMN]

    def _column(self, name: str) -> list[Any] | None:
        if self._table is None or name not in self._known:
            return None
        if name not in self._columns:
            self._columns[name] = self._table[name].to_pylist()
        return self._columns[name]

    def value(self, key: str, name: str) -> Any:
        """One column of one row (None when absent)."""
        position = self._index.get(key)
        column = self._column(name)
        return None if position is None or column is None else column[position]

    def row(self, key: str) -> dict[str, Any]:
        """Every column of one row, extra attributes unpacked beside them (empty when unknown)."""
        position = self._index.get(key)
        if position is None:
            return {}
        found = {name: self._column(name)[position] for name in self.column_names}  # type: ignore[index]
        extra = self.value(key, ATTRIBUTES_COLUMN)
        if extra:
            unpacked = orjson.loads(extra)
            found.update({k: v for k, v in unpacked.items() if k not in found})
        return found

    def extra_names(self, sample: int = 2_000) -> set[str]:
        """The names of the extra columns an import kept (read from the first rows)."""
        column = self._column(ATTRIBUTES_COLUMN) or []
        return {name for packed in column[:sample] if packed for name in orjson.loads(packed)}

    def keys_where(self, name: str, value: Any) -> list[str]:
        """The keys of rows whose column equals `value` (a scan; for rare lookups such as SMS replies)."""
        column = self._column(name)
        if column is None:
            return []
        keys = list(self._index)
        return [keys[i] for i, v in enumerate(column) if v == value]


def snapshot_rows(analytics: AnalyticalStore, table: str, day: date, key: str) -> KeyedRows:
    """The newest partition of a snapshot table on or before `day` (else its earliest), cached by its file:
    a re-import of the same date writes a new file, so running processes see it at once."""
    partitions = analytics.manifest(table).partitions
    if not partitions:
        return KeyedRows(None, key)
    on_or_before = [d for d in partitions if d <= day]
    found = max(on_or_before) if on_or_before else min(partitions)
    cache_key = (str(analytics.root), table, partitions[found].file)
    with _CACHE_LOCK:  # API threads and the worker share the cache
        rows = _CACHE.get(cache_key)
        if rows is None:
            for old in [k for k in _CACHE if k[:2] == cache_key[:2]]:
                del _CACHE[old]
            rows = _CACHE[cache_key] = KeyedRows(analytics.read_partition(table, found), key, found)
    return rows


class Recipients:
    """What rendering and the policies read about customers and products on one business day."""

    def __init__(self, analytics: AnalyticalStore, day: date) -> None:
        self.analytics = analytics
        self.day = day

    @cached_property
    def customers(self) -> KeyedRows:
        """The profile snapshot."""
        return snapshot_rows(self.analytics, "customers", self.day, "customer_no")

    @cached_property
    def products(self) -> KeyedRows:
        """The product shelf."""
        return snapshot_rows(self.analytics, "products", self.day, "product_code")

    @cached_property
    def tags(self) -> KeyedRows:
        """The newest tag snapshot (a wide row per customer)."""
        return snapshot_rows(self.analytics, "tag_values", self.day, "customer_no")

    @cached_property
    def indicators(self) -> KeyedRows:
        """The newest indicator snapshot."""
        return snapshot_rows(self.analytics, "indicator_values", self.day, "customer_no")

    def address(self, channel: str, customer_no: str, profile: dict[str, Any]) -> str | None:
        """Where a channel reaches the customer: phone, openid, email, the advisor's WeCom id, or the customer
        number itself (app push alias, in-app inbox, webhook)."""
        column = ADDRESS_COLUMNS.get(channel)
        if column is None:
            return customer_no
        value = profile.get(column)
        return None if value in (None, "") else str(value)


def render_context(
    recipients: Recipients,
    customer_no: str,
    profile: dict[str, Any],
    payload: dict[str, Any],
    product: dict[str, Any],
    unsubscribe_url: str,
) -> dict[str, Any]:
    """The variables a template sees; tag and indicator rows are read only if the template asks for them."""
    return {
        "customer": profile,
        "tags": LazyRow(lambda c: recipients.tags.row(c), customer_no),  # the snapshot only if asked
        "indicators": LazyRow(lambda c: recipients.indicators.row(c), customer_no),
        "payload": payload,
        "product": product,
        "customer_no": customer_no,
        "unsubscribe_url": unsubscribe_url,
    }


class LazyRow(dict[str, Any]):
    """A customer's tag or indicator row, read only when a template asks for it (values are None for a
    customer the newest snapshot does not hold yet)."""

    def __init__(self, read: Any, customer: str) -> None:
        super().__init__()
        self._read, self._customer, self._loaded = read, customer, False

    def _load(self) -> None:
        if not self._loaded:
            self.update(self._read(self._customer))
            self._loaded = True

    def __getitem__(self, key: str) -> Any:
        self._load()
        if not super().__len__():
            return None  # a customer newer than the snapshot: values unknown yet, not a template fault
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._load()
        return super().__contains__(key)


def known_pii(
    analytics: AnalyticalStore, day: date, customer_no: str, attributes: Mapping[str, PiiKind]
) -> list[tuple[PiiKind, str]]:
    """The personal values the customers snapshot holds for one customer (its name, phone, …), to mask them
    wherever a message or its evidence repeats them."""
    return personal_values(Recipients(analytics, day).customers.row(customer_no), attributes)
