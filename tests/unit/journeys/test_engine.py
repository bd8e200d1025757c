"""The journey interpreter on its own: every node type, every edge and every limit of `advance`, with a
stand-in for the customer's facts and no store. Fast enough to be the test set of `make mutation` for
journeys/engine.py.

Expected instants are written out or come from exchange_calendars (XSHG) and zoneinfo directly, never from the
project's calendar; expected A/B variants come from hashing the documented key here and walking the weights.
"""

from __future__ import annotations

import hashlib
import os
import time as system_time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import exchange_calendars
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from touchpoint.core.calendar import TradingCalendar
from touchpoint.journeys.engine import Run, Step, Trigger, advance, after, pick_variant
from touchpoint.journeys.model import AbSplitNode, JourneyDef, WaitForEventNode

BJ = ZoneInfo("Asia/Shanghai")
XSHG = exchange_calendars.get_calendar("XSHG")
CALENDAR = TradingCalendar()
FRIDAY = datetime(2025, 9, 26, 10, tzinfo=BJ)  # the last Friday before the 2025 National Day closure
TICK = timedelta(microseconds=1)


@dataclass
class Facts:
    """What the customer of the run has and did, and what the engine asked about it."""

    segments: set[str] = field(default_factory=set)
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[datetime] = field(default_factory=list)
    asked_since: list[datetime] = field(default_factory=list)
    asked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def matches(self, rule: dict[str, Any]) -> bool:
        """A branch rule holds when it says so (the rule language is the segments' business)."""
        return bool(rule.get("holds"))

    def in_segment(self, name: str) -> bool:
        """Membership of a saved segment."""
        return name in self.segments

    def attribute(self, name: str) -> Any:
        """A profile attribute."""
        return self.attributes.get(name)

    def event_since(self, node: WaitForEventNode, payload: dict[str, Any], since: datetime) -> bool:
        """Whether an event happened at or after `since` (each question is recorded)."""
        self.asked_since.append(since)
        self.asked.append((node.id, payload))
        return any(at >= since for at in self.events)

    def render(self, template: str, context: dict[str, Any]) -> str:
        """A recognisable rendering of the text and its context."""
        return f"{template} / {sorted(context.items())}"


def _journey(nodes: list[dict[str, Any]], **settings: Any) -> JourneyDef:
    body = {"name": "j", "title": "j", "entry": {"type": "api"}, "start": nodes[0]["id"], "nodes": nodes}
    return JourneyDef.model_validate({**body, **settings})


def _run(node: str | None = None, status: str = "ready", **fields: Any) -> Run:
    base: dict[str, Any] = {"step": 0, "entered_at": FRIDAY}
    return Run(
        id="r1", journey="j", version=1, customer_no="C1", node=node, status=status, **{**base, **fields}
    )


def _advance(
    journey: JourneyDef, run: Run, now: datetime, facts: Facts | None = None, trigger: Trigger = "timer"
) -> Any:
    return advance(journey, run, now=now, trigger=trigger, facts=facts or Facts(), calendar=CALENDAR)


def _bye(node_id: str = "bye") -> dict[str, Any]:
    return {"id": node_id, "type": "exit"}


def _sessions(start: date, end: date) -> list[date]:
    """XSHG sessions in [start, end] (within what exchange_calendars records), as it records them."""
    last = XSHG.last_session.date()
    return [ts.date() for ts in XSHG.sessions_in_range(pd.Timestamp(start), pd.Timestamp(min(end, last)))]


@pytest.fixture(params=["UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
def machine_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the machine's own time zone set far apart: no instant may depend on it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    system_time.tzset()
    yield request.param
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    system_time.tzset()


# Entering, ending, exits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["done", "exited", "failed", "stopped"])
def test_a_run_that_ended_is_returned_untouched(status: str) -> None:
    run = _run("w", status, context={"payload": {"a": 1}})
    out = _advance(_journey([_bye()]), run, FRIDAY, Facts(segments={"vip"}), "enter")
    assert (out.run, out.steps, out.effects) == (run, [], [])


def test_advancing_never_changes_the_run_it_was_given() -> None:
    run = _run(context={"payload": {"a": 1}})
    out = _advance(_event_journey(), run, FRIDAY, trigger="enter")
    assert out.run.context == {"payload": {"a": 1}, "reached_at": FRIDAY.isoformat()}
    assert (run.node, run.status, run.wake_at, run.context) == (None, "ready", None, {"payload": {"a": 1}})


def test_entering_starts_at_the_start_node_even_for_a_run_that_holds_another() -> None:
    journey = _journey([_bye("first"), _bye("other")])
    out = _advance(journey, _run("other", "waiting"), FRIDAY, trigger="enter")
    assert out.steps == [Step("first", 0, "exit", None)]


def test_a_ready_run_moved_onto_a_wait_starts_that_wait_afresh() -> None:
    # Publishing a version moves runs by node id; a run made ready at a wait node waits its full duration.
    journey = _journey([{"id": "w", "type": "wait", "duration": "2td", "next": "bye"}, _bye()])
    out = _advance(journey, _run("w", "ready", step=2), FRIDAY)
    assert (out.run.status, out.run.wake_at, out.steps) == (
        "waiting",
        datetime(2025, 9, 30, 10, tzinfo=BJ),
        [],
    )


@pytest.mark.parametrize(("trigger", "node"), [("enter", None), ("timer", None)])
def test_a_new_run_starts_at_the_start_node(trigger: Trigger, node: str | None) -> None:
    journey = _journey([_bye("first"), _bye("other")])
    out = _advance(journey, _run(node), FRIDAY, trigger=trigger)
    assert out.steps == [Step("first", 0, "exit", None)]
    assert (out.run.status, out.run.end_reason, out.run.step) == ("done", "exit node", 1)


def test_a_run_in_the_exit_segment_ends_where_it_stands() -> None:
    journey = _journey(
        [{"id": "w", "type": "wait", "duration": "1h", "next": "bye"}, _bye()],
        exit_criteria=[{"event": "sell"}, {"segment": "vip"}],
    )
    fresh = _advance(journey, _run(), FRIDAY, Facts(segments={"vip"}), "enter")
    assert fresh.steps == [Step("w", 0, "exit", "vip")]
    assert (fresh.run.status, fresh.run.end_reason) == ("exited", "segment vip")
    waiting = _run("w", "waiting", step=3, wake_at=FRIDAY + timedelta(hours=1))
    out = _advance(journey, waiting, FRIDAY, Facts(segments={"vip"}))
    assert out.steps == [Step("w", 3, "exit", "vip")]
    assert (out.run.status, out.run.wake_at, out.run.step) == ("exited", None, 3)


def test_a_customer_outside_the_exit_segment_goes_on_and_long_reasons_are_cut_at_32() -> None:
    long_name = "customers_who_asked_for_no_more_offers"
    journey = _journey([_bye()], exit_criteria=[{"event": "sell"}, {"segment": long_name}])
    assert _advance(journey, _run(), FRIDAY, Facts(segments={"other"}), "enter").run.status == "done"
    out = _advance(journey, _run(), FRIDAY, Facts(segments={long_name}), "enter")
    assert out.run.end_reason == f"segment {long_name}"[:32]
    assert len(out.run.end_reason) == 32


def test_a_loop_without_a_wait_fails_after_100_steps() -> None:
    journey = _journey(
        [{"id": "s", "type": "split", "branches": [{"name": "b", "rule": {}, "next": "s"}], "default": "s"}]
    )
    out = _advance(journey, _run(), FRIDAY, trigger="enter")
    assert len(out.steps) == 100
    assert out.steps[-1] == Step("s", 99, "default", None)
    assert (out.run.status, out.run.end_reason) == ("failed", "more than 100 steps without wait")


# Waits -----------------------------------------------------------------------------------------------------


def test_a_duration_wait_holds_until_its_exact_instant() -> None:
    journey = _journey([{"id": "w", "type": "wait", "duration": "2h", "next": "bye"}, _bye()])
    arrived = _advance(journey, _run(), FRIDAY, trigger="enter")
    due = FRIDAY + timedelta(hours=2)
    assert (arrived.run.node, arrived.run.status, arrived.run.wake_at, arrived.steps) == (
        "w",
        "waiting",
        due,
        [],
    )
    early = _advance(journey, arrived.run, due - TICK)
    assert (early.run.status, early.run.wake_at, early.steps) == ("waiting", due, [])
    on_time = _advance(journey, arrived.run, due)
    assert on_time.steps == [Step("w", 0, "next", None), Step("bye", 1, "exit", None)]
    assert (on_time.run.status, on_time.run.step, on_time.run.wake_at) == ("done", 2, None)


def _until_field(field_name: str, offset: str | None = None) -> JourneyDef:
    wait = {"id": "w", "type": "wait", "until_field": field_name, "next": "bye"}
    return _journey([{**wait, "offset": offset} if offset else wait, _bye()])


@pytest.mark.parametrize(
    ("raw", "wake_at"),
    [
        ("2025-09-26T12:00:00+08:00", FRIDAY + timedelta(hours=2)),
        ("2025-09-26T12:00:00", FRIDAY + timedelta(hours=2)),  # no zone: Beijing
        ("2025-09-27", datetime(2025, 9, 27, tzinfo=BJ)),  # a date: its Beijing midnight
        (int((FRIDAY + timedelta(hours=3)).timestamp() * 1000), FRIDAY + timedelta(hours=3)),  # epoch ms
        ("2025-09-26T10:00:00.000001+08:00", FRIDAY + TICK),
    ],
)
def test_a_date_in_the_payload_is_waited_for(raw: Any, wake_at: datetime) -> None:
    out = _advance(_until_field("payload.deadline"), _run(context={"payload": {"deadline": raw}}), FRIDAY)
    assert (out.run.status, out.run.wake_at, out.steps) == ("waiting", wake_at, [])


@pytest.mark.parametrize(
    ("raw", "detail"),
    [(None, "no date"), ("", "no date"), ("next week", "no date"), ("2025-09-26T10:00:00+08:00", None)],
)
def test_a_missing_bad_or_present_date_passes_on_at_once(raw: Any, detail: str | None) -> None:
    out = _advance(_until_field("payload.deadline"), _run(context={"payload": {"deadline": raw}}), FRIDAY)
    assert out.steps == [Step("w", 0, "next", detail), Step("bye", 1, "exit", None)]


def test_a_run_without_a_payload_has_no_date_to_wait_for() -> None:
    out = _advance(_until_field("payload.deadline"), _run(), FRIDAY)
    assert out.steps[0] == Step("w", 0, "next", "no date")


def test_a_trading_day_offset_from_a_date_in_the_payload() -> None:
    # Two sessions before 15:00 on the first session after the National Day closure (10-09).
    run = _run(context={"payload": {"deadline": "2025-10-09T15:00:00+08:00"}})
    out = _advance(_until_field("payload.deadline", "-2td"), run, FRIDAY)
    expected = datetime.combine(_nth_session(date(2025, 10, 9), -2), time(15), tzinfo=BJ)
    assert out.run.wake_at == expected


def test_an_attribute_date_with_an_offset_and_a_date_already_past() -> None:
    facts = Facts(attributes={"birthday": "2025-09-27T10:00:00+08:00"})
    out = _advance(_until_field("attribute.birthday", "-4h"), _run(), FRIDAY, facts)
    assert (out.run.status, out.run.wake_at) == ("waiting", FRIDAY + timedelta(hours=20))
    past = Facts(attributes={"birthday": "2025-09-26T09:00:00+08:00"})
    assert _advance(_until_field("attribute.birthday"), _run(), FRIDAY, past).steps[0] == Step("w", 0, "next")
    # The payload is not the attribute: a payload key of the same name is no date for attribute.NAME.
    payload = _run(context={"payload": {"birthday": "2025-09-27"}})
    assert _advance(_until_field("attribute.birthday"), payload, FRIDAY).steps[0].detail == "no date"


@pytest.mark.usefixtures("machine_zone")
def test_a_time_of_day_already_past_in_the_beijing_morning_waits_for_tomorrow() -> None:
    now = datetime(2025, 9, 26, 7, tzinfo=BJ)  # 23:00 the day before in UTC
    journey = _journey([{"id": "w", "type": "wait", "until_time": "06:00", "next": "bye"}, _bye()])
    out = _advance(journey, _run(entered_at=now), now, trigger="enter")
    assert out.run.wake_at == datetime(2025, 9, 27, 6, tzinfo=BJ)


@pytest.mark.parametrize(
    ("now", "trading_day", "wake_at"),
    [
        (datetime(2025, 9, 26, 9, 29, tzinfo=BJ), False, datetime(2025, 9, 26, 9, 30, tzinfo=BJ)),
        (datetime(2025, 9, 26, 9, 30, tzinfo=BJ), False, datetime(2025, 9, 27, 9, 30, tzinfo=BJ)),
        (datetime(2025, 9, 26, 9, 30, tzinfo=BJ), True, datetime(2025, 9, 29, 9, 30, tzinfo=BJ)),
        (datetime(2025, 9, 30, 15, 0, tzinfo=BJ), True, datetime(2025, 10, 9, 9, 30, tzinfo=BJ)),
        (datetime(2025, 10, 4, 8, 0, tzinfo=BJ), True, datetime(2025, 10, 9, 9, 30, tzinfo=BJ)),
        (datetime(2025, 10, 4, 8, 0, tzinfo=BJ), False, datetime(2025, 10, 4, 9, 30, tzinfo=BJ)),
    ],
)
@pytest.mark.usefixtures("machine_zone")
def test_a_time_of_day_wait_on_calendar_and_trading_days(
    now: datetime, trading_day: bool, wake_at: datetime
) -> None:
    journey = _journey(
        [
            {"id": "w", "type": "wait", "until_time": "09:30", "trading_day": trading_day, "next": "bye"},
            _bye(),
        ]
    )
    out = _advance(journey, _run(entered_at=now), now, trigger="enter")
    assert (out.run.status, out.run.wake_at) == ("waiting", wake_at)
    if trading_day:
        assert wake_at.date() in _sessions(now.date(), now.date() + timedelta(days=15))


# Trading-day durations -------------------------------------------------------------------------------------


def _nth_session(day: date, n: int) -> date:
    """The n-th XSHG session strictly after `day` (n > 0) or strictly before it (n < 0)."""
    if n > 0:
        return _sessions(day + timedelta(days=1), day + timedelta(days=40))[n - 1]
    return _sessions(day - timedelta(days=40), day - timedelta(days=1))[n]


@settings(max_examples=150, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2026, 11, 30), timezones=st.just(UTC)
    ),
    n=st.integers(min_value=-10, max_value=10).filter(lambda n: n != 0),
)
# From a session, from a weekend and from inside the National Day closure, both ways.
@example(moment=datetime(2025, 9, 26, 2, tzinfo=UTC), n=2)
@example(moment=datetime(2025, 9, 27, 2, tzinfo=UTC), n=1)
@example(moment=datetime(2025, 9, 27, 2, tzinfo=UTC), n=-1)
@example(moment=datetime(2025, 10, 1, 2, tzinfo=UTC), n=1)
@example(moment=datetime(2025, 10, 1, 2, tzinfo=UTC), n=-1)
@example(moment=datetime(2025, 10, 8, 16, tzinfo=UTC), n=-1)  # 00:00 on 10-09, a session, in Beijing
@example(moment=datetime(2025, 10, 8, 15, 59, 59, tzinfo=UTC), n=1)  # 23:59:59 on 10-08, still closed
def test_n_trading_days_from_any_moment_keep_the_beijing_time_of_day(moment: datetime, n: int) -> None:
    local = moment.astimezone(BJ)
    expected = datetime.combine(_nth_session(local.date(), n), local.time(), tzinfo=BJ)
    assert after(moment, f"{n}td", CALENDAR) == expected


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("3d", timedelta(days=3)),
        ("-4h", -timedelta(hours=4)),
    ],
)
def test_clock_durations_are_plain_spans(text: str, span: timedelta) -> None:
    assert after(FRIDAY, text, CALENDAR) == FRIDAY + span


# Waiting for an event --------------------------------------------------------------------------------------


def _event_journey() -> JourneyDef:
    waiting = {
        "id": "pay",
        "type": "wait_for_event",
        "event": "ipo_payment",
        "timeout": "1d",
        "on_event": "paid",
        "on_timeout": "late",
    }
    return _journey([waiting, _bye("paid"), _bye("late")])


def test_an_event_between_entering_and_reaching_the_node_counts() -> None:
    facts = Facts(events=[FRIDAY - timedelta(minutes=5)])
    entered = FRIDAY - timedelta(hours=1)
    run = _run(entered_at=entered, context={"payload": {"code": "732001"}})
    out = _advance(_event_journey(), run, FRIDAY, facts, "enter")
    assert facts.asked_since == [entered]
    assert facts.asked == [("pay", {"code": "732001"})]  # the node's event, matched against the payload
    assert out.steps == [
        Step("pay", 0, "on_event", "before reaching the node"),
        Step("paid", 1, "exit", None),
    ]


def test_reaching_the_node_without_the_event_waits_for_it_until_the_timeout() -> None:
    facts = Facts(events=[FRIDAY - TICK])
    out = _advance(_event_journey(), _run(), FRIDAY, facts, "enter")
    assert facts.asked == [("pay", {})]
    assert (out.run.status, out.run.wait_event) == ("waiting_event", "ipo_payment")
    assert out.run.wake_at == FRIDAY + timedelta(days=1)
    assert out.run.context == {"reached_at": FRIDAY.isoformat()}
    assert out.steps == []


def _waiting_for_payment(**context: Any) -> Run:
    reached = {"reached_at": (FRIDAY + timedelta(hours=1)).isoformat()}
    return _run(
        "pay",
        "waiting_event",
        wait_event="ipo_payment",
        wake_at=FRIDAY + timedelta(days=1),
        context={**reached, **context},
    )


def test_the_event_itself_moves_the_run_on_and_clears_the_wait() -> None:
    out = _advance(
        _event_journey(), _waiting_for_payment(payload={"x": 1}), FRIDAY + timedelta(hours=2), trigger="event"
    )
    assert out.steps[0] == Step("pay", 0, "on_event", None)
    assert (out.run.node, out.run.wake_at, out.run.wait_event) == ("paid", None, None)
    assert out.run.context == {"payload": {"x": 1}}


def test_a_timer_finds_an_event_since_the_node_was_reached() -> None:
    reached = FRIDAY + timedelta(hours=1)
    facts = Facts(events=[reached])
    out = _advance(
        _event_journey(), _waiting_for_payment(payload={"code": "732001"}), FRIDAY + timedelta(hours=2), facts
    )
    assert facts.asked_since == [reached]
    assert facts.asked == [("pay", {"code": "732001"})]
    assert out.steps[0] == Step("pay", 0, "on_event", None)


def test_the_timeout_fires_at_its_exact_instant_and_not_before() -> None:
    due = FRIDAY + timedelta(days=1)
    facts = Facts(events=[FRIDAY])  # before the node was reached: already judged, no longer counts
    early = _advance(_event_journey(), _waiting_for_payment(), due - TICK, facts)
    assert (early.run.status, early.run.wake_at, early.steps) == ("waiting_event", due, [])
    on_time = _advance(_event_journey(), _waiting_for_payment(), due, facts)
    assert on_time.steps == [Step("pay", 0, "on_timeout", None), Step("late", 1, "exit", None)]


def test_a_run_waiting_without_a_reached_time_counts_events_since_it_entered() -> None:
    facts = Facts()
    run = _run("pay", "waiting_event", wake_at=FRIDAY + timedelta(days=1))
    _advance(_event_journey(), run, FRIDAY + timedelta(hours=2), facts)
    assert (facts.asked_since, facts.asked) == ([FRIDAY], [("pay", {})])


def test_a_timeout_in_trading_days_spans_the_closure() -> None:
    journey = _event_journey().model_copy(deep=True)
    journey.nodes[0].timeout = "1td"
    at = datetime(2025, 9, 30, 14, tzinfo=BJ)
    out = _advance(journey, _run(entered_at=at), at, trigger="enter")
    assert out.run.wake_at == datetime.combine(_nth_session(at.date(), 1), at.time(), tzinfo=BJ)


def test_a_run_left_waiting_at_a_node_that_no_longer_waits_is_visited_again() -> None:
    journey = _journey(
        [
            {
                "id": "s",
                "type": "split",
                "branches": [{"name": "b", "rule": {"holds": True}, "next": "bye"}],
                "default": "bye",
            },
            _bye(),
        ]
    )
    out = _advance(journey, _run("s", "waiting", wake_at=FRIDAY), FRIDAY)
    assert out.steps == [Step("s", 0, "branch:b", None), Step("bye", 1, "exit", None)]


# Splits ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("holds", "outcome", "target"),
    [
        ((True, True), "branch:first", "one"),
        ((False, True), "branch:second", "two"),
        ((False, False), "default", "three"),
    ],
)
def test_a_split_takes_the_first_branch_that_holds(
    holds: tuple[bool, bool], outcome: str, target: str
) -> None:
    split = {
        "id": "s",
        "type": "split",
        "branches": [
            {"name": "first", "rule": {"holds": holds[0]}, "next": "one"},
            {"name": "second", "rule": {"holds": holds[1]}, "next": "two"},
        ],
        "default": "three",
    }
    out = _advance(
        _journey([split, _bye("one"), _bye("two"), _bye("three")]), _run(), FRIDAY, trigger="enter"
    )
    assert out.steps == [Step("s", 0, outcome, None), Step(target, 1, "exit", None)]


def _point(journey: str, node: str, customer: str, total: int) -> int:
    """The documented stable hash: SHA-256 of journey, node and customer joined by NUL, first 8 bytes."""
    digest = hashlib.sha256(f"{journey}\x00{node}\x00{customer}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % total


def _expected_variant(point: int, weights: list[int]) -> int:
    """Variant i owns the points [w0 + … + w(i-1), w0 + … + wi)."""
    low = 0
    for i, weight in enumerate(weights):
        if low <= point < low + weight:
            return i
        low += weight
    raise AssertionError("a point past the total weight")


def _split(weights: list[int]) -> AbSplitNode:
    variants = [{"name": f"v{i}", "weight": w, "next": "bye"} for i, w in enumerate(weights)]
    return AbSplitNode.model_validate({"id": "ab", "type": "ab_split", "variants": variants})


@pytest.mark.parametrize("point", range(10))
def test_pick_variant_at_every_point_of_a_3_5_2_split(point: int) -> None:
    # Points 2|3 and 7|8 are the boundaries: the last point of a variant and the first of the next.
    weights = [3, 5, 2]
    customer = next(f"C{i}" for i in range(10_000) if _point("j", "ab", f"C{i}", 10) == point)
    expected = _expected_variant(point, weights)
    assert pick_variant(_split(weights), "j", customer).name == f"v{expected}"


@given(
    weights=st.lists(st.integers(min_value=1, max_value=10_000), min_size=2, max_size=10),
    customer=st.text(min_size=1, max_size=12),
    journey=st.sampled_from(["j", "welcome", "ipo"]),
)
@example(weights=[1, 1], customer="C1", journey="j")
@example(weights=[1, 10_000], customer="C2", journey="welcome")
def test_pick_variant_follows_the_weights_for_any_customer(
    weights: list[int], customer: str, journey: str
) -> None:
    point = _point(journey, "ab", customer, sum(weights))
    assert pick_variant(_split(weights), journey, customer).name == f"v{_expected_variant(point, weights)}"


def test_an_ab_split_records_the_variant_in_the_run() -> None:
    node = _split([1, 1]).model_dump()
    run = _run(context={"variants": {"old": "x"}})
    out = _advance(_journey([node, _bye()]), run, FRIDAY, trigger="enter")
    chosen = f"v{_expected_variant(_point('j', 'ab', 'C1', 2), [1, 1])}"
    assert out.steps == [Step("ab", 0, f"variant:{chosen}", None), Step("bye", 1, "exit", None)]
    assert out.run.context["variants"] == {"old": "x", "ab": chosen}


def test_an_ab_split_hashes_the_journey_name_for_every_customer() -> None:
    weights = [1, 1, 1]
    journey = _journey([_split(weights).model_dump(), _bye()], name="welcome")
    for number in range(30):
        run = Run("r", "welcome", 1, f"C{number}", None, 0, "ready", FRIDAY)
        out = _advance(journey, run, FRIDAY, trigger="enter")
        expected = _expected_variant(_point("welcome", "ab", f"C{number}", 3), weights)
        assert out.run.context == {"variants": {"ab": f"v{expected}"}}


# Actions ---------------------------------------------------------------------------------------------------


def _action(action: dict[str, Any], next_node: str | None = "bye") -> dict[str, Any]:
    return {"id": "act", "type": "action", "action": action, "next": next_node}


def _effects(out: Any) -> list[tuple[str, int, str, dict[str, Any]]]:
    """The effects as the outbox stores them: node, step, kind and JSON payload."""
    return [(e.node, e.step, e.kind, e.payload) for e in out.effects]


def test_an_inline_log_note_is_rendered_for_the_customer() -> None:
    journey = _journey([_action({"kind": "send", "channel": "log", "text": "hello {{ name }}"}), _bye()])
    run = _run(context={"payload": {"name": "王"}})
    out = _advance(journey, run, FRIDAY, trigger="enter")
    payload = {"kind": "send", "channel": "log", "template": None, "text": "hello {{ name }}"}
    content = Facts().render("hello {{ name }}", {"name": "王"})
    assert _effects(out) == [("act", 0, "send", {**payload, "content": content})]
    assert out.steps == [Step("act", 0, "queued", None), Step("bye", 1, "exit", None)]


@pytest.mark.parametrize(
    "action",
    [
        {"kind": "send", "channel": "sms", "template": "offer"},
        {"kind": "webhook", "url": "https://crm.example/hook"},
    ],
)
def test_a_template_send_or_webhook_carries_the_payload_and_variants(action: dict[str, Any]) -> None:
    journey = _journey([_action(action), _bye()])
    run = _run(step=4, context={"payload": {"code": "F1"}, "variants": {"ab": "v1"}})
    out = _advance(journey, run, FRIDAY, trigger="timer")
    dumped = journey.node("act").action.model_dump(mode="json")
    context = {"payload": {"code": "F1"}, "variants": {"ab": "v1"}}
    assert _effects(out) == [("act", 4, action["kind"], {**dumped, "context": context})]


def test_actions_of_a_run_without_payload_or_variants_carry_empty_ones() -> None:
    note = _journey([_action({"kind": "send", "channel": "log", "text": "hi"}), _bye()])
    [effect] = _advance(note, _run(), FRIDAY, trigger="enter").effects
    assert effect.payload["content"] == Facts().render("hi", {})
    send = _journey([_action({"kind": "send", "channel": "sms", "template": "offer"}), _bye()])
    [effect] = _advance(send, _run(), FRIDAY, trigger="enter").effects
    assert effect.payload["context"] == {"payload": {}, "variants": {}}


def test_an_effect_payload_is_plain_json() -> None:
    # Effects go to the outbox as JSON: a date given to set_attribute travels as its ISO text.
    action = {"kind": "set_attribute", "attribute": "due", "value": date(2025, 10, 9)}
    [effect] = _advance(_journey([_action(action, None)]), _run(), FRIDAY, trigger="enter").effects
    assert effect.payload == {"kind": "set_attribute", "attribute": "due", "value": "2025-10-09"}


def test_a_tag_action_carries_only_itself_and_an_action_without_next_ends_the_path() -> None:
    journey = _journey([_action({"kind": "set_tag", "tag": "vip", "value": "是"}, None)])
    out = _advance(journey, _run(context={"payload": {"code": "F1"}}), FRIDAY, trigger="enter")
    assert _effects(out) == [("act", 0, "set_tag", {"kind": "set_tag", "tag": "vip", "value": "是"})]
    assert out.steps == [Step("act", 0, "queued", None)]
    assert (out.run.status, out.run.end_reason, out.run.step) == ("done", "end of path", 1)


def test_a_holdout_run_passes_actions_without_effects() -> None:
    journey = _journey([_action({"kind": "send", "channel": "sms", "template": "offer"}), _bye()])
    out = _advance(journey, _run(holdout=True), FRIDAY, trigger="enter")
    assert out.effects == []
    assert out.steps == [Step("act", 0, "skipped", "hold-out"), Step("bye", 1, "exit", None)]
