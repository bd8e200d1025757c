"""The collector's one set of limits, enforced while a request is parsed and before anything is stored.

A request is refused whole (413 or 400, naming the setting) when it is too big to look at: its body, its
inflated size, the number of JSON values in it (checked on the raw bytes, before the parser builds a single
object, so that memory stays bounded), its events, or the nesting of one event. One event that breaks a
per-event limit (properties, string length) goes to the quarantine like any malformed message.

The nesting limit exists because of storage: orjson, which writes the event log, the quarantine and the
analytical store, refuses to serialise containers nested more than 254 deep. An event is stored wrapped in at
most `STORAGE_WRAPPING` further levels (the log record, its payload, the quarantine's envelope), so an event
may nest at most `MAX_STORABLE_DEPTH` levels — the setting cannot go past it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from touchpoint.ingest.collector.model import EventProblem
from touchpoint.ingest.collector.payload import PayloadError, maybe_gunzip, parse_json

ORJSON_MAX_DEPTH = 254
STORAGE_WRAPPING = 4
MAX_STORABLE_DEPTH = ORJSON_MAX_DEPTH - STORAGE_WRAPPING
# Where a request's events sit: {"batch": [event]} puts an event two levels down.
BATCH_WRAPPING = 2
# A JSON string (matched whole, so that commas and brackets inside it are not counted) or a comma or opening
# bracket outside strings.
_STRING_OR_STRUCTURE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[,{\[]')
_QUOTE = ord('"')


@dataclass(frozen=True)
class CollectorLimits:
    """Every limit a collector request meets; the setting named in parentheses is what a refusal quotes.

    `max_values` bounds what the JSON parser may build for one request (each value costs up to ~80 bytes of
    Python objects), and `concurrent_batches` how many requests are decoded and stored at once, so that
    resident memory stays bounded whatever arrives.
    """

    max_body: int = 8 << 20  # collector_max_body_mb
    max_inflated: int = 32 << 20  # collector_max_inflated_mb
    max_events: int = 1_000  # collector_max_events
    max_values: int = 200_000  # collector_max_values
    max_properties: int = 1_000  # collector_max_properties
    max_depth: int = 32  # collector_max_depth
    max_value_chars: int = 65_536  # collector_max_value_chars
    concurrent_batches: int = 4  # collector_concurrent_batches

    def __post_init__(self) -> None:
        if not 3 <= self.max_depth <= MAX_STORABLE_DEPTH:
            raise ValueError(f"collector_max_depth must be between 3 and {MAX_STORABLE_DEPTH}")

    def inflating_at_most(self, inflate_limit: int | None) -> CollectorLimits:
        """These limits with another inflated size (callers that pass only that limit)."""
        return self if inflate_limit is None else replace(self, max_inflated=inflate_limit)

    def parse(self, data: bytes) -> Any:
        """JSON from a request body: inflated within `max_inflated`, its values counted, then parsed."""
        inflated = maybe_gunzip(data, self.max_inflated)
        self.check_values(inflated)
        return parse_json(inflated)

    def check_values(self, data: bytes) -> None:
        """Refuse JSON holding more values than `max_values`, from its bytes, before it is parsed (413)."""
        if _values_at_most(data) <= self.max_values:
            return
        if _values_exceed(data, self.max_values):
            raise PayloadError(
                "too_many_values",
                f"the payload holds more than {self.max_values:,} JSON values (collector_max_values)",
                status=413,
            )

    def check_batch(self, messages: list[Any]) -> None:
        """Refuse a batch with more events than `max_events` (413) or an event nested deeper than
        `max_depth` (400): too deep to store, it could not even be kept in the quarantine."""
        if len(messages) > self.max_events:
            raise PayloadError(
                "too_many_events",
                f"the batch holds {len(messages):,} events, more than {self.max_events:,} "
                "(collector_max_events)",
                status=413,
            )
        for index, message in enumerate(messages):
            if _deeper_than(message, self.max_depth):
                raise PayloadError(
                    "too_deep",
                    f"event {index} nests objects and arrays deeper than {self.max_depth} levels "
                    "(collector_max_depth)",
                )

    def check_event(self, message: Any) -> None:
        """Quarantine one event with more than `max_properties` members in an object or array, or a string
        (a value or a key) longer than `max_value_chars`."""
        if (members := _largest_over(message, self.max_properties, self.max_value_chars)) is None:
            return
        if members < 0:
            raise EventProblem(
                "value_too_long",
                f"a value is longer than {self.max_value_chars:,} characters (collector_max_value_chars)",
            )
        raise EventProblem(
            "too_many_properties",
            f"an object or array holds {members:,} members, more than {self.max_properties:,} "
            "(collector_max_properties)",
        )


DEFAULT_LIMITS = CollectorLimits()


def _values_at_most(data: bytes) -> int:
    """An upper bound of the JSON values in `data`: each value but the first of its container follows a comma,
    and each container adds one. C-speed, but it counts the commas and brackets inside strings too."""
    return data.count(b",") + data.count(b"{") + data.count(b"[") + 1


def _values_exceed(data: bytes, limit: int) -> bool:
    """The same count with strings skipped, stopping as soon as it passes `limit`: exact for valid JSON but
    for an empty object or array, which counts twice.

    A loop over matches rather than one substitution: it lets other threads run (one `re.sub` over 32 MB
    held the GIL for a second), and it ends early — strings are keys or values, so it iterates at most about
    three times `limit`."""
    values = 1
    for match in _STRING_OR_STRUCTURE.finditer(data):
        if data[match.start()] != _QUOTE:
            values += 1
            if values > limit:
                return True
    return values > limit


def _deeper_than(value: Any, limit: int) -> bool:
    """True when `value` nests objects and arrays more than `limit` levels (itself being level 1)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children = current.values() if isinstance(current, dict) else current
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _largest_over(value: Any, max_members: int, max_chars: int) -> int | None:
    """The size of the first object or array in `value` with more than `max_members` members, -1 for a
    string longer than `max_chars`, None when there is neither. One loop without a generator: it runs for
    every event the collector takes."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            if len(current) > max_chars:
                return -1
            continue
        if isinstance(current, dict):
            if len(current) > max_members:
                return len(current)
            for key, child in current.items():
                if isinstance(key, str) and len(key) > max_chars:
                    return -1
                stack.append(child)
        elif isinstance(current, list):
            if len(current) > max_members:
                return len(current)
            stack.extend(current)
    return None
