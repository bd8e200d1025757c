"""Journey routing's partitions and where they read: the event log, or the routed stream (ADR 0005).

Routing is split by a hash of the customer number into N partitions, each with its own offset.
- **From the log** (`journey_routing_source = "log"`): partition `journeys:i/N` reads the whole event log and
  keeps its customers' events; its offset is in the log.
- **From the routed stream** (`"routed"`, with `event_log = "nats"`): a republisher (consumer `routed`, its
  offset in the log) hands each event One ID has linked to the routed stream on its customer's subject, and
  partition `journeys-routed:i/N` reads only its own subjects; its offset is in the routed stream.

A change of N or of source is made without routing any event twice or never: the old partitions are routed
up to a bound, then replaced, in one transaction, by the new ones at the matching place (`layout_to_route`).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, or_, select
from sqlalchemy.exc import IntegrityError

from touchpoint.ingest.ports import RoutedLog
from touchpoint.store.operational.offsets import all_offsets, replace_consumers
from touchpoint.store.operational.schema import consumer_offsets

log = logging.getLogger("touchpoint.journeys")
CONSUMER = "journeys"  # partitions that read the event log
ROUTED = "journeys-routed"  # partitions that read the routed stream
REPUBLISHER = "routed"  # One ID's republisher to the routed stream: its offset is in the event log


@dataclass(frozen=True)
class Layout:
    """The routing partitions to route now: their names, whether they read the routed stream, and the
    offset (in what they read) they may not pass while an older layout is being replaced (None: none)."""

    names: list[str]
    routed: bool
    bound: int | None


def partition_names(partitions: int, prefix: str = CONSUMER) -> list[str]:
    """The routing consumers' names: `journeys` alone, or `journeys:i/N` for each of N partitions (with
    prefix `journeys-routed` for the partitions of the routed stream)."""
    if partitions == 1:
        return [prefix]
    return [f"{prefix}:{i}/{partitions}" for i in range(partitions)]


def partition_of(customer: str, partitions: int) -> int:
    """The partition a customer's events are routed in (stable across processes and releases; equal to its
    routed subject modulo N whenever N divides 64)."""
    return zlib.crc32(customer.encode("utf-8")) % partitions


def partition_place(name: str) -> tuple[str, int, int] | None:
    """A routing consumer's prefix, partition and partition count from its name (None: another consumer)."""
    for prefix in (CONSUMER, ROUTED):
        if name == prefix:
            return prefix, 0, 1
    prefix, _, rest = name.partition(":")
    index, _, total = rest.partition("/")
    if prefix not in (CONSUMER, ROUTED) or not index.isdigit() or not total.isdigit():
        return None
    if int(index) >= int(total):
        return None
    return prefix, int(index), int(total)


def reads_routed_stream(consumer: str) -> bool:
    """Whether a consumer is a routing partition of the routed stream (its offset is in that stream)."""
    place = partition_place(consumer)
    return place is not None and place[0] == ROUTED


def log_routing_offsets(offsets: Mapping[str, int]) -> list[int]:
    """The offsets, in the event log, of journey routing's consumers that read it: the log partitions and
    the republisher (empty before routing has begun)."""
    return [
        offset
        for name, offset in offsets.items()
        if name == REPUBLISHER or ((place := partition_place(name)) is not None and place[0] == CONSUMER)
    ]


def layout_to_route(env: Any, wanted: int, *, routed: bool) -> Layout:
    """The partitions to route now: `wanted` of them from the routed stream (`env.routed`) when `routed`,
    else from the log. A layout stored before is routed up to its bound first, then replaced (see the
    module)."""
    stream: RoutedLog | None = env.routed
    if routed and stream is None:
        raise RuntimeError("journey routing from the routed stream needs event_log = 'nats'")
    return _layout(env, wanted, stream if routed else None)


def _layout(env: Any, wanted: int, routed: RoutedLog | None) -> Layout:
    target = partition_names(wanted, ROUTED if routed is not None else CONSUMER)
    with env.ops.engine.connect() as connection:
        stored = _routing_offsets(connection)
    layouts = sorted({(place[0], place[2]) for name in stored if (place := partition_place(name))})
    if not layouts:
        _begin(env, target, stored, routed)
        return Layout(target, routed is not None, None)
    target_layout = (ROUTED if routed is not None else CONSUMER, wanted)
    if layouts == [target_layout]:
        missing = [name for name in target if name not in stored]
        if missing:  # a deployment whose partitions were made one by one, as releases before 40 did
            _add_rows(env, missing)
        return Layout(target, routed is not None, None)
    prefix, count = next(layout for layout in layouts if layout != target_layout)
    old = partition_names(count, prefix)
    missing = [name for name in old if name not in stored]
    if missing:  # the old layout must reach its bound whole before it is replaced
        _add_rows(env, missing)
        return Layout(old, prefix == ROUTED, max(stored[name] for name in old if name in stored))
    if prefix == CONSUMER:
        return _replace_log_layout(env, stored, old, target, routed)
    stream: RoutedLog | None = routed or env.routed  # back to the log: the old partitions still read it
    if stream is None:
        raise RuntimeError("journey routing partitions read a routed stream, but event_log is not nats")
    return _replace_routed_layout(env, stored, old, count, target, stream, back_to_log=routed is None)


def _replace_log_layout(
    env: Any, stored: dict[str, int], old: list[str], target: list[str], routed: RoutedLog | None
) -> Layout:
    """Log partitions route up to the furthest of them (each reads the whole log, so each reaches it), then
    the new layout starts there: log partitions at that offset, or the republisher at it with routed
    partitions at the routed stream's head."""
    furthest = max(stored[name] for name in old if name in stored)
    if any(stored.get(name) != furthest for name in old):
        return Layout(old, False, furthest)  # not there yet: no need to lock anything to know it
    # Read before the transaction (no network call inside one). Nothing publishes to the routed stream
    # while no republisher offset exists, so its head cannot move meanwhile.
    head = routed.head() if routed is not None else 0
    with env.ops.begin() as connection:
        held = _locked_routing(connection)
        if set(held) != set(stored) or any(held.get(name) != furthest for name in old):
            return Layout(old, False, furthest)  # not there yet, or another worker changed the layout
        if routed is None:
            replace_consumers(connection, list(held), target, furthest, env.clock.now())
        else:
            _drop(connection, list(held))
            _start_routed(connection, target, republisher=furthest, at=head, now=env.clock.now())
    log.info("journey routing: %s from event-log offset %d", target[0], furthest)
    return Layout(target, routed is not None, None)


def _replace_routed_layout(
    env: Any,
    stored: dict[str, int],
    old: list[str],
    count: int,
    target: list[str],
    routed: RoutedLog,
    *,
    back_to_log: bool,
) -> Layout:
    """Routed partitions route up to a bound: the furthest of them for a new count (the republisher goes on
    publishing past it, for the new ones), the stream's head when routing goes back to the log (the
    republisher is stopped: it runs only in routed mode). A partition has reached the bound when it has no
    record at or below it; then the new layout replaces them there."""
    bound = routed.head() if back_to_log else max(stored[name] for name in old if name in stored)
    reached = {
        name: offset
        for index, name in enumerate(old)
        if (offset := stored.get(name, 0)) >= bound
        or (following := routed.next_offset(offset, index=index, count=count)) is None
        or following > bound
    }
    if len(reached) < len(old):
        return Layout(old, True, bound)
    start = 0
    if back_to_log:
        # The log partitions start after what the republisher committed and what it published: a batch it
        # published but did not commit (it was stopped) is routed already.
        start = max(stored.get(REPUBLISHER, 0), routed.last_source() or 0)
    with env.ops.begin() as connection:
        held = _locked_routing(connection)
        if set(held) != set(stored) or any(held.get(name) != offset for name, offset in reached.items()):
            return Layout(old, True, bound)  # a partition moved since it was checked, or the layout changed
        if back_to_log:
            replace_consumers(connection, list(held), target, start, env.clock.now())
        else:
            _drop(connection, [name for name in held if name != REPUBLISHER])
            _start_routed(connection, target, republisher=None, at=bound, now=env.clock.now())
    log.info("journey routing: %s from offset %d", target[0], start if back_to_log else bound)
    return Layout(target, not back_to_log, None)


def _routing_offsets(connection: Connection) -> dict[str, int]:
    """Every routing consumer's offset: partitions of either kind and the republisher."""
    return {n: o for n, o in all_offsets(connection).items() if _is_routing(n)}


def _is_routing(name: str) -> bool:
    return name == REPUBLISHER or partition_place(name) is not None


def _locked_routing(connection: Connection) -> dict[str, int]:
    """Every routing consumer's offset, their rows locked until the transaction ends: a layout is replaced
    only if it is still the one its checks were made on."""
    c = consumer_offsets.c
    named = or_(c.consumer.startswith(CONSUMER, autoescape=True), c.consumer == REPUBLISHER)
    rows = connection.execute(select(c.consumer, c.offset).where(named).with_for_update())
    return {name: int(offset) for name, offset in rows if _is_routing(name)}


def _begin(env: Any, target: list[str], stored: dict[str, int], routed: RoutedLog | None) -> None:
    """Make the first layout's rows (partitions read only rows that exist: a worker still routing a layout
    another has replaced finds its rows gone and stops). From the log they start at 0, the log's beginning;
    from the routed stream at its head, with the republisher (unless it exists) at the log's beginning."""
    head = routed.head() if routed is not None else 0  # before the transaction: no network call inside
    now = env.clock.now()
    rows = [{"consumer": name, "offset": head, "updated_at": now} for name in target]
    if routed is not None and REPUBLISHER not in stored:
        rows.append({"consumer": REPUBLISHER, "offset": 0, "updated_at": now})
    try:
        with env.ops.begin() as connection:
            if any(partition_place(name) for name in _locked_routing(connection)):
                return  # another worker began at the same moment
            connection.execute(consumer_offsets.insert(), rows)
    except IntegrityError:
        pass  # another worker began at the same moment (the rows did not exist to be locked)


def _add_rows(env: Any, names: list[str]) -> None:
    """Make the missing partitions' rows at offset 0 (where a partition made on first use began)."""
    now = env.clock.now()
    try:
        with env.ops.begin() as connection:
            connection.execute(
                consumer_offsets.insert(), [{"consumer": n, "offset": 0, "updated_at": now} for n in names]
            )
    except IntegrityError:
        pass  # another worker made them at the same moment


def _drop(connection: Connection, names: list[str]) -> None:
    connection.execute(delete(consumer_offsets).where(consumer_offsets.c.consumer.in_(names)))


def _start_routed(
    connection: Connection, partitions: list[str], *, republisher: int | None, at: int, now: datetime
) -> None:
    """Put the routed partitions at offset `at` of the routed stream, and the republisher (unless None: it
    stays where it is) at `republisher` in the log."""
    names = [*partitions, *([REPUBLISHER] if republisher is not None else [])]
    _drop(connection, names)
    rows = [{"consumer": n, "offset": at, "updated_at": now} for n in partitions]
    if republisher is not None:
        rows.append({"consumer": REPUBLISHER, "offset": republisher, "updated_at": now})
    connection.execute(consumer_offsets.insert(), rows)
