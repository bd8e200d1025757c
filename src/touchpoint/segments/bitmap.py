"""The fast path: a rule evaluated on Roaring bitmaps (tags), column scans (indicators, attributes) and one
query per behaviour condition, combined with bitmap set operations."""

from __future__ import annotations

import itertools
from array import array
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from pyroaring import AbstractBitMap, BitMap

from touchpoint.core.errors import ValidationError
from touchpoint.segments.context import Context, gap_of, property_filters
from touchpoint.segments.model import (
    AllGroup,
    AnyGroup,
    AttributeCondition,
    EventCondition,
    IndicatorCondition,
    ListCondition,
    NotGroup,
    Rule,
    SegmentCondition,
    SequenceCondition,
    TagCondition,
    Window,
)
from touchpoint.segments.validate import attribute_test
from touchpoint.tags.evaluate import mask
from touchpoint.tags.model import Compare

FEW = 16
"""Test a column condition on the candidates other conditions leave only when they are under 1/FEW of the
base. Gathering k scattered values of a column touches about k cache lines (64 bytes each), so past about an
eighth of the base it reads as much memory as a pass over the whole column, which `where` turns into a
bitmap that later previews reuse."""


def evaluate(rule: Rule, context: Context, visiting: tuple[str, ...] = ()) -> BitMap:
    """The uids the rule selects from the customer base."""
    if isinstance(rule, AllGroup):
        return _all(rule, context, visiting)
    if isinstance(rule, AnyGroup):
        return BitMap.union(*(evaluate(part, context, visiting) for part in rule.any))
    if isinstance(rule, NotGroup):
        return context.universe - evaluate(rule.not_, context, visiting)
    if isinstance(rule, SegmentCondition):
        if rule.segment in visiting:
            raise ValidationError(f"segment cycle {' → '.join([*visiting, rule.segment])}")
        return evaluate(context.segment_rule(rule.segment), context, (*visiting, rule.segment))
    return BitMap(_leaf(rule, context))  # a copy: remembered results are shared


def _all(rule: AllGroup, context: Context, visiting: tuple[str, ...]) -> BitMap:
    """Intersect the parts, smallest first, testing column conditions on the candidates when they are few.

    A column condition (indicator, attribute) already remembered is a bitmap like any other. One that is not
    is tested on the candidates the other parts leave if they are few (see FEW); otherwise it is built over
    the whole base, which costs about the same as testing that many candidates and is remembered for the next
    preview of a rule that shares the condition.
    """
    columns = [p for p in rule.all if isinstance(p, IndicatorCondition | AttributeCondition)]
    parts: list[AbstractBitMap] = [evaluate(p, context, visiting) for p in rule.all if p not in columns]
    pending: list[IndicatorCondition | AttributeCondition] = []
    for part in columns:
        known = context.recall(_key(part))
        if known is None:
            pending.append(part)
        else:
            parts.append(known)
    if parts and pending:
        found = intersect(parts)
        if len(found) * FEW < len(context.uids):
            return _test(found, pending, context)
        parts = [found]
    return intersect([*parts, *(_leaf(p, context) for p in pending)])


def intersect(bitmaps: list[AbstractBitMap]) -> BitMap:
    """The members common to every bitmap (at least one), as a new bitmap.

    Smallest first, so each step can only shrink what the next has to visit.
    """
    ordered = sorted(bitmaps, key=len)
    result = BitMap(ordered[0])
    for bitmap in ordered[1:]:
        if not result:
            break
        result &= bitmap
    return result


def _test(found: BitMap, columns: list[IndicatorCondition | AttributeCondition], context: Context) -> BitMap:
    """The members of `found` passing every column condition, each tested on those the previous left."""
    positions = context.positions(np.frombuffer(found.to_array(), dtype=np.uint32))
    for rule in columns:
        if not len(positions):
            break
        positions = positions[_mask(rule, context, positions)]
    # array('I') is the buffer pyroaring ingests without a Python-level loop.
    return BitMap(array("I", context.uids[positions].tobytes()))


def _mask(rule: IndicatorCondition | AttributeCondition, context: Context, at: np.ndarray) -> np.ndarray:
    """A column condition over the base positions `at` (ascending)."""
    if isinstance(rule, IndicatorCondition):
        return _compare(context.indicator_at(rule.indicator, at), rule.op, rule.value)
    op, value = attribute_test(rule)  # an unknown attribute or a wrong value, before reading the column
    return _attribute_mask(rule.attribute, op, value, context.attributes[rule.attribute].iloc[at])


def _members(rule: IndicatorCondition | AttributeCondition, context: Context) -> BitMap:
    """The customers of the base passing a column condition: an indicator's shard by shard."""
    if isinstance(rule, IndicatorCondition):
        return context.indicator_where(rule.indicator, lambda values: _compare(values, rule.op, rule.value))
    op, value = attribute_test(rule)
    series = context.attributes[rule.attribute]
    return context.where(_attribute_mask(rule.attribute, op, value, series))


def _key(rule: Rule) -> str:
    """What identifies a condition's result among those a context remembers."""
    return f"{type(rule).__name__}:{rule.model_dump_json(by_alias=True)}"


def _leaf(rule: Rule, context: Context) -> AbstractBitMap:
    if isinstance(rule, TagCondition):
        return context.remember(_key(rule), lambda: _tag(rule, context))
    if isinstance(rule, IndicatorCondition | AttributeCondition):
        return context.remember(_key(rule), lambda: _members(rule, context))
    if isinstance(rule, EventCondition):
        return _event(rule, context)
    if isinstance(rule, SequenceCondition):
        return context.bitmap_of(sorted(sequence_customers(rule, context)))
    assert isinstance(rule, ListCondition)
    return context.bitmap_of(context.list_members(rule.list_))


def _tag(rule: TagCondition, context: Context) -> AbstractBitMap:
    bitmaps = context.tag_values(rule.tag)
    having = BitMap.union(*bitmaps.values()) if bitmaps else BitMap()
    if rule.exists is not None:
        return having if rule.exists else context.universe - having
    listed = rule.in_ if rule.in_ is not None else rule.not_in or []
    chosen = [bitmaps.get(value, BitMap()) for value in listed]
    union = BitMap.union(*chosen) if chosen else BitMap()
    return union if rule.in_ is not None else having - union


def _compare(values: np.ndarray, op: str, value: Any) -> np.ndarray:
    """Where `values op value` holds; NaN (no value) never does."""
    with np.errstate(invalid="ignore"):
        if op == "between":
            low, high = value
            between: np.ndarray = (values >= low) & (values <= high)
            return between
        compared: np.ndarray = {
            "=": lambda: values == value,
            "!=": lambda: (values != value) & ~np.isnan(values),
            ">": lambda: values > value,
            ">=": lambda: values >= value,
            "<": lambda: values < value,
            "<=": lambda: values <= value,
        }[op]()
        return compared


def _attribute_mask(attribute: str, op: str, value: Any, series: pd.Series) -> np.ndarray:
    """Where an attribute condition (`attribute_test`'s operator and typed value) holds, by the tag rules'
    comparison (a missing value satisfies nothing but `exists: false`)."""
    condition = Compare(attribute=attribute, op=op, value=value)
    return mask(condition, series.to_frame(attribute), {}, f"attribute {attribute}")


def event_counts(rule: EventCondition, context: Context) -> pd.Series:
    """Matching events per customer number (customers with none are absent)."""
    events = property_filters(context.events([rule.event], Window(rule.within)), rule.where)
    counts = events.group_by("customer_no").agg(n=events.count()).to_pandas()
    return pd.Series(counts["n"].to_numpy(), index=counts["customer_no"].to_numpy())


def _event(rule: EventCondition, context: Context) -> BitMap:
    counts = event_counts(rule, context)
    passing = context.bitmap_of(counts[[rule.count.holds(int(n)) for n in counts]].index.tolist())
    if rule.count.holds(0):
        return (context.universe - context.bitmap_of(counts.index.tolist())) | passing
    return passing


def sequence_customers(rule: SequenceCondition, context: Context) -> set[str]:
    """Customer numbers who did the steps in order, each within the gap of the previous, inside the window.

    A chain is distinct events, one per step, each at or after the previous step's time and at most `gap`
    after it; steps at one instant may be filled by those events in any order.

    One pass over the step events by customer and instant, with a small state machine per customer:
    `reached[k]` is the latest instant a valid chain reached step k (the latest is best for later gaps).
    """
    rows = _step_rows(rule, context)
    gap = gap_of(rule.gap)
    done: set[str] = set()
    customer: str | None = None
    reached: list[Any] = []
    instants = itertools.groupby(
        zip(rows["customer_no"], rows["time"], rows["event_id"], rows["step"], strict=True),
        key=lambda row: (row[0], row[1]),
    )
    for (who, at), group in instants:
        if who != customer:
            customer, reached = who, [None] * len(rule.sequence)
        if who in done:
            continue
        fills: dict[str, set[int]] = {}
        for _, _, event_id, step in group:
            fills.setdefault(event_id, set()).add(int(step))
        for step in _reachable_at(at, list(fills.values()), reached, gap):
            reached[step] = at
        if reached[-1] is not None:
            done.add(who)
    return done


def _reachable_at(at: Any, fills: list[set[int]], reached: list[Any], gap: timedelta) -> set[int]:
    """The steps a chain can reach at instant `at`, given the steps each event of that instant can fill.

    A chain reaches step k here when it continues a chain that reached some step j - 1 earlier (within the
    gap; or starts at j = 0) with steps j..k filled by distinct events of this instant.
    """
    reachable: set[int] = set()
    for start in sorted(set().union(*fills)):  # a run can only start at a step some event here fills
        if start > 0 and (reached[start - 1] is None or at - reached[start - 1] > gap):
            continue
        reachable.update(_run_from(start, fills, len(reached)))
    return reachable


def _run_from(start: int, fills: list[set[int]], steps: int) -> range:
    """Steps start..k that distinct events of one instant can fill together, for the largest such k.

    A step may be fillable by several events and an event may fill several steps, so this is a bipartite
    matching, grown one step at a time by augmenting paths.
    """
    owner: dict[int, int] = {}  # event → the step it fills
    end = start
    while end < steps and _augment(end, fills, owner, set()):
        end += 1
    return range(start, end)


def _augment(step: int, fills: list[set[int]], owner: dict[int, int], tried: set[int]) -> bool:
    """Find `step` an event, moving other steps to other events where needed."""
    for event, can in enumerate(fills):
        if step in can and event not in tried:
            tried.add(event)
            if event not in owner or _augment(owner[event], fills, owner, tried):
                owner[event] = step
                return True
    return False


def _step_rows(rule: SequenceCondition, context: Context) -> pd.DataFrame:
    """Every event matching some step, once per step it matches, sorted by customer and time."""
    window = Window(rule.within)
    frames = []
    for index, step in enumerate(rule.sequence):
        events = property_filters(context.events([step.event], window), step.where)
        frames.append(events.select("customer_no", "time", "event_id").to_pandas().assign(step=index))
    rows: pd.DataFrame = pd.concat(frames)
    ordered: pd.DataFrame = rows.sort_values(["customer_no", "time", "event_id", "step"], kind="stable")
    return ordered
