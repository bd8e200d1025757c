"""The bitmap path, the SQL path and a brute-force evaluation on small worlds generated per example: steps at
one instant, gaps exactly at their limit, events at a window's exact start, customers with no indicator value,
uids with gaps, and trading-day windows counted from exchange-calendars' XSHG directly."""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import exchange_calendars
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pyroaring import BitMap

from support import examples
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.identity.service import link_business_ids
from touchpoint.segments.bitmap import _key, evaluate
from touchpoint.segments.service import context_at, read_rule
from touchpoint.segments.sql import evaluate_sql
from touchpoint.tags.layout import TAG_BITMAPS

BEIJING = ZoneInfo("Asia/Shanghai")
XSHG_SESSIONS: list[date] = [s.date() for s in exchange_calendars.get_calendar("XSHG").sessions]
POOL = [f"C{i}" for i in range(1, 7)]
STRANGER = "anon-7"  # a distinct id One ID links to no customer: its events count for nobody
EVENTS = ["login", "fund_detail_view", "fund_subscribe"]
HALF_HOUR = timedelta(minutes=30)
TICK = timedelta(microseconds=1)


def _beijing(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING).astimezone(UTC)


# Evaluation instants around closures: the first session after National Day, a holiday, a Saturday midnight,
# a Qingming midnight, and an ordinary afternoon.
INSTANTS = [
    _beijing(2025, 10, 9, 15),
    _beijing(2025, 10, 8, 9, 30),
    _beijing(2025, 10, 11),
    _beijing(2026, 4, 6),
    _beijing(2026, 3, 31, 15),
]


@dataclass(frozen=True)
class Customer:
    """One customer of the snapshot: uid, an indicator `score` and a tag `tier` and attribute `risk_level`
    that may each be missing."""

    customer_no: str
    uid: int
    score: float | None = None
    tier: str | None = None
    risk: str | None = None
    opened: date | None = None


@dataclass(frozen=True)
class Event:
    event_id: str
    event: str
    distinct_id: str
    time: datetime
    fund_type: str = "equity"


@dataclass(frozen=True)
class World:
    at: datetime
    customers: tuple[Customer, ...]
    events: tuple[Event, ...] = field(default=())


# ---- the independent computation ---------------------------------------------------------------------------


def last_session(at: datetime) -> date:
    """The last XSHG session on or before `at`'s Beijing date."""
    return XSHG_SESSIONS[bisect.bisect_right(XSHG_SESSIONS, at.astimezone(BEIJING).date()) - 1]


def trading_window_start(at: datetime, n: int) -> datetime:
    """The first instant whose events count for the last `n` XSHG sessions up to `at`'s Beijing date: 00:00
    Beijing of the day after the session before them (closed days roll onto the next session)."""
    first = XSHG_SESSIONS.index(last_session(at)) - (n - 1)
    day_after = XSHG_SESSIONS[first - 1] + timedelta(days=1)
    return datetime.combine(day_after, time(0), tzinfo=BEIJING).astimezone(UTC)


def span(text: str) -> timedelta:
    """`12h` or `7d` as a duration."""
    return timedelta(hours=int(text[:-1])) if text.endswith("h") else timedelta(days=int(text[:-1]))


def window_start(at: datetime, within: str) -> datetime:
    """Where a window starts: exclusive at T − span (`h`, `d`), inclusive for `td` (trading_window_start)."""
    if within.endswith("td"):
        return trading_window_start(at, int(within[:-2]))
    return at - span(within)


def inside(world: World, within: str) -> list[Event]:
    """Events of known customers in the window: (T − span, T]; for `td`, events whose session (the next one
    for a closed day) is one of the last n sessions up to T, and not after T."""
    start = window_start(world.at, within)
    known = [e for e in world.events if e.distinct_id in POOL and e.time <= world.at]
    if within.endswith("td"):
        last = last_session(world.at)
        return [e for e in known if e.time >= start and e.time.astimezone(BEIJING).date() <= last]
    return [e for e in known if e.time > start]


def compare(value: Any, op: str, wanted: Any) -> bool:
    """A comparison that no missing value satisfies (SQL's unknown read as false)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    if op == "between":
        return bool(wanted[0] <= value <= wanted[1])
    results = {
        "=": value == wanted,
        "!=": value != wanted,
        ">": value > wanted,
        ">=": value >= wanted,
        "<": value < wanted,
        "<=": value <= wanted,
    }
    return bool(results[op])


def step_matches(event: Event, step: dict[str, Any]) -> bool:
    """The event is the step's and passes its filters (only `fund_type = equity` is generated)."""
    return event.event == step["event"] and all(event.fund_type == w["value"] for w in step.get("where", []))


def did_sequence(world: World, rule: dict[str, Any], customer: str) -> bool:
    """Any chain of distinct events, one per step, each at or after the previous and within the gap."""
    gap = span(rule["gap"])
    mine = [e for e in inside(world, rule["within"]) if e.distinct_id == customer]
    candidates = [[e for e in mine if step_matches(e, step)] for step in rule["sequence"]]
    for chain in itertools.product(*candidates):
        if len({e.event_id for e in chain}) < len(chain):
            continue
        if all(timedelta(0) <= b.time - a.time <= gap for a, b in itertools.pairwise(chain)):
            return True
    return False


def holds(world: World, rule: dict[str, Any], customer: Customer) -> bool:
    """Whether one leaf of a rule holds for one customer."""
    if "tag" in rule:
        if "exists" in rule:
            return (customer.tier is not None) == rule["exists"]
        if "in" in rule:
            return customer.tier in rule["in"]
        return customer.tier is not None and customer.tier not in rule["not_in"]
    if "indicator" in rule:
        return compare(customer.score, rule["op"], rule["value"])
    if "attribute" in rule:
        # risk_level is text; open_date a date, written in rules as YYYY-MM-DD
        value = customer.risk if rule["attribute"] == "risk_level" else customer.opened
        read = (lambda v: v) if rule["attribute"] == "risk_level" else date.fromisoformat
        if "exists" in rule:
            return (value is not None) == rule["exists"]
        if "in" in rule:
            return value in [read(v) for v in rule["in"]]
        if "not_in" in rule:
            return value is not None and value not in [read(v) for v in rule["not_in"]]
        wanted = rule["value"]
        return compare(
            value, rule["op"], [read(v) for v in wanted] if isinstance(wanted, list) else read(wanted)
        )
    if "event" in rule:
        step = {"event": rule["event"], "where": rule.get("where", [])}
        count = sum(
            1
            for e in inside(world, rule["within"])
            if e.distinct_id == customer.customer_no and step_matches(e, step)
        )
        test = rule.get("count", {"op": ">=", "value": 1})
        return compare(count, test["op"], test["value"])
    return did_sequence(world, rule, customer.customer_no)


def brute_force(world: World, rule: dict[str, Any]) -> set[str]:
    """The customer numbers a rule selects, by the documented semantics, in plain Python."""
    if "all" in rule:
        return set.intersection(*(brute_force(world, r) for r in rule["all"]))
    if "any" in rule:
        return set.union(*(brute_force(world, r) for r in rule["any"]))
    if "not" in rule:
        return {c.customer_no for c in world.customers} - brute_force(world, rule["not"])
    return {c.customer_no for c in world.customers if holds(world, rule, c)}


# ---- the world in the store --------------------------------------------------------------------------------


@dataclass
class Store:
    container: Container
    event_days: set[date] = field(default_factory=set)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    home = tmp_path_factory.mktemp("segment-boundaries")
    container = build(load_settings(home), clock=VirtualClock(INSTANTS[0]))
    link_business_ids(env=container, customers=[{"customer_no": c} for c in POOL])
    yield Store(container)
    container.close()


def publish(store: Store, world: World) -> None:
    """Write the world's snapshots on T's Beijing date, and its events, replacing what an earlier example
    wrote (days it used and this one does not become empty)."""
    analytics = store.container.analytics
    day = world.at.astimezone(BEIJING).date()
    people = sorted(world.customers, key=lambda c: c.uid)
    numbers = [c.customer_no for c in people]
    uids = pa.array([c.uid for c in people], pa.int64())
    analytics.replace_partitions(
        "indicator_values",
        {day: pa.table({"uid": uids, "customer_no": numbers, "score": pa.array([c.score for c in people])})},
    )
    tiers = pa.array([c.tier for c in people], pa.string())
    analytics.replace_partitions(
        "tag_values", {day: pa.table({"uid": uids, "customer_no": numbers, "tier": tiers})}
    )
    bitmaps = [
        {"tag": "tier", "value": value, "count": len(m), "bitmap": m.serialize()}
        for value in sorted({c.tier for c in people if c.tier is not None})
        for m in [BitMap(c.uid for c in people if c.tier == value)]
    ]
    analytics.replace_partitions(
        "tag_bitmaps", {day: pa.Table.from_pylist(bitmaps, schema=TAG_BITMAPS.schema)}
    )
    customers = pa.table(
        {
            "customer_no": numbers,
            "risk_level": pa.array([c.risk for c in people], pa.string()),
            "open_date": pa.array([c.opened for c in people], pa.date32()),
        }
    )
    analytics.replace_partitions("customers", {day: customers})
    by_day: dict[date, list[dict[str, Any]]] = {d: [] for d in store.event_days}
    for e in world.events:
        by_day.setdefault(e.time.astimezone(BEIJING).date(), []).append(
            {
                "event_id": e.event_id,
                "event": e.event,
                "distinct_id": e.distinct_id,
                "time": e.time,
                "properties": json.dumps({"fund_type": e.fund_type}),
                "source": "import",
            }
        )
    schema = analytics.layout("events").schema
    analytics.replace_partitions(
        "events", {d: pa.Table.from_pylist(rows, schema=schema) for d, rows in by_day.items()}
    )
    store.event_days = {d for d, rows in by_day.items() if rows}


def members_by_path(store: Store, world: World, rule: dict[str, Any]) -> dict[str, set[str]]:
    """The customer numbers each evaluation path selects, after checking that the bitmap's uids map back to
    the same customer numbers as a plain lookup of the world gives."""
    publish(store, world)
    context = context_at(env=store.container, at=world.at)
    parsed = read_rule(rule)
    number_of = {c.uid: c.customer_no for c in world.customers}
    bitmap = evaluate(parsed, context)
    assert context.customer_numbers(bitmap) == [number_of[uid] for uid in sorted(bitmap)]
    return {
        "bitmap": {number_of[uid] for uid in bitmap},
        "sql": {number_of[uid] for uid in evaluate_sql(parsed, context)},
    }


# ---- generated worlds and rules ----------------------------------------------------------------------------

WINDOWS = ["12h", "1d", "7d", "1td", "3td", "5td"]
GAPS = ["1h", "2h", "1d"]
scores = st.one_of(st.none(), st.just(float("nan")), st.sampled_from([0.0, 1.0, 2.0, 5.0]))
tiers = st.one_of(st.none(), st.sampled_from(["高净值", "大众"]))
risks = st.one_of(st.none(), st.sampled_from(["C1", "C2", "C3"]))


WINDOW_STARTS = {at: [window_start(at, w) - at for w in WINDOWS] for at in INSTANTS}


@st.composite
def customers_of(draw: st.DrawFn) -> tuple[Customer, ...]:
    """A base of some pool customers, uids ascending and sometimes with gaps (persons with no customer)."""
    members = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=len(POOL), unique=True))
    uid = draw(st.integers(1, 4))
    chosen = []
    for number in sorted(members, key=POOL.index):
        chosen.append(Customer(number, uid, draw(scores), draw(tiers), draw(risks)))
        uid += 1 + draw(st.sampled_from([0, 0, 1, 3]))
    return tuple(chosen)


@st.composite
def worlds(
    draw: st.DrawFn,
    events: tuple[int, int] = (0, 10),
    names: tuple[str, ...] = tuple(EVENTS),
    within: str | None = None,
) -> World:
    """Events cluster on a few instants (window starts among them) and land at, just before or just after
    whole gaps from them, so steps at one instant and gaps exactly at their limit are common. With `within`,
    the instants lie in that window."""
    at = draw(st.sampled_from(INSTANTS))
    customers = draw(customers_of())
    starts = WINDOW_STARTS[at] if within is None else [window_start(at, within) - at]
    earliest = min(starts) // HALF_HOUR
    anywhen = st.integers(earliest, 2).map(lambda k: k * HALF_HOUR)
    anchors = draw(st.lists(st.one_of(st.sampled_from(starts), anywhen), min_size=1, max_size=3))
    actors = [c.customer_no for c in customers[:2]]
    count = draw(st.integers(*events))
    ids = draw(st.permutations(range(count)))  # event ids in an order unrelated to time
    events = []
    for index in range(count):
        offset = draw(st.sampled_from(anchors)) + draw(
            st.sampled_from(
                [timedelta(0), timedelta(0), timedelta(hours=1), timedelta(hours=2), timedelta(days=1)]
            )
        )
        jitter = draw(st.sampled_from([timedelta(0), timedelta(0), -TICK, TICK]))
        events.append(
            Event(
                event_id=f"e{ids[index]}",
                event=draw(st.sampled_from(names)),
                distinct_id=draw(st.sampled_from([*actors, *actors, *actors, *POOL, STRANGER])),
                time=at + offset + jitter,
                fund_type=draw(st.sampled_from(["equity", "bond"])),
            )
        )
    return World(at=at, customers=customers, events=tuple(events))


EQUITY = [{"property": "fund_type", "op": "=", "value": "equity"}]
tag_rules = st.one_of(
    st.lists(st.sampled_from(["高净值", "大众"]), min_size=1, max_size=2).map(
        lambda v: {"tag": "tier", "in": v}
    ),
    st.sampled_from(["高净值", "大众"]).map(lambda v: {"tag": "tier", "not_in": [v]}),
    st.booleans().map(lambda b: {"tag": "tier", "exists": b}),
)
indicator_rules = st.one_of(
    st.tuples(st.sampled_from(["=", "!=", ">", ">=", "<", "<="]), st.sampled_from([0, 1, 2, 5])).map(
        lambda t: {"indicator": "score", "op": t[0], "value": t[1]}
    ),
    st.tuples(st.sampled_from([0, 1, 2]), st.sampled_from([0, 1, 3])).map(
        lambda t: {"indicator": "score", "op": "between", "value": [t[0], t[0] + t[1]]}
    ),
)
attribute_rules = st.one_of(
    st.lists(st.sampled_from(["C1", "C2", "C3"]), min_size=1, max_size=2).map(
        lambda v: {"attribute": "risk_level", "in": v}
    ),
    st.tuples(st.sampled_from(["=", "!="]), st.sampled_from(["C1", "C2"])).map(
        lambda t: {"attribute": "risk_level", "op": t[0], "value": t[1]}
    ),
    st.booleans().map(lambda b: {"attribute": "risk_level", "exists": b}),
)
event_rules = st.builds(
    lambda event, where, op, value, within: {
        "event": event,
        "where": where,
        "count": {"op": op, "value": value},
        "within": within,
    },
    st.sampled_from(EVENTS),
    st.sampled_from([[], EQUITY]),
    st.sampled_from(["=", ">=", "<", "!="]),
    st.integers(0, 2),
    st.sampled_from(WINDOWS),
)
steps = st.builds(
    lambda e, w: {"event": e, "where": w}, st.sampled_from(EVENTS), st.sampled_from([[], EQUITY])
)
sequence_rules = st.builds(
    lambda chain, gap, within: {"sequence": chain, "gap": gap, "within": within},
    st.lists(steps, min_size=2, max_size=3),
    st.sampled_from(GAPS),
    st.sampled_from(WINDOWS),
)
column_rules = st.one_of(indicator_rules, attribute_rules)
leaves = st.one_of(tag_rules, indicator_rules, attribute_rules, event_rules, sequence_rules)
rules = st.one_of(
    # An AND of bitmap parts and column parts: the column parts are tested at the bitmap's positions.
    st.tuples(
        st.lists(st.one_of(tag_rules, event_rules, sequence_rules), min_size=1, max_size=2), column_rules
    ).map(lambda t: {"all": [*t[0], t[1]]}),
    st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c})
            | st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c})
            | inner.map(lambda c: {"not": c})
        ),
        max_leaves=4,
    ),
)


# ---- fixed cases at the limits -----------------------------------------------------------------------------

AT = INSTANTS[0]  # 2025-10-09 15:00 Beijing, the first session after the National Day closure
BASE = (
    Customer("C1", 3, score=None, tier="大众", risk=None),
    Customer("C2", 7, score=5.0, tier="高净值", risk="C2"),
)
LOGIN_THEN_SUBSCRIBE = {
    "sequence": [{"event": "login"}, {"event": "fund_subscribe"}],
    "gap": "2h",
    "within": "7d",
}


def _world(
    *events: tuple[str, str, str, datetime], at: datetime = AT, base: tuple[Customer, ...] = BASE
) -> World:
    return World(at=at, customers=base, events=tuple(Event(i, n, c, t) for i, n, c, t in events))


NOON = AT - timedelta(hours=3)
SAME_INSTANT = _world(("e0", "fund_subscribe", "C1", NOON), ("e1", "login", "C1", NOON))
GAP_AT_LIMIT = _world(
    ("e0", "login", "C1", NOON - timedelta(hours=2)),
    ("e1", "fund_subscribe", "C1", NOON),
    ("e2", "login", "C2", NOON - timedelta(hours=2) - TICK),
    ("e3", "fund_subscribe", "C2", NOON),
)
SEVEN_DAYS_START = _world(
    ("e0", "login", "C1", AT - timedelta(days=7)), ("e1", "login", "C2", AT - timedelta(days=7) + TICK)
)
# 3 sessions up to 10-09 are 09-29, 09-30, 10-09; the weekend before 09-29 rolls onto it, 09-26 does not
TD_START = trading_window_start(AT, 3)  # 2025-09-27 00:00 Beijing
THREE_TD_START = _world(("e0", "login", "C1", TD_START), ("e1", "login", "C2", TD_START - TICK))
# On a holiday (10-04) the last session is 09-30: an event of 10-03 counts for 10-09, outside `1td`
HOLIDAY = _beijing(2025, 10, 4, 12)
AFTER_LAST_SESSION = _world(
    ("e0", "login", "C1", _beijing(2025, 9, 30, 23, 59)),
    ("e1", "login", "C2", _beijing(2025, 10, 3, 9)),
    at=HOLIDAY,
)
LATE = _world(("e0", "login", "C1", AT), ("e1", "login", "C2", AT + TICK))
ONE_LOGIN_TWO_STEPS = _world(
    ("e0", "login", "C1", NOON), ("e1", "login", "C2", NOON), ("e2", "login", "C2", NOON)
)
# At one instant e0 can fill only the second step and e1 only the first: a chain needs e1 → e0.
CROSSED = World(
    at=AT,
    customers=BASE,
    events=(
        Event("e0", "fund_detail_view", "C1", NOON, "equity"),
        Event("e1", "fund_detail_view", "C1", NOON, "bond"),
    ),
)
ANY_THEN_EQUITY = {
    "sequence": [{"event": "fund_detail_view"}, {"event": "fund_detail_view", "where": EQUITY}],
    "gap": "1h",
    "within": "1d",
}
# C1 has no score and C3 a NaN one (a derived indicator's 0/0): neither is a value.
MISSING = _world(base=(*BASE, Customer("C3", 8, score=float("nan"))))
GAPPED = (
    Customer("C1", 2, score=1.0, tier="大众"),
    Customer("C3", 5, score=None, tier="大众"),
    Customer("C4", 6, score=2.0, tier="大众"),
    Customer("C6", 11, score=2.0),
)
DENSE_FROM_NINE = tuple(Customer(c, 9 + i, score=float(i), tier="大众") for i, c in enumerate(POOL))
# Forty customers, uids with gaps, two of them 高净值: fewer than a sixteenth of the base, so the column
# conditions of an `all` are tested on those two candidates only (`_test`), one after the other.
FEW_CANDIDATES = tuple(
    Customer(
        f"C{i}",
        3 * i + 1,
        score=None if i % 5 == 0 else float(i % 4),
        tier="高净值" if i in (3, 14) else "大众",
        risk="C4" if i % 2 else "C2",
    )
    for i in range(1, 41)
)

VIEW_THEN_SUBSCRIBE = {
    "sequence": [{"event": "login"}, {"event": "fund_detail_view"}, {"event": "fund_subscribe"}],
    "gap": "1h",
    "within": "1d",
}
# C1's view at 11:20 is too late after the login (80 minutes) to be step 2: the chain through the view at
# 10:30 misses the subscription at 12:10 (100 minutes). C2's chain is whole.
TEN = NOON - timedelta(hours=2)
LATE_SECOND_STEP = _world(
    ("e0", "login", "C1", TEN),
    ("e1", "fund_detail_view", "C1", TEN + HALF_HOUR),
    ("e2", "fund_detail_view", "C1", TEN + timedelta(minutes=80)),
    ("e3", "fund_subscribe", "C1", TEN + timedelta(minutes=130)),
    ("e4", "login", "C2", TEN),
    ("e5", "fund_detail_view", "C2", TEN + HALF_HOUR),
    ("e6", "fund_subscribe", "C2", TEN + 2 * HALF_HOUR),
)
# At 11:10 C1 views and subscribes at one instant: the view cannot continue the login (70 minutes), the
# subscription continues the view of 10:50.
BOTH_AT_ONE_INSTANT = _world(
    ("e0", "login", "C1", TEN),
    ("e1", "fund_detail_view", "C1", TEN + timedelta(minutes=50)),
    ("e2", "fund_detail_view", "C1", TEN + timedelta(minutes=70)),
    ("e3", "fund_subscribe", "C1", TEN + timedelta(minutes=70)),
)
# C1 logs in again after finishing the sequence; C2 finishes it after that.
DONE_THEN_MORE = _world(
    ("e0", "login", "C1", NOON - 2 * HALF_HOUR),
    ("e1", "fund_subscribe", "C1", NOON - HALF_HOUR),
    ("e2", "login", "C1", NOON),
    ("e3", "login", "C2", NOON - HALF_HOUR),
    ("e4", "fund_subscribe", "C2", NOON),
)

# Accounts opened on three dates; C4 has no opening date.
OPENED = _world(
    base=(
        Customer("C1", 3, opened=date(2020, 1, 1)),
        Customer("C2", 7, opened=date(2020, 6, 1)),
        Customer("C3", 8, opened=date(2021, 3, 15)),
        Customer("C4", 9),
    )
)

CASES = [
    pytest.param(SAME_INSTANT, LOGIN_THEN_SUBSCRIBE, {"C1"}, id="later-step-same-instant-smaller-id"),
    pytest.param(GAP_AT_LIMIT, LOGIN_THEN_SUBSCRIBE, {"C1"}, id="gap-exactly-at-limit"),
    pytest.param(SEVEN_DAYS_START, {"event": "login", "within": "7d"}, {"C2"}, id="7d-start-excluded"),
    pytest.param(
        THREE_TD_START, {"event": "login", "within": "3td"}, {"C1"}, id="3td-first-midnight-included"
    ),
    pytest.param(LATE, {"event": "login", "within": "12h"}, {"C1"}, id="at-T-included-after-T-not"),
    pytest.param(
        AFTER_LAST_SESSION,
        {"event": "login", "within": "1td"},
        {"C1"},
        id="td-closed-days-after-last-session",
    ),
    pytest.param(
        ONE_LOGIN_TWO_STEPS,
        {"sequence": [{"event": "login"}, {"event": "login"}], "gap": "1h", "within": "1d"},
        {"C2"},
        id="one-event-fills-one-step",
    ),
    pytest.param(CROSSED, ANY_THEN_EQUITY, {"C1"}, id="same-instant-crossed-steps"),
    pytest.param(
        MISSING, {"indicator": "score", "op": "!=", "value": 1}, {"C2"}, id="missing-is-not-unequal"
    ),
    pytest.param(
        MISSING, {"not": {"indicator": "score", "op": "!=", "value": 5}}, {"C1", "C2", "C3"}, id="not-unequal"
    ),
    pytest.param(MISSING, {"indicator": "score", "op": ">", "value": 1}, {"C2"}, id="nan-is-no-value"),
    pytest.param(MISSING, {"indicator": "score", "op": ">", "value": 5}, set(), id="greater-excludes-equal"),
    pytest.param(MISSING, {"indicator": "score", "op": "<", "value": 5}, set(), id="less-excludes-equal"),
    pytest.param(MISSING, {"indicator": "score", "op": "<", "value": 6}, {"C2"}, id="less"),
    pytest.param(LATE_SECOND_STEP, VIEW_THEN_SUBSCRIBE, {"C2"}, id="a-late-step-does-not-restart-the-gap"),
    pytest.param(BOTH_AT_ONE_INSTANT, VIEW_THEN_SUBSCRIBE, {"C1"}, id="one-instant-continues-a-later-step"),
    pytest.param(DONE_THEN_MORE, LOGIN_THEN_SUBSCRIBE, {"C1", "C2"}, id="events-after-a-finished-sequence"),
    pytest.param(MISSING, {"attribute": "risk_level", "op": "!=", "value": "C1"}, {"C2"}, id="missing-attr"),
    pytest.param(MISSING, {"attribute": "risk_level", "not_in": ["C1"]}, {"C2"}, id="missing-attr-not-in"),
    pytest.param(
        _world(),
        {"all": [{"tag": "tier", "exists": True}, {"tag": "tier", "in": ["高净值"]}]},
        {"C2"},
        id="all-of-two-bitmaps",
    ),
    pytest.param(_world(), {"tag": "tier", "not_in": ["大众"]}, {"C2"}, id="tag-not-in"),
    pytest.param(_world(), {"tag": "tier", "in": []}, set(), id="tag-in-no-values"),
    pytest.param(
        OPENED, {"attribute": "open_date", "op": ">=", "value": "2020-06-01"}, {"C2", "C3"}, id="date-from"
    ),
    pytest.param(
        OPENED, {"attribute": "open_date", "op": "<", "value": "2020-06-01"}, {"C1"}, id="date-before"
    ),
    pytest.param(
        OPENED,
        {"attribute": "open_date", "op": "between", "value": ["2020-01-01", "2020-06-01"]},
        {"C1", "C2"},
        id="date-between",
    ),
    pytest.param(OPENED, {"attribute": "open_date", "in": ["2020-06-01"]}, {"C2"}, id="date-in"),
    pytest.param(
        OPENED, {"attribute": "open_date", "not_in": ["2020-06-01"]}, {"C1", "C3"}, id="date-not-in"
    ),
    pytest.param(
        OPENED, {"attribute": "open_date", "op": "!=", "value": "2021-03-15"}, {"C1", "C2"}, id="date-ne"
    ),
    pytest.param(_world(), {"tag": "tier", "not_in": []}, {"C1", "C2"}, id="tag-not-in-no-values"),
    pytest.param(MISSING, {"attribute": "risk_level", "not_in": ["C2"]}, set(), id="attr-not-in-own-value"),
    pytest.param(
        _world(base=GAPPED),
        {"all": [{"tag": "tier", "in": ["大众"]}, {"indicator": "score", "op": ">=", "value": 1}]},
        {"C1", "C4"},
        id="uids-with-gaps",
    ),
    pytest.param(
        _world(base=DENSE_FROM_NINE),
        {"all": [{"tag": "tier", "in": ["大众"]}, {"indicator": "score", "op": "between", "value": [2, 3]}]},
        {"C3", "C4"},
        id="dense-uids-from-nine",
    ),
    pytest.param(
        _world(base=FEW_CANDIDATES),
        {
            "all": [
                {"tag": "tier", "in": ["高净值"]},
                {"indicator": "score", "op": ">=", "value": 1},
                {"attribute": "risk_level", "op": "=", "value": "C4"},
            ]
        },
        {"C3"},
        id="few-candidates-two-columns",
    ),
    pytest.param(
        _world(base=FEW_CANDIDATES),
        {"all": [{"tag": "tier", "in": ["高净值"]}, {"indicator": "score", "op": "<=", "value": 2}]},
        {"C14"},
        id="few-candidates-one-column",
    ),
]


@pytest.mark.parametrize(("world", "rule", "expected"), CASES)
def test_stated_semantics_at_the_limits(
    store: Store, world: World, rule: dict[str, Any], expected: set[str]
) -> None:
    assert brute_force(world, rule) == expected
    assert members_by_path(store, world, rule) == {"bitmap": expected, "sql": expected}


# ---- properties --------------------------------------------------------------------------------------------


@settings(max_examples=examples(80), deadline=None)
@given(world=worlds(), rule=rules)
@example(world=SAME_INSTANT, rule=LOGIN_THEN_SUBSCRIBE)
@example(world=GAP_AT_LIMIT, rule={"not": LOGIN_THEN_SUBSCRIBE})
@example(world=SEVEN_DAYS_START, rule={"event": "login", "within": "7d", "count": {"op": "=", "value": 0}})
@example(
    world=THREE_TD_START,
    rule={"any": [{"event": "login", "within": "3td"}, {"tag": "tier", "exists": False}]},
)
@example(world=LATE, rule={"event": "login", "within": "1td", "count": {"op": ">=", "value": 1}})
@example(world=CROSSED, rule=ANY_THEN_EQUITY)
@example(world=MISSING, rule={"indicator": "score", "op": "!=", "value": 1})
@example(world=MISSING, rule={"indicator": "score", "op": "=", "value": 5})  # C2: no value never equals
@example(world=MISSING, rule={"not": {"indicator": "score", "op": "between", "value": [0, 5]}})
@example(
    world=_world(base=GAPPED),
    rule={"all": [{"tag": "tier", "exists": True}, {"indicator": "score", "op": "!=", "value": 2}]},
)
@example(
    world=_world(base=DENSE_FROM_NINE),
    rule={"all": [{"tag": "tier", "in": ["大众"]}, {"indicator": "score", "op": "<=", "value": 2}]},
)
def test_paths_agree_with_brute_force(store: Store, world: World, rule: dict[str, Any]) -> None:
    expected = brute_force(world, rule)
    assert members_by_path(store, world, rule) == {"bitmap": expected, "sql": expected}, rule


@st.composite
def sequence_cases(draw: st.DrawFn) -> tuple[World, dict[str, Any]]:
    """A sequence rule and a world whose events are of its steps."""
    rule = draw(sequence_rules)
    names = tuple(s["event"] for s in rule["sequence"])
    return draw(worlds(events=(len(names), 8), names=names, within=rule["within"])), rule


@settings(max_examples=examples(60), deadline=None)
@given(case=sequence_cases())
@example(case=(SAME_INSTANT, LOGIN_THEN_SUBSCRIBE))
@example(case=(GAP_AT_LIMIT, LOGIN_THEN_SUBSCRIBE))
@example(case=(CROSSED, ANY_THEN_EQUITY))
def test_sequences_agree_when_every_step_happened(store: Store, case: tuple[World, dict[str, Any]]) -> None:
    world, rule = case

    # Only worlds where someone did every step inside the window, so order, ties and gaps decide.
    def did_every_step(customer: str) -> bool:
        mine = [e for e in inside(world, rule["within"]) if e.distinct_id == customer]
        return all(any(step_matches(e, step) for e in mine) for step in rule["sequence"])

    assume(any(did_every_step(c.customer_no) for c in world.customers))
    expected = {c.customer_no for c in world.customers if did_sequence(world, rule, c.customer_no)}
    assert members_by_path(store, world, rule) == {"bitmap": expected, "sql": expected}, rule


@settings(max_examples=examples(40), deadline=None)
@given(base=customers_of(), data=st.data())
@example(base=GAPPED, data=None)
@example(base=DENSE_FROM_NINE, data=None)
def test_positions_of_uids_with_and_without_gaps(store: Store, base: tuple[Customer, ...], data: Any) -> None:
    publish(store, World(at=AT, customers=base))
    context = context_at(env=store.container, at=AT)
    ordered = sorted(c.uid for c in base)
    chosen = ordered if data is None else sorted(data.draw(st.sets(st.sampled_from(ordered))))
    assert context.data.dense == (ordered == list(range(ordered[0], ordered[-1] + 1)))
    found = context.positions(np.array(chosen, dtype=np.uint32))
    assert found.tolist() == [ordered.index(u) for u in chosen]


def test_an_empty_base_has_no_positions(store: Store) -> None:
    # A snapshot of no customers: positions and customer numbers of nobody are empty, not an IndexError.
    publish(store, World(at=AT, customers=()))
    context = context_at(env=store.container, at=AT)
    assert context.data.dense
    assert context.positions(np.array([], dtype=np.uint32)).tolist() == []
    assert context.uids[context.positions(np.array([], dtype=np.uint32))].tolist() == []  # usable as an index
    assert context.customer_numbers(BitMap()) == []


def test_event_conditions_before_any_event_is_collected(tmp_path_factory: pytest.TempPathFactory) -> None:
    # No events partition at all (the store's read would fail): nobody did anything, so `= 0` is everyone.
    container = build(load_settings(tmp_path_factory.mktemp("no-events")), clock=VirtualClock(INSTANTS[0]))
    try:
        link_business_ids(env=container, customers=[{"customer_no": c} for c in POOL])
        fresh = Store(container)
        world = _world()
        none = {"event": "login", "within": "7d", "count": {"op": "=", "value": 0}}
        some = {"event": "login", "within": "3td"}
        assert not container.analytics.partitions("events")
        assert members_by_path(fresh, world, none) == {"bitmap": {"C1", "C2"}, "sql": {"C1", "C2"}}
        assert not container.analytics.partitions("events")
        assert members_by_path(fresh, world, some) == {"bitmap": set(), "sql": set()}
    finally:
        container.close()


def test_a_segment_cycle_through_an_all_group_is_refused(store: Store) -> None:
    publish(store, _world())
    cyclic = read_rule({"all": [{"tag": "tier", "exists": True}, {"segment": "a"}]})
    context = replace(context_at(env=store.container, at=AT), segment_rule=lambda name: cyclic)
    with pytest.raises(ValidationError, match="segment cycle a → a"):
        evaluate(read_rule({"segment": "a"}), context)


def test_a_parameter_in_a_segments_attribute_value_is_refused_naming_it(store: Store) -> None:
    """Segments have no parameters (tags do): `{"param": …}` as an attribute's value is a clear error naming
    the attribute and the parameter on both paths, not a server fault (the SQL path raised Ibis's type
    error)."""
    publish(store, _world())
    context = context_at(env=store.container, at=AT)
    rule = read_rule({"attribute": "risk_level", "op": "=", "value": {"param": "level"}})
    with pytest.raises(ValidationError, match=r"attribute risk_level: unknown parameter 'level'"):
        evaluate(rule, context)
    with pytest.raises(ValidationError, match=r"attribute risk_level: unknown parameter 'level'"):
        evaluate_sql(rule, context)


def _with_segments(store: Store, segments: dict[str, dict[str, Any]]) -> Any:
    """The context at AT with these segment definitions (an unknown name is a KeyError)."""
    rules = {name: read_rule(rule) for name, rule in segments.items()}
    return replace(context_at(env=store.container, at=AT), segment_rule=lambda name: rules[name])


def test_a_segment_reference_selects_its_segments_members_on_both_paths(store: Store) -> None:
    publish(store, _world())
    context = _with_segments(store, {"rich": {"tag": "tier", "in": ["高净值"]}})
    # C1 (uid 3) is 大众, C2 (uid 7) 高净值 with risk level C2.
    for rule, expected in (
        ({"segment": "rich"}, [7]),
        ({"not": {"segment": "rich"}}, [3]),
        ({"any": [{"segment": "rich"}, {"attribute": "risk_level", "op": "=", "value": "C2"}]}, [7]),
    ):
        assert sorted(evaluate(read_rule(rule), context)) == expected, rule
        assert sorted(evaluate_sql(read_rule(rule), context)) == expected, rule


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"any": [{"tag": "tier", "exists": False}, {"segment": "b"}]}, {"segment": "a"}),
        ({"not": {"segment": "b"}}, {"all": [{"tag": "tier", "exists": True}, {"segment": "a"}]}),
    ],
    ids=["through-any", "through-not"],
)
def test_a_segment_cycle_through_any_or_not_is_refused_on_both_paths(
    store: Store, a: dict[str, Any], b: dict[str, Any]
) -> None:
    publish(store, _world())
    context = _with_segments(store, {"a": a, "b": b})
    for path in (evaluate, evaluate_sql):
        with pytest.raises(ValidationError, match="segment cycle a → b → a"):
            path(read_rule({"segment": "a"}), context)


def test_a_second_preview_reuses_the_conditions_the_first_built(store: Store) -> None:
    """An editor previews a rule, then another that shares a column condition: the second takes the
    remembered bitmap of that condition and answers as a fresh context does."""
    publish(store, _world(base=DENSE_FROM_NINE))
    shared = {"indicator": "score", "op": ">=", "value": 2}
    first = {"all": [{"tag": "tier", "exists": True}, shared]}
    second = {"all": [{"tag": "tier", "in": ["大众"]}, shared, {"indicator": "score", "op": "<", "value": 4}]}
    context = context_at(env=store.container, at=AT)
    assert sorted(evaluate(read_rule(first), context)) == [11, 12, 13, 14]
    assert context.recall(_key(read_rule(shared))) is not None
    assert sorted(evaluate(read_rule(second), context)) == [11, 12]
    assert sorted(evaluate(read_rule(second), context_at(env=store.container, at=AT))) == [11, 12]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"attribute": "risk_level", "op": "=", "value": 2.5},
            'attribute risk_level is text, not 2.5: write it in quotes, "2.5"',
        ),
        (
            {"attribute": "branch_id", "in": ["SH01", True]},
            'attribute branch_id is text, not True: write it in quotes, "True"',
        ),
        (
            {"attribute": "open_date", "op": ">=", "value": "2020/06/01"},
            "attribute open_date is a date: write it as YYYY-MM-DD, not '2020/06/01'",
        ),
        (
            {"attribute": "open_date", "op": "between", "value": ["2020-01-01", "2020-02-30"]},
            "attribute open_date is a date: write it as YYYY-MM-DD, not '2020-02-30'",
        ),
        (
            {"attribute": "consent_marketing", "op": "=", "value": 1},
            "attribute consent_marketing is true or false, not 1",
        ),
        (
            {"attribute": "risk_level", "op": "=", "value": None},
            "attribute risk_level: no value to compare with (customers without one: exists false)",
        ),
        (
            {"attribute": "riskiness", "op": "=", "value": "C1"},
            "unknown attribute 'riskiness' (attributes: [",
        ),
    ],
    ids=[
        "number-for-text",
        "number-in-a-text-list",
        "not-iso-date",
        "no-such-day",
        "number-for-yes-no",
        "null",
        "unknown",
    ],
)
def test_an_attribute_value_of_another_type_is_refused_naming_it_on_both_paths(
    store: Store, rule: dict[str, Any], message: str
) -> None:
    """Both paths compare an attribute with a value of its own type (a date from its YYYY-MM-DD text); any
    other value is a clear error, not an engine's type error or a silent empty answer."""
    publish(store, OPENED)
    context = context_at(env=store.container, at=AT)
    for path in (evaluate, evaluate_sql):
        with pytest.raises(ValidationError) as refused:
            path(read_rule(rule), context)
        assert str(refused.value).startswith(message), (path, str(refused.value))
