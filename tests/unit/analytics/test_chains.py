"""The funnel's chain search alone, without a store, against the brute-force enumeration of every chain: many
examples of crowded timelines (ties, repeated steps, several exclusions, steps matching the same events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from touchpoint.analytics.chains import TIME_BITS, Events, _ordered, _ordered_earliest, pack_keys, search
from touchpoint.core.errors import ValidationError
from unit.analytics.funnel_reference import Exclusion, Row, Step, earliest_reach

ORIGIN = datetime(2026, 3, 10, tzinfo=UTC)
SPANS = {"30m": 30 * 60_000, "2h": 2 * 3_600_000, "1d": 86_400_000}
NAMES = ["a", "b", "c", "x"]


@st.composite
def timelines(draw: st.DrawFn) -> tuple[list[Row], list[Step], list[Exclusion], str, str]:
    """Two people's events on few instants (many ties), steps with or without a kind, exclusions."""
    mode = draw(st.sampled_from(["ordered", "unordered"]))
    if mode == "unordered":
        names = draw(st.permutations(NAMES[:3]))[: draw(st.integers(2, 3))]
    else:
        names = draw(st.lists(st.sampled_from(NAMES[:3]), min_size=2, max_size=4))
    steps = [Step(name, draw(st.sampled_from([None, None, "k"]))) for name in names]
    exclusions = []
    for _ in range(draw(st.integers(0, 2))):
        after = draw(st.integers(1, len(steps) - 1))
        exclusions.append(
            Exclusion(draw(st.sampled_from(NAMES)), after, draw(st.integers(after + 1, len(steps))))
        )
    drawn = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["P1", "P2"]),
                st.sampled_from(NAMES),
                st.integers(0, 12).map(lambda q: q * 15),  # minutes: a 3-hour stretch, quarter hours
                st.sampled_from([None, "k"]),
            ),
            min_size=1,
            max_size=16,
        )
    )
    rows = [
        Row(f"e{i:02d}", who, name, ORIGIN + timedelta(minutes=m), kind)
        for i, (who, name, m, kind) in enumerate(drawn)
    ]
    return rows, steps, exclusions, draw(st.sampled_from(list(SPANS))), mode


@settings(max_examples=600, deadline=None)
@example(  # the chain: b@11:00 is cut by x@12:00, b@13:00 goes on to c@14:00
    case=(
        [
            Row("e0", "P1", "a", ORIGIN + timedelta(hours=10)),
            Row("e1", "P1", "b", ORIGIN + timedelta(hours=11)),
            Row("e2", "P1", "x", ORIGIN + timedelta(hours=12)),
            Row("e3", "P1", "b", ORIGIN + timedelta(hours=13)),
            Row("e4", "P1", "c", ORIGIN + timedelta(hours=14)),
        ],
        [Step("a"), Step("b"), Step("c")],
        [Exclusion("x", 2, 3)],
        "1d",
        "ordered",
    )
)
@example(  # unordered: a later b lifts the moment reached past x, so that c is not cut by it
    case=(
        [
            Row("e0", "P1", "a", ORIGIN),
            Row("e1", "P1", "b", ORIGIN + timedelta(minutes=15)),
            Row("e2", "P1", "x", ORIGIN + timedelta(minutes=30)),
            Row("e3", "P1", "b", ORIGIN + timedelta(minutes=45)),
            Row("e4", "P1", "c", ORIGIN + timedelta(minutes=45)),
        ],
        [Step("a"), Step("b"), Step("c")],
        [Exclusion("x", 2, 3)],
        "2h",
        "unordered",
    )
)
@example(  # x may not come between steps 1 and 2, y not between 2 and 3: b@20 (x at its very instant) is
    # the b to take, as y@15 cuts b@10 off from c@25
    case=(
        [
            Row("e0", "P1", "a", ORIGIN),
            Row("e1", "P1", "b", ORIGIN + timedelta(minutes=10)),
            Row("e2", "P1", "y", ORIGIN + timedelta(minutes=15)),
            Row("e3", "P1", "x", ORIGIN + timedelta(minutes=20)),
            Row("e4", "P1", "b", ORIGIN + timedelta(minutes=20)),
            Row("e5", "P1", "c", ORIGIN + timedelta(minutes=25)),
        ],
        [Step("a"), Step("b"), Step("c")],
        [Exclusion("x", 1, 2), Exclusion("y", 2, 3)],
        "30m",
        "ordered",
    )
)
@given(case=timelines())
def test_search_matches_every_chain(case: tuple[list[Row], list[Step], list[Exclusion], str, str]) -> None:
    rows, steps, exclusions, window, mode = case
    events, order = _events(rows, steps, exclusions)
    first = np.flatnonzero(events.steps[0])
    start = events.keys[first] & ((1 << TIME_BITS) - 1)
    stops = [np.zeros(len(rows), dtype=bool) for _ in steps]
    for j, exclusion in enumerate(exclusions):
        for k in range(exclusion.after, exclusion.before):  # steps after+1..before, numbered from 1
            stops[k] |= events.excluded[j]
    chains = search(events, first, start + SPANS[window], mode, stops)
    times = chains.when(np.arange(len(first)))
    for position, row in enumerate(first.tolist()):
        anchor = order[row]
        mine = [r for r in rows if r.person == anchor.person]
        want = earliest_reach(mine, anchor, steps, window, mode, exclusions)
        have = [t for t in (times[k][position] for k in range(len(steps))) if t >= 0]
        assert chains.reached[position] == len(want), (anchor, want)
        assert have == [(t - ORIGIN) // timedelta(milliseconds=1) for t in want], anchor


@settings(max_examples=400, deadline=None)
@example(  # a repeated step at one instant takes two events; the tie carries the chain to step 3 at once
    case=(
        [
            Row("e0", "P1", "a", ORIGIN),
            Row("e1", "P1", "a", ORIGIN + timedelta(minutes=15)),
            Row("e2", "P1", "b", ORIGIN + timedelta(minutes=15)),
            Row("e3", "P1", "a", ORIGIN + timedelta(minutes=15)),
        ],
        [Step("a"), Step("a"), Step("b"), Step("a")],
        [],
        "30m",
        "ordered",
    )
)
@given(case=timelines())
def test_earliest_chain_without_exclusions_is_the_full_search(
    case: tuple[list[Row], list[Step], list[Exclusion], str, str],
) -> None:
    """Ordered with no exclusions, the one greedy chain per entry gives the same steps reached and the same
    earliest moments as the search over every pair of steps (and the brute force, through `search`)."""
    rows, steps, _, window, _ = case
    events, _ = _events(rows, steps, [])
    first = np.flatnonzero(events.steps[0])
    deadline = (events.keys[first] & ((1 << TIME_BITS) - 1)) + SPANS[window]
    stops = [np.zeros(len(rows), dtype=bool) for _ in steps]
    fast, full = _ordered_earliest(events, first, deadline), _ordered(events, first, deadline, stops)
    assert fast.reached.tolist() == full.reached.tolist()
    chosen = np.arange(len(first))
    assert [t.tolist() for t in fast.when(chosen)] == [t.tolist() for t in full.when(chosen)]
    assert fast.person.tolist() == full.person.tolist()


def _events(rows: list[Row], steps: list[Step], exclusions: list[Exclusion]) -> tuple[Events, list[Row]]:
    """The rows as the funnel loads them: packed keys sorted, step and exclusion marks."""
    people = sorted({r.person for r in rows})
    keys = np.array(
        [
            (people.index(r.person) << TIME_BITS) | ((r.time - ORIGIN) // timedelta(milliseconds=1))
            for r in rows
        ],
        dtype=np.int64,
    )
    order = np.argsort(keys, kind="stable")
    ordered = [rows[i] for i in order]
    return (
        Events(
            people=pd.Index(people),
            keys=keys[order],
            days=np.zeros(len(rows), dtype="datetime64[D]"),
            steps=[np.array([s.matches(r) for r in ordered], dtype=bool) for s in steps],
            excluded=[np.array([r.event == e.event for r in ordered], dtype=bool) for e in exclusions],
            groups=None,
            is_customer=np.zeros(len(people), dtype=bool),
            origin=0,
        ),
        ordered,
    )


def test_keys_hold_a_span_of_exactly_time_bits_and_refuse_one_millisecond_more() -> None:
    """The last millisecond that fits is kept whole (person and time read back); one more is refused by name,
    never wrapped into the next person's code."""
    limit = (1 << TIME_BITS) - 1
    codes = np.array([0, 1, 1], dtype=np.int64)
    millis = np.array([1_000, 1_000, 1_000 + limit], dtype=np.int64)
    keys, origin = pack_keys(codes, millis)
    assert origin == 1_000
    assert (keys >> TIME_BITS).tolist() == [0, 1, 1]
    assert (keys & limit).tolist() == [0, 0, limit]
    with pytest.raises(ValidationError, match="at most about 790 days"):
        pack_keys(codes, millis + np.array([0, 0, 1]))
    empty, start = pack_keys(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    assert (len(empty), start) == (0, 0)
