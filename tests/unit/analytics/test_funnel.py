"""Funnels against a brute-force enumeration of every chain (funnel_reference.py), on random events around
Beijing midnight and across the 2025 National Day and 2026 Spring Festival closures, with fixed examples at
every limit: the window's last instant, the next midnight of a trading-day window, the first instant of the
range, a late chain on the range's last day, an excluded event at the very instant of a step."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from support import examples, import_events
from touchpoint.analytics import events as events_module
from touchpoint.analytics.funnel import FunnelQuery, _mean_seconds, funnel, furthest_per_person
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from unit.analytics.funnel_reference import SHANGHAI, Exclusion, Step, brute_force, rows_of

NAMES = ["a", "b", "c"]
MODES = ["ordered", "strict", "unordered"]
WINDOWS = ["30m", "2h", "1d", "2d", "1td", "2td"]
# Beijing midnights the random events start from: the eve of the 2025 National Day closure (10-01..10-08),
# its last two closed days (10-09 is the first trading day after it), the Friday before the 2026 Spring
# Festival closure (02-16..02-23, next session 02-24) and an ordinary Tuesday.
SEASONS = [
    datetime(2025, 9, 30, tzinfo=SHANGHAI),
    datetime(2025, 10, 7, tzinfo=SHANGHAI),
    datetime(2026, 2, 13, tzinfo=SHANGHAI),
    datetime(2026, 3, 10, tzinfo=SHANGHAI),
]
minutes = st.integers(-3 * 60, 4 * 24 * 60).map(lambda m: m - m % 30)  # multiples of 30 give ties


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """A funnel question and events that hold each of its steps at least once (so every example asks a
    real question), around one of the SEASONS."""
    mode = draw(st.sampled_from(MODES))
    if mode == "unordered":  # an unordered funnel's steps are different events
        steps = draw(st.permutations(NAMES))[: draw(st.integers(2, 3))]
    else:
        steps = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=4))
    exclusion = None
    if mode != "strict" and draw(st.booleans()):
        after = draw(st.integers(1, len(steps) - 1))
        exclusion = (draw(st.sampled_from([*NAMES, "x"])), after, draw(st.integers(after + 1, len(steps))))
    needed = sorted(set(steps) | ({exclusion[0]} if exclusion else set()))
    people = st.sampled_from(["P1", "P2", "P3"])
    rows = [(draw(people), name, draw(minutes)) for name in needed]
    rows += draw(st.lists(st.tuples(people, st.sampled_from([*NAMES, "x"]), minutes), max_size=30))
    return {
        "rows": rows,
        "steps": steps,
        "window": draw(st.sampled_from(WINDOWS)),
        "season": draw(st.integers(0, len(SEASONS) - 1)),
        "offset": draw(st.integers(-1, 2)),
        "length": draw(st.integers(0, 2)),
        "mode": mode,
        "exclusion": exclusion,
    }


def case(
    rows: list[tuple[str, str, int]],
    steps: list[str],
    window: str,
    *,
    season: int = 3,
    offset: int = 0,
    length: int = 0,
    mode: str = "ordered",
    exclusion: tuple[str, int, int] | None = None,
) -> dict[str, Any]:
    """A fixed example: minutes after the season's first Beijing midnight; the range starts `offset` days
    after it and holds `length` more days."""
    return {
        "rows": rows,
        "steps": steps,
        "window": window,
        "season": season,
        "offset": offset,
        "length": length,
        "mode": mode,
        "exclusion": exclusion,
    }


DAY = 24 * 60


@settings(max_examples=examples(150), deadline=None)
@example(  # one trading day from Tuesday ends with Wednesday: Thursday's step is too late
    drawn=case([("P1", "a", 600), ("P1", "b", 2 * DAY + 600)], ["a", "b"], "1td")
)
@example(  # ... and exactly Wednesday's last minute is in time, Thursday's first instant is not
    drawn=case(
        [("P1", "a", 600), ("P2", "a", 600), ("P1", "b", 2 * DAY - 1), ("P2", "b", 2 * DAY)],
        ["a", "b"],
        "1td",
    )
)
@example(  # the same with the range running on to Thursday, so that Thursday's events are read: only the
    # deadline keeps Thursday 00:00 out
    drawn=case(
        [("P1", "a", 600), ("P2", "a", 600), ("P1", "b", 2 * DAY - 1), ("P2", "b", 2 * DAY)],
        ["a", "b"],
        "1td",
        length=2,
    )
)
@example(  # one trading day from Friday runs to the end of Monday
    drawn=case([("P1", "a", 3 * DAY + 600), ("P1", "b", 6 * DAY + 600)], ["a", "b"], "1td", offset=3)
)
@example(  # entered on 10-07 (closed): one trading day runs to the end of 10-09, not into 10-10
    drawn=case(
        [("P1", "a", 600), ("P2", "a", 600), ("P1", "b", 3 * DAY - 1), ("P2", "b", 3 * DAY)],
        ["a", "b"],
        "1td",
        season=1,
    )
)
@example(  # entered on the eve of the closure: one trading day is 10-09, nine days later
    drawn=case(
        [("P1", "a", 1380), ("P1", "b", 9 * DAY + 1000), ("P2", "a", 1380), ("P2", "b", 10 * DAY)],
        ["a", "b"],
        "1td",
        season=0,
    )
)
@example(  # the Friday before the Spring Festival: two trading days end with 02-25
    drawn=case(
        [("P1", "a", 0), ("P1", "b", 12 * DAY + 1439), ("P2", "a", 0), ("P2", "b", 13 * DAY)],
        ["a", "b"],
        "2td",
        season=2,
        mode="unordered",
    )
)
@example(  # a late chain on the range's last day: 30 minutes reach past midnight, inclusive
    drawn=case(
        [("P1", "a", DAY - 15), ("P1", "b", DAY + 15), ("P2", "a", DAY - 15), ("P2", "b", DAY + 16)],
        ["a", "b"],
        "30m",
    )
)
@example(  # ... and two hours, with the range's last day two days in
    drawn=case(
        [
            ("P1", "a", 3 * DAY - 60),
            ("P1", "b", 3 * DAY + 60),
            ("P2", "a", 3 * DAY - 1),
            ("P2", "b", 3 * DAY + 120),
        ],
        ["a", "b"],
        "2h",
        length=2,
    )
)
@example(  # a day's window from the last minute of the last day
    drawn=case([("P1", "a", DAY - 1), ("P1", "b", 2 * DAY - 1), ("P1", "c", 2 * DAY)], ["a", "b", "c"], "1d")
)
@example(  # an entry at the range's first instant counts, one a minute before it does not
    drawn=case([("P1", "a", 0), ("P1", "b", 10), ("P2", "a", -1), ("P2", "b", 10)], ["a", "b"], "30m")
)
@example(  # an excluded event at the very instant of a step is not between steps
    drawn=case(
        [("P1", "a", 60), ("P1", "x", 60), ("P1", "b", 120), ("P1", "x", 120)],
        ["a", "b"],
        "2h",
        exclusion=("x", 1, 2),
    )
)
@example(  # the chain: the later b avoids the excluded x
    drawn=case(
        [("P1", "a", 600), ("P1", "b", 660), ("P1", "x", 720), ("P1", "b", 780), ("P1", "c", 840)],
        ["a", "b", "c"],
        "1d",
        exclusion=("x", 2, 3),
    )
)
@example(  # the same, unordered
    drawn=case(
        [("P1", "a", 600), ("P1", "b", 660), ("P1", "x", 720), ("P1", "b", 780), ("P1", "c", 840)],
        ["a", "b", "c"],
        "1d",
        mode="unordered",
        exclusion=("x", 2, 3),
    )
)
@example(  # a repeated step at one instant needs two events
    drawn=case([("P1", "a", 60), ("P1", "a", 60), ("P2", "a", 60), ("P2", "b", 60)], ["a", "a", "b"], "30m")
)
@given(drawn=cases())
def test_funnel_matches_brute_force(drawn: dict[str, Any]) -> None:
    """Customers per step and the mean and median seconds from the previous step, in every mode."""
    first = SEASONS[drawn["season"]].date() + timedelta(days=drawn["offset"])
    last = first + timedelta(days=drawn["length"])
    exclusion = drawn["exclusion"]
    with _stored(drawn["rows"], SEASONS[drawn["season"]]) as (container, frame):
        got = funnel(
            env=container,
            query=FunnelQuery(
                steps=[{"event": s} for s in drawn["steps"]],
                window=drawn["window"],
                start=first,
                end=last,
                mode=drawn["mode"],
                exclusions=[] if exclusion is None else [_exclusion(*exclusion)],
            ),
        )
    want = brute_force(
        rows_of(frame),
        [Step(s) for s in drawn["steps"]],
        drawn["window"],
        first,
        last,
        drawn["mode"],
        [] if exclusion is None else [Exclusion(*exclusion)],
    )
    assert [s["customers"] for s in got["steps"]] == want.customers
    assert [s["avg_seconds_from_previous"] for s in got["steps"]] == pytest.approx(want.mean_gaps)
    assert [s["median_seconds_from_previous"] for s in got["steps"]] == pytest.approx(want.median_gaps)
    assert [s["event"] for s in got["steps"]] == list(drawn["steps"])
    counts = want.customers
    # shares to 4 decimals; a share of nobody is 0
    previous = [1.0] + [round(b / a, 4) if a else 0.0 for a, b in pairwise(counts)]
    first_share = [round(c / counts[0], 4) if counts[0] else 0.0 for c in counts]
    assert [s["conversion_from_previous"] for s in got["steps"]] == previous
    assert [s["conversion_from_first"] for s in got["steps"]] == first_share


def test_a_later_step_that_avoids_the_exclusion_carries_the_chain(sqlite_container: Container) -> None:
    """a@10:00, b@11:00, x@12:00, b@13:00, c@14:00 with x excluded between steps 2 and 3: the chain through
    b@13:00 reaches step 3 (the earliest b, taken alone, would be cut by x)."""
    base = SEASONS[3]
    times = {"a": [10], "b": [11, 13], "x": [12], "c": [14]}
    _import(sqlite_container, [("P1", e, h * 60) for e, hours in times.items() for h in hours], base)
    for mode in ("ordered", "unordered"):
        got = funnel(
            env=sqlite_container,
            query=FunnelQuery(
                steps=[{"event": "a"}, {"event": "b"}, {"event": "c"}],
                window="1d",
                start=base.date(),
                end=base.date(),
                mode=mode,
                exclusions=[{"event": "x", "after": 2, "before": 3}],
            ),
        )
        assert [s["customers"] for s in got["steps"]] == [1, 1, 1], mode
        # Step 2 was first reached at 11:00 (the chain that stops there), step 3 at 14:00.
        assert [s["avg_seconds_from_previous"] for s in got["steps"]] == [None, 3600.0, 10800.0], mode


def _three_steps(container: Container, day: date, exclusions: list[dict[str, Any]]) -> list[int]:
    query = FunnelQuery(
        steps=[{"event": "a"}, {"event": "b"}, {"event": "c"}],
        window="1d",
        start=day,
        end=day,
        exclusions=exclusions,
    )
    return [s["customers"] for s in funnel(env=container, query=query)["steps"]]


def test_an_exclusion_between_steps_1_and_2_does_not_cut_a_later_gap(sqlite_container: Container) -> None:
    """a@0, b@10, x@20, c@30 with x excluded between steps 1 and 2 only: the x after b cuts nothing."""
    base = SEASONS[3]
    _import(sqlite_container, [("P1", "a", 0), ("P1", "b", 10), ("P1", "x", 20), ("P1", "c", 30)], base)
    assert _three_steps(sqlite_container, base.date(), [{"event": "x", "after": 1, "before": 2}]) == [1, 1, 1]


def test_two_exclusions_between_the_same_steps_both_apply(sqlite_container: Container) -> None:
    """a@0, x@5, b@10 with x and then y excluded between steps 1 and 2: the first one still cuts the chain."""
    base = SEASONS[3]
    _import(
        sqlite_container,
        [("P1", "a", 0), ("P1", "x", 5), ("P1", "b", 10), ("P1", "y", 40), ("P9", "c", 50)],
        base,
    )
    exclusions = [{"event": "x", "after": 1, "before": 2}, {"event": "y", "after": 1, "before": 2}]
    assert _three_steps(sqlite_container, base.date(), exclusions) == [1, 0, 0]


def test_an_entry_after_the_ranges_last_day_is_not_an_entry(sqlite_container: Container) -> None:
    """The window reads events past the range's last day (to finish chains begun in it), but a first step
    among them does not enter the funnel."""
    base = SEASONS[3]
    next_day = 24 * 60 + 60
    rows = [("P1", "a", next_day), ("P1", "b", next_day + 10), ("P2", "a", 0), ("P9", "c", 50)]
    _import(sqlite_container, rows, base)
    assert _three_steps(sqlite_container, base.date(), []) == [1, 0, 0]


def test_a_funnel_over_more_than_two_years_of_events_is_refused_by_name(sqlite_container: Container) -> None:
    """Chains keep each event's time as milliseconds from the first event in 36 bits (about 795 days): a range
    whose events lie further apart is refused with what to do, not cut short."""
    base = SEASONS[3]
    apart = 800 * DAY  # minutes
    _import(sqlite_container, [("P1", "a", 0), ("P1", "b", 10), ("P2", "a", apart)], base)
    day = base.date()
    query = FunnelQuery(
        steps=[{"event": "a"}, {"event": "b"}], window="1d", start=day, end=day + timedelta(days=800)
    )
    with pytest.raises(ValidationError) as refused:
        funnel(env=sqlite_container, query=query)
    assert (
        str(refused.value) == "a funnel reads at most about 790 days of events: shorten the range or window"
    )
    shorter = query.model_copy(update={"end": day + timedelta(days=700)})
    assert [s["customers"] for s in funnel(env=sqlite_container, query=shorter)["steps"]] == [1, 1]


def test_bad_queries_name_the_fault(sqlite_container: Container) -> None:
    _import(sqlite_container, [("P1", "a", 0), ("P1", "b", 10)], SEASONS[3])
    env = sqlite_container
    base = {
        "steps": [{"event": "a"}, {"event": "b"}],
        "window": "7d",
        "start": "2026-03-10",
        "end": "2026-03-12",
    }

    def ask(**changes: object) -> dict[str, object]:
        return funnel(env=env, query=FunnelQuery.model_validate(base | changes))

    assert [s["customers"] for s in ask()["steps"]] == [1, 1]  # type: ignore[index]
    with pytest.raises(ValidationError, match="unknown event"):
        ask(steps=[{"event": "a"}, {"event": "zzz"}])
    with pytest.raises(ValidationError, match="unknown event"):  # a strict funnel reads every event
        ask(steps=[{"event": "a"}, {"event": "zzz"}], mode="strict")
    with pytest.raises(ValueError, match="longer than zero"):
        ask(window="0d")
    with pytest.raises(ValueError, match="at most 20"):
        ask(steps=[{"event": "a"}] * 21)
    with pytest.raises(ValueError, match="'ordered', 'strict' or 'unordered'"):
        ask(mode="sideways")
    with pytest.raises(ValidationError, match="is after to"):
        ask(start="2026-03-12", end="2026-03-10")
    # Trading-day windows are counted only where XSHG's calendar is known: a range outside it is refused,
    # and so is a window that would end past its last day (the fault names the window); calendar windows
    # are not.
    first, last = env.calendar.first_day, env.calendar.last_day
    early = {"start": first.isoformat(), "end": (first + timedelta(days=30)).isoformat()}
    with pytest.raises(ValidationError, match=rf"^{first} is outside the trading calendar"):
        ask(window="1td", **early)
    late = {"start": (last - timedelta(days=5)).isoformat(), "end": (last + timedelta(days=1)).isoformat()}
    with pytest.raises(
        ValidationError, match=rf"^{last + timedelta(days=1)} is outside the trading calendar"
    ):
        ask(window="1td", **late)
    with pytest.raises(ValidationError, match=rf"^window 3td: {last} plus the window lies past") as past:
        ask(window="3td", start=last.isoformat(), end=last.isoformat())
    faults = [(f.loc, f.msg) for f in past.value.faults]
    assert faults == [(("body", "window"), "reaches past the trading calendar")]
    assert [s["customers"] for s in ask(window="1d", **early)["steps"]] == [0, 0]  # type: ignore[index]


hours = st.integers(0, 8).map(lambda h: h * 60)
dense_events = st.tuples(
    st.tuples(hours, hours, hours, hours),  # one a, b, c and x for P1, so every example has a funnel
    st.lists(st.tuples(st.sampled_from(["P1", "P2"]), st.sampled_from([*NAMES, "x"]), hours), max_size=26),
).map(lambda drawn: [("P1", n, h) for n, h in zip([*NAMES, "x"], drawn[0], strict=True)] + drawn[1])


@settings(max_examples=examples(120), deadline=None)
@given(
    rows=dense_events,
    mode=st.sampled_from(["ordered", "unordered"]),
    exclusion=st.tuples(st.sampled_from(["x", "b"]), st.sampled_from([(1, 2), (1, 3), (2, 3)])).map(
        lambda drawn: (drawn[0], *drawn[1])
    ),
)
def test_exclusions_on_crowded_timelines_match_brute_force(
    rows: list[tuple[str, str, int]], mode: str, exclusion: tuple[str, int, int]
) -> None:
    """Few instants, many ties: exclusions at the very instant of a step, steps out of order, and several
    exclusion events between the same steps (a later step occurrence may avoid them)."""
    steps = ["a", "b", "c"]
    day = SEASONS[3].date()
    with _stored(rows, SEASONS[3]) as (container, frame):
        got = funnel(
            env=container,
            query=FunnelQuery(
                steps=[{"event": s} for s in steps],
                window="1d",
                start=day,
                end=day,
                mode=mode,
                exclusions=[dict(zip(["event", "after", "before"], exclusion, strict=True))],
            ),
        )
    want = brute_force(
        rows_of(frame), [Step(s) for s in steps], "1d", day, day, mode, [Exclusion(*exclusion)]
    )
    assert [s["customers"] for s in got["steps"]] == want.customers
    assert [s["avg_seconds_from_previous"] for s in got["steps"]] == pytest.approx(want.mean_gaps)


@settings(max_examples=examples(80), deadline=None)
@example(  # three events at one instant: the b without the kind must fill step 2, the b with it step 3
    rows=[("P1", "a", 0, None), ("P1", "b", 0, "x"), ("P1", "b", 0, "y")],
    steps=[("a", None), ("b", None), ("b", "x")],
    mode="ordered",
)
@example(  # the entry's own event cannot fill a later step at the same instant
    rows=[("P1", "a", 60, "x"), ("P1", "a", 60, None)],
    steps=[("a", None), ("a", "x")],
    mode="ordered",
)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["P1", "P2"]),
            st.sampled_from(NAMES[:2]),
            st.integers(0, 4).map(lambda h: h * 60),
            st.sampled_from(["x", "y", None]),
        ),
        min_size=2,
        max_size=14,
    ),
    steps=st.lists(
        st.tuples(st.sampled_from(NAMES[:2]), st.sampled_from(["x", "y", None])), min_size=2, max_size=4
    ),
    mode=st.sampled_from(MODES),
)
def test_steps_with_property_filters_at_one_instant(
    rows: list[tuple[str, str, int, str | None]], steps: list[tuple[str, str | None]], mode: str
) -> None:
    """Several events at one instant, each matching several steps through property filters: a step is
    reached when the events can be shared out among the steps, one event per step."""
    if mode == "unordered":
        steps = list({name: (name, kind) for name, kind in steps}.values())
    assume(len(steps) >= 2 and {name for name, _ in steps} <= {r[1] for r in rows})
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i:03d}" for i in range(len(rows))],
            "event": [r[1] for r in rows],
            "distinct_id": [r[0] for r in rows],
            "time": [SEASONS[3] + timedelta(minutes=r[2]) for r in rows],
            "properties": [json.dumps({} if r[3] is None else {"kind": r[3]}) for r in rows],
            "kind": [r[3] for r in rows],
        }
    )
    day = SEASONS[3].date()
    wanted = [
        {"event": n} | ({"where": [{"property": "kind", "op": "=", "value": k}]} if k else {})
        for n, k in steps
    ]
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(SEASONS[3] + timedelta(days=10)))
        try:
            import_events(container, frame.drop(columns="kind"))
            got = funnel(
                env=container,
                query=FunnelQuery(steps=wanted, window="2h", start=day, end=day, mode=mode),
            )
        finally:
            container.close()
    want = brute_force(rows_of(frame), [Step(n, k) for n, k in steps], "2h", day, day, mode)
    assert [s["customers"] for s in got["steps"]] == want.customers


@settings(max_examples=examples(60), deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["P1", "P2", "P3"]),
            st.sampled_from(NAMES),
            st.integers(0, 3 * 24 * 60).map(lambda m: m - m % 60),
            st.sampled_from(["x", "y", None]),
        ),
        min_size=2,
        max_size=30,
    ),
    steps=st.lists(st.sampled_from(NAMES), min_size=2, max_size=3),
)
def test_breakdown_by_property_splits_chains_by_their_first_step(
    rows: list[tuple[str, str, int, str | None]], steps: list[str]
) -> None:
    """Per group, the funnel of the chains whose first step carries that property value; the sizes of
    the groups add up to the funnel's."""
    assume(set(steps) <= {r[1] for r in rows})
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i:03d}" for i in range(len(rows))],
            "event": [r[1] for r in rows],
            "distinct_id": [r[0] for r in rows],
            "time": [SEASONS[3] + timedelta(minutes=r[2]) for r in rows],
            "properties": [json.dumps({} if r[3] is None else {"kind": r[3]}) for r in rows],
        }
    )
    kinds = [r[3] or "(无)" for r in rows]
    first, last = date(2026, 3, 10), date(2026, 3, 11)
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(SEASONS[3] + timedelta(days=10)))
        try:
            import_events(container, frame)
            got = funnel(
                env=container,
                query=FunnelQuery(
                    steps=[{"event": s} for s in steps], window="1d", start=first, end=last, by="kind"
                ),
            )
        finally:
            container.close()
    every = rows_of(frame)
    want = {}
    for kind in sorted(set(kinds)):
        # A chain's group is its entry's: only entries of this kind, with every event to continue them.
        entries = {r.event_id for r, k in zip(every, kinds, strict=True) if k == kind}
        counts = brute_force(every, [Step(s) for s in steps], "1d", first, last, "ordered", entries=entries)
        if counts.customers[0]:
            want[kind] = counts.customers
    have = {g["group"]: [s["customers"] for s in g["steps"]] for g in got.get("breakdown", [])}
    assert have == want
    overall = brute_force(every, [Step(s) for s in steps], "1d", first, last, "ordered")
    assert [s["customers"] for s in got["steps"]] == overall.customers


def _exclusion(event: str, after: int, before: int) -> dict[str, Any]:
    return {"event": event, "after": after, "before": before}


@contextmanager
def _stored(rows: list[tuple[str, str, int]], base: datetime) -> Iterator[tuple[Container, pd.DataFrame]]:
    """A fresh store holding `rows` (person, event, minutes after `base`), and those rows as a frame."""
    with tempfile.TemporaryDirectory() as home:
        clock = VirtualClock(base.astimezone(UTC) + timedelta(days=30))
        container = build(load_settings(Path(home)), clock=clock)
        try:
            yield container, _import(container, rows, base)
        finally:
            container.close()


def _import(container: Container, rows: list[tuple[str, str, int]], base: datetime) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i:03d}" for i in range(len(rows))],
            "event": [r[1] for r in rows],
            "distinct_id": [r[0] for r in rows],
            "time": pd.Series([base + timedelta(minutes=r[2]) for r in rows]).dt.tz_convert("UTC"),
        }
    )
    import_events(container, frame)
    return frame


def test_furthest_per_person_takes_the_first_of_the_furthest_chains() -> None:
    person = np.array([0, 0, 0, 3, 3, 7], dtype=np.int64)
    reached = np.array([1, 3, 3, 2, 2, 1], dtype=np.int64)
    assert furthest_per_person(person, reached).tolist() == [1, 3, 5]
    assert furthest_per_person(person[:0], reached[:0]).tolist() == []


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 4)), max_size=40))
def test_furthest_per_person_is_the_sort_it_replaces(chains: list[tuple[int, int]]) -> None:
    frame = pd.DataFrame(sorted(chains, key=lambda c: c[0]), columns=["person", "reached"], dtype=np.int64)
    want = frame.sort_values("reached", ascending=False, kind="stable").drop_duplicates(["person"])
    got = furthest_per_person(frame["person"].to_numpy(), frame["reached"].to_numpy())
    assert sorted(got.tolist()) == sorted(want.index.tolist())


def test_the_mean_gap_is_summed_exactly_whatever_the_order() -> None:
    millis = np.array([100_001, 1, 2**40 + 7, 3], dtype=np.int64)
    assert _mean_seconds(millis) == _mean_seconds(millis[::-1]) == (100_001 + 1 + 2**40 + 7 + 3) / 4000
    assert _mean_seconds(millis[:0]) is None


def test_known_events_are_asked_only_about_steps_without_events(
    sqlite_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing the known events scans every event file: a funnel whose steps all have events skips it, and
    one with a step without events still tells an unknown event from a quiet one."""
    _import(sqlite_container, [("P1", "a", 0), ("P1", "b", 10), ("P2", "c", 0)], SEASONS[3])
    asked: list[list[str]] = []
    real = events_module.known_events
    monkeypatch.setattr(events_module, "known_events", lambda analytics: asked.append([]) or real(analytics))
    base = {"window": "7d", "start": "2026-03-10", "end": "2026-03-12"}

    def ask(*steps: str) -> list[int]:
        query = FunnelQuery.model_validate(base | {"steps": [{"event": s} for s in steps]})
        return [s["customers"] for s in funnel(env=sqlite_container, query=query)["steps"]]

    assert ask("a", "b") == [1, 1]
    assert asked == []
    assert ask("c", "a", "b") == [1, 0, 0]  # c on 03-10 counts; a and b come in the same read
    assert asked == []
    with pytest.raises(ValidationError, match=r"unknown event\(s\) zzz"):
        ask("a", "zzz")
    assert len(asked) == 1


def test_a_steps_property_filter_uses_its_operator(sqlite_container: Container) -> None:
    """`!=` keeps the steps whose property differs — not those equal to it, nor those without the property
    (a missing property fails every filter)."""
    kinds = {"P1": "x", "P2": "y", "P3": None, "P4": "y"}
    frame = pd.DataFrame(
        {
            "event_id": [f"{p}-{n}" for p in kinds for n in ("a", "b")],
            "event": [n for _ in kinds for n in ("a", "b")],
            "distinct_id": [p for p in kinds for _ in ("a", "b")],
            "time": [SEASONS[3] + timedelta(minutes=m) for _ in kinds for m in (0, 10)],
            "properties": [
                json.dumps({} if k is None else {"kind": k}) for k in kinds.values() for _ in "ab"
            ],
        }
    )
    import_events(sqlite_container, frame)
    day = SEASONS[3].date()
    steps = [{"event": "a", "where": [{"property": "kind", "op": "!=", "value": "x"}]}, {"event": "b"}]
    got = funnel(env=sqlite_container, query=FunnelQuery(steps=steps, window="1h", start=day, end=day))
    assert [s["customers"] for s in got["steps"]] == [2, 2]


def test_a_trading_day_window_ends_at_the_last_millisecond_of_its_last_session_day(
    sqlite_container: Container,
) -> None:
    """1td from Tuesday 03-10 ends at Wednesday 03-11 23:59:59.999 Beijing: a step then is in time, one a
    millisecond later is not."""
    entered = SEASONS[3] + timedelta(hours=10)
    last = datetime(2026, 3, 11, 23, 59, 59, 999_000, tzinfo=SHANGHAI)
    frame = pd.DataFrame(
        {
            "event_id": ["p1-a", "p1-b", "p2-a", "p2-b"],
            "event": ["a", "b", "a", "b"],
            "distinct_id": ["P1", "P1", "P2", "P2"],
            "time": [entered, last, entered, last + timedelta(milliseconds=1)],
            "properties": ["{}"] * 4,
        }
    )
    import_events(sqlite_container, frame)
    day = SEASONS[3].date()
    query = FunnelQuery(steps=[{"event": "a"}, {"event": "b"}], window="1td", start=day, end=day)
    assert [s["customers"] for s in funnel(env=sqlite_container, query=query)["steps"]] == [2, 1]


def test_breakdown_groups_are_listed_by_size_then_by_name(sqlite_container: Container) -> None:
    """Eighteen groups of two sizes: the larger first, equal sizes in the order of their names — NumPy sorts
    more than 16 values with an unstable quicksort, so the order among equals is the code's to keep."""
    groups = [f"k{i:02d}" for i in range(18)]
    people = [(f"P{i:02d}{j}", g) for i, g in enumerate(groups) for j in range(2 if i % 2 == 0 else 1)]
    frame = pd.DataFrame(
        {
            "event_id": [f"{p}-{n}" for p, _ in people for n in ("a", "b")],
            "event": [n for _ in people for n in ("a", "b")],
            "distinct_id": [p for p, _ in people for _ in ("a", "b")],
            "time": [SEASONS[3] + timedelta(minutes=m) for _ in people for m in (0, 10)],
            "properties": [json.dumps({"kind": g}) for _, g in people for _ in ("a", "b")],
        }
    )
    import_events(sqlite_container, frame)
    day = SEASONS[3].date()
    query = FunnelQuery(
        steps=[{"event": "a"}, {"event": "b"}], window="1h", start=day, end=day, by="property:kind", top=100
    )
    breakdown = funnel(env=sqlite_container, query=query)["breakdown"]
    assert [g["group"] for g in breakdown] == groups[0::2] + groups[1::2]
    assert [g["steps"][0]["customers"] for g in breakdown] == [2] * 9 + [1] * 9


def test_a_groups_step_times_are_those_of_the_earliest_of_the_furthest_chains(
    sqlite_container: Container,
) -> None:
    """Seventeen entries of one person, some converting: the group reports the earliest converting chain's
    gap, as the whole funnel does. NumPy sorts more than 16 values with an unstable quicksort, which for this
    pattern puts a later chain first (a gap of 6 s instead of 5 s)."""
    converts = [0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0]
    rows = [("a", timedelta(minutes=10 * i)) for i in range(len(converts))]
    rows += [("b", timedelta(minutes=10 * i, seconds=i)) for i, c in enumerate(converts) if c]
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i:02d}" for i in range(len(rows))],
            "event": [name for name, _ in rows],
            "distinct_id": ["P1"] * len(rows),
            "time": [SEASONS[3] + offset for _, offset in rows],
            "properties": [json.dumps({"kind": "k"})] * len(rows),
        }
    )
    import_events(sqlite_container, frame)
    day = SEASONS[3].date()
    query = FunnelQuery(
        steps=[{"event": "a"}, {"event": "b"}], window="1m", start=day, end=day, by="property:kind"
    )
    result = funnel(env=sqlite_container, query=query)
    assert result["steps"][1]["median_seconds_from_previous"] == 5.0
    [group] = result["breakdown"]
    assert group["steps"][1]["median_seconds_from_previous"] == 5.0
