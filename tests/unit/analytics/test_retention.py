"""Retention against a plain per-customer count of the stated semantics, on random events near midnight; then
fixed small worlds at the edges the random test rarely draws: a week range starting on a Sunday, month periods
around the clock's day and across a new year, first-time cohorts, start and return filters, a branch scope,
the cells `retention_customers` lists (customers only, offsets 0 to `periods`, an empty cell), relative cohort
days and the 1…120 bound on periods. Each fixed expectation is worked out by hand in its test's docstring."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pyroaring import FrozenBitMap

from support import examples, import_events
from touchpoint.analytics import events as events_module
from touchpoint.analytics import retention as retention_module
from touchpoint.analytics.model import RetentionQuery
from touchpoint.analytics.retention import _day, retention, retention_customers, save_retention_segment
from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.durations import parse_day
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM, Principal
from touchpoint.segments.model import PropertyFilter

BASE = datetime(2026, 1, 4, 16, 0, tzinfo=UTC)  # 2026-01-05 00:00 Beijing, a Monday
rows = st.lists(
    st.tuples(
        st.sampled_from(["P1", "P2", "P3", "P4"]),
        st.sampled_from(["open", "trade"]),
        st.integers(-2 * 1440, 70 * 1440),
    ),
    min_size=2,
    max_size=60,
)
DAY = 1440


def _load(container: Container, data: list[tuple[str, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(data))],
            "distinct_id": [r[0] for r in data],
            "event": [r[1] for r in data],
            "time": [BASE + timedelta(minutes=r[2]) for r in data],
        }
    )
    import_events(container, frame)
    return frame


def _period(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


TODAY = date(2026, 4, 5)  # the property test's clock, BASE + 90 days, as a Beijing date


def _nth_after(period: date, unit: str, k: int) -> date:
    """The first day of the period k periods after `period`."""
    if unit == "month":
        month = period.month - 1 + k
        return date(period.year + month // 12, month % 12 + 1, 1)
    return period + timedelta(days=k * (7 if unit == "week" else 1))


def _index(day: date, unit: str) -> int:
    if unit == "month":
        return day.year * 12 + day.month
    return day.toordinal() // 7 if unit == "week" else day.toordinal()


def _brute_force(frame: pd.DataFrame, first: date, last: date, n: int, unit: str, first_time: bool) -> dict:  # type: ignore[type-arg]
    local = [t.tz_convert("Asia/Shanghai").date() for t in frame["time"]]
    facts = [(p, e, d) for p, e, d in zip(frame["distinct_id"], frame["event"], local, strict=True)]
    cohorts: dict[date, set[str]] = {}
    for person, event, day in facts:
        if event != "open" or not first <= day <= last:
            continue
        period = _period(day, unit)
        if first_time and any(e == "open" and _period(d, unit) < period for p, e, d in facts if p == person):
            continue
        cohorts.setdefault(period, set()).add(person)
    result = {}
    for period, people in cohorts.items():
        retained: list[int | None] = []
        for k in range(1, n + 1):
            if _nth_after(period, unit, k) > TODAY:
                retained.append(None)  # the period has not begun on the clock's day
                continue
            back = {
                p
                for p, e, d in facts
                if e == "trade" and _index(_period(d, unit), unit) - _index(period, unit) == k
            }
            retained.append(len(people & back))
        result[period.isoformat()] = (len(people), retained)
    return result


@settings(max_examples=examples(50), deadline=None)
@example(  # a start at the day's last minute and a return at the last minute of the last period count;
    # a return at the next midnight (period 3 of 2) and a start a minute before the range do not
    data=[("P1", "open", DAY - 1), ("P1", "trade", 3 * DAY - 1), ("P2", "open", 0), ("P2", "trade", 3 * DAY),
          ("P3", "open", -1), ("P3", "trade", DAY)],
    unit="day", n=2, first_time=False, offset=0, length=0,
)  # fmt: skip
@example(  # Sunday 23:59 starts the week of 01-05, Monday 00:00 returns in the next one; Monday 00:00's
    # start lies past the range, so its Sunday return makes no cohort
    data=[("P1", "open", 7 * DAY - 1), ("P1", "trade", 7 * DAY), ("P2", "open", 7 * DAY),
          ("P2", "trade", 14 * DAY - 1)],
    unit="week", n=1, first_time=False, offset=0, length=6,
)  # fmt: skip
@example(  # 01-31 23:59 to 02-01 00:00 is one month on; 03-01 00:00 is two, past the single period asked for
    data=[("P1", "open", 27 * DAY - 1), ("P1", "trade", 27 * DAY), ("P2", "open", 20 * DAY),
          ("P2", "trade", 55 * DAY)],
    unit="month", n=1, first_time=False, offset=20, length=30,
)  # fmt: skip
@example(  # first time only: an open two days before the range keeps P1 out of the 01-06 cohort
    data=[("P1", "open", -2 * DAY), ("P1", "open", DAY + 10), ("P1", "trade", 2 * DAY),
          ("P2", "open", DAY + 600), ("P2", "trade", 2 * DAY + 5)],
    unit="day", n=1, first_time=True, offset=1, length=0,
)  # fmt: skip
@given(
    data=rows,
    unit=st.sampled_from(["day", "week", "month"]),
    n=st.integers(1, 4),
    first_time=st.booleans(),
    offset=st.integers(0, 20),
    length=st.integers(0, 30),
)
def test_retention_matches_brute_force(
    data: list[tuple[str, str, int]], unit: str, n: int, first_time: bool, offset: int, length: int
) -> None:
    assume({"open", "trade"} <= {r[1] for r in data})  # a retention of events never seen is refused
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=VirtualClock(BASE + timedelta(days=90)))
        try:
            frame = _load(container, data)
            first = date(2026, 1, 5) + timedelta(days=offset)
            last = first + timedelta(days=length)
            got = retention(
                env=container,
                start_event="open",
                return_event="trade",
                start=first,
                end=last,
                periods=n,
                unit=unit,  # type: ignore[arg-type]
                first_time=first_time,
            )
        finally:
            container.close()
    have = {c["start"]: (c["size"], c["retained"]) for c in got["cohorts"]}
    assert have == _brute_force(frame, first, last, n, unit, first_time)


def test_bad_retention_queries_are_refused(sqlite_container: Container) -> None:
    _load(sqlite_container, [("P1", "open", 0), ("P1", "trade", 1500)])
    env = sqlite_container
    with pytest.raises(ValidationError, match="periods 0"):
        retention(
            env=env,
            start_event="open",
            return_event="trade",
            start=date(2026, 1, 5),
            end=date(2026, 1, 6),
            periods=0,
        )
    with pytest.raises(ValidationError, match="unknown event"):
        retention(
            env=env,
            start_event="opn",
            return_event="trade",
            start=date(2026, 1, 5),
            end=date(2026, 1, 6),
            periods=3,
        )
    with pytest.raises(ValidationError, match="is after to"):
        retention(
            env=env,
            start_event="open",
            return_event="trade",
            start=date(2026, 1, 7),
            end=date(2026, 1, 6),
            periods=3,
        )
    table = retention(
        env=env,
        start_event="open",
        return_event="trade",
        start=date(2026, 1, 5),
        end=date(2026, 1, 5),
        periods=2,
    )
    assert table["cohorts"] == [{"start": "2026-01-05", "size": 1, "retained": [1, 0]}]


def test_a_period_that_has_not_begun_has_no_value(sqlite_container: Container) -> None:
    # The clock stands at 2026-03-02 09:00 Beijing: a cohort of 03-01 can have come back on 03-02, not later.
    day = (date(2026, 3, 1) - date(2026, 1, 5)).days * DAY
    _load(sqlite_container, [("P1", "open", day + 600), ("P1", "trade", day + DAY + 60)])
    table = retention(
        env=sqlite_container,
        start_event="open",
        return_event="trade",
        start=date(2026, 3, 1),
        end=date(2026, 3, 2),
        periods=3,
    )
    assert table["cohorts"] == [{"start": "2026-03-01", "size": 1, "retained": [1, None, None]}]


BEIJING = ZoneInfo("Asia/Shanghai")


def _event(
    who: str, event: str, day: date, *, customer: str | None = None, at: time = time(10), **properties: Any
) -> dict[str, Any]:
    """One event of distinct id `who` at Beijing time `at` on `day`, with its own customer number if given."""
    return {
        "distinct_id": who,
        "event": event,
        "time": datetime.combine(day, at, tzinfo=BEIJING).astimezone(UTC),
        "customer_no": customer,
        "properties": json.dumps(properties),
    }


@contextmanager
def _store(today: date, rows: list[dict[str, Any]]) -> Iterator[Container]:
    """A fresh store holding `rows`, its clock at 09:00 Beijing on `today`."""
    clock = VirtualClock(datetime.combine(today, time(9), tzinfo=BEIJING).astimezone(UTC))
    with tempfile.TemporaryDirectory() as home:
        container = build(load_settings(Path(home)), clock=clock)
        try:
            frame = pd.DataFrame(rows)
            frame.insert(0, "event_id", [f"e{i:02d}" for i in range(len(rows))])
            frame["customer_no"] = frame["customer_no"].astype(object)
            import_events(container, frame)
            yield container
        finally:
            container.close()


def _query(start: date, end: date, periods: int, **extra: Any) -> RetentionQuery:
    asked = {"start_event": "open", "return_event": "trade", "from": start, "to": end, "periods": periods}
    return RetentionQuery.model_validate(asked | extra)


def _triangle(env: Container, query: RetentionQuery, scope: FrozenBitMap | None = None) -> dict[str, Any]:
    return retention(env=env, **dict(query), scope=scope)


def test_a_week_range_from_sunday_counts_the_next_monday_as_the_next_week() -> None:
    """From Sunday 01-11 (in the week of Monday 01-05), a return on Monday 01-12 is one week on. The clock
    stands on Wednesday 01-14: the week of 01-12 has begun, the week of 01-19 has not (None). The whole
    answer is checked, its keys included."""
    rows = [
        _event("d1", "open", date(2026, 1, 11), customer="C1", at=time(23)),
        _event("d1", "trade", date(2026, 1, 12), customer="C1"),
    ]
    with _store(date(2026, 1, 14), rows) as env:
        got = _triangle(env, _query(date(2026, 1, 11), date(2026, 1, 11), 2, unit="week"))
    assert got == {
        "unit": "week",
        "periods": 2,
        "first_time": False,
        "cohorts": [{"start": "2026-01-05", "size": 1, "retained": [1, None]}],
    }


def test_a_month_has_begun_on_its_first_day() -> None:
    """The clock stands on 02-01 09:00: February has begun (a return at 08:00 counts), March has not. The
    January cohort is C1 (back on 02-01) and C2 (back only in January itself, which is no later period)."""
    rows = [
        _event("d1", "open", date(2026, 1, 20), customer="C1"),
        _event("d1", "trade", date(2026, 2, 1), customer="C1", at=time(8)),
        _event("d2", "open", date(2026, 1, 2), customer="C2"),
        _event("d2", "trade", date(2026, 1, 31), customer="C2"),
    ]
    with _store(date(2026, 2, 1), rows) as env:
        got = _triangle(env, _query(date(2026, 1, 1), date(2026, 1, 31), 2, unit="month"))
    assert got["cohorts"] == [{"start": "2026-01-01", "size": 2, "retained": [1, None]}]


def test_in_december_next_january_has_not_begun() -> None:
    """On 2025-12-20 the month after December is January 2026, still to come: no value, not zero."""
    rows = [
        _event("d1", "open", date(2025, 12, 3), customer="C1"),
        _event("d1", "trade", date(2025, 12, 10), customer="C1"),
        _event("d2", "open", date(2025, 12, 15), customer="C2"),
    ]
    with _store(date(2025, 12, 20), rows) as env:
        got = _triangle(env, _query(date(2025, 12, 1), date(2025, 12, 20), 1, unit="month"))
    assert got["cohorts"] == [{"start": "2025-12-01", "size": 2, "retained": [None]}]


def test_month_offsets_run_across_a_new_year() -> None:
    """November and December 2025 cohorts, two months each, read on 2026-03-02. C1 (November) is back in
    December (+1) and January (+2); C2 (December) in January (+1); C3 (December) in February (+2)."""
    rows = [
        _event("d1", "open", date(2025, 11, 10), customer="C1"),
        _event("d1", "trade", date(2025, 12, 10), customer="C1"),
        _event("d1", "trade", date(2026, 1, 10), customer="C1"),
        _event("d2", "open", date(2025, 12, 5), customer="C2"),
        _event("d2", "trade", date(2026, 1, 5), customer="C2"),
        _event("d3", "open", date(2025, 12, 6), customer="C3"),
        _event("d3", "trade", date(2026, 2, 6), customer="C3"),
    ]
    with _store(date(2026, 3, 2), rows) as env:
        got = _triangle(env, _query(date(2025, 11, 1), date(2025, 12, 31), 2, unit="month"))
    assert got["cohorts"] == [
        {"start": "2025-11-01", "size": 1, "retained": [1, 1]},
        {"start": "2025-12-01", "size": 2, "retained": [1, 1]},
    ]


FIRST_TIME_ROWS = [
    _event("d1", "open", date(2026, 1, 4), customer="C1"),  # C1 first opened before the range
    _event("d1", "open", date(2026, 1, 6), customer="C1"),
    _event("d1", "trade", date(2026, 1, 7), customer="C1"),
    _event("d2", "open", date(2026, 1, 6), customer="C2"),
    _event("d3", "open", date(2026, 1, 6), customer="C3"),
    _event("d3", "trade", date(2026, 1, 7), customer="C3"),
]


def test_first_time_cohorts_hold_only_first_starts() -> None:
    """On 01-06 C1, C2 and C3 open, and C1 and C3 trade the day after; C1 had opened on 01-04 already. With
    `first_time` the 01-06 cohort is C2 and C3 (one back), without it all three (two back) — the triangle and
    the listed cells agree."""
    with _store(date(2026, 1, 12), FIRST_TIME_ROWS) as env:
        first = _query(date(2026, 1, 6), date(2026, 1, 6), 1, first_time=True)
        every = _query(date(2026, 1, 6), date(2026, 1, 6), 1)
        assert _triangle(env, first)["cohorts"] == [{"start": "2026-01-06", "size": 2, "retained": [1]}]
        assert _triangle(env, every)["cohorts"] == [{"start": "2026-01-06", "size": 3, "retained": [2]}]
        cells = [
            retention_customers(env=env, query=q, cohort=date(2026, 1, 6), offset=k)
            for q, k in ((first, 0), (first, 1), (every, 0))
        ]
    assert cells == [["C2", "C3"], ["C3"], ["C1", "C2", "C3"]]


def test_start_and_return_filters_choose_the_events() -> None:
    """Everyone opens on 01-05 and trades on 01-06; only opens through the app start a cohort (not C2's web
    open) and only buys are returns (not C3's sell): the cohort is C1 and C3, and only C1 is back."""
    rows = [
        _event("d1", "open", date(2026, 1, 5), customer="C1", channel="app"),
        _event("d1", "trade", date(2026, 1, 6), customer="C1", side="buy"),
        _event("d2", "open", date(2026, 1, 5), customer="C2", channel="web"),
        _event("d2", "trade", date(2026, 1, 6), customer="C2", side="buy"),
        _event("d3", "open", date(2026, 1, 5), customer="C3", channel="app"),
        _event("d3", "trade", date(2026, 1, 6), customer="C3", side="sell"),
    ]
    where = {
        "start_where": [PropertyFilter(property="channel", value="app")],
        "return_where": [PropertyFilter(property="side", value="buy")],
    }
    query = _query(date(2026, 1, 5), date(2026, 1, 5), 1, **where)
    with _store(date(2026, 1, 12), rows) as env:
        assert _triangle(env, query)["cohorts"] == [{"start": "2026-01-05", "size": 2, "retained": [1]}]
        cells = [retention_customers(env=env, query=query, cohort=date(2026, 1, 5), offset=k) for k in (0, 1)]
    assert cells == [["C1", "C3"], ["C1"]]


ID_MAP = pa.table(
    {
        "id_value": ["k1", "k2", "k3"],
        "person_uid": pa.array([1, 2, 3], pa.int64()),
        "customer_no": ["C1", "C2", None],  # uid 3 is a person One ID knows who is no customer
    }
)


def test_a_scope_limits_the_cohorts_and_the_saved_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    """k1 (customer C1), k2 (C2) and k3 (anonymous, ~3) all open on 01-05 and trade on 01-06. A scope of uids
    1 and 3 sees a cohort of two, both back, and lists only C1 (~3 is no customer); unscoped, three are back
    and C1 and C2 are listed. Saving the cell as a principal with that scope keeps C1 only."""
    monkeypatch.setattr(events_module, "event_id_map", lambda env: ID_MAP)
    saved: list[list[str]] = []

    def save_list_segment(**asked: Any) -> dict[str, Any]:  # what the cell would save, kept
        saved.append(asked["numbers"])
        return {}

    monkeypatch.setattr(retention_module, "save_list_segment", save_list_segment)
    rows = [
        _event(k, e, date(2026, 1, d)) for k in ("k1", "k2", "k3") for e, d in (("open", 5), ("trade", 6))
    ]
    query = _query(date(2026, 1, 5), date(2026, 1, 5), 1)
    scope = FrozenBitMap([1, 3])
    branch = Principal(user="branch", permissions=SYSTEM.permissions, scope=scope)
    with _store(date(2026, 1, 12), rows) as env:
        scoped, everyone = _triangle(env, query, scope), _triangle(env, query)
        cell = {
            s is None: retention_customers(env=env, query=query, cohort=date(2026, 1, 5), offset=1, scope=s)
            for s in (scope, None)
        }
        for principal in (branch, SYSTEM):
            save_retention_segment(
                env=env, principal=principal, query=query, cohort=date(2026, 1, 5), offset=1, name="back"
            )
    assert scoped["cohorts"] == [{"start": "2026-01-05", "size": 2, "retained": [2]}]
    assert everyone["cohorts"] == [{"start": "2026-01-05", "size": 3, "retained": [3]}]
    assert cell == {False: ["C1"], True: ["C1", "C2"]}
    assert saved == [["C1"], ["C1", "C2"]]


def test_cells_list_customers_for_offsets_0_to_periods() -> None:
    """Cohort 01-05: C1 (back +1 and +2), C2 (back +2) and P9, who is no customer (back +1); cohort 01-06: C3,
    never back. The triangle counts P9; the cells list customers only. Offset 0 is the whole cohort,
    `periods` the last cell; an empty cell of a cohort that exists is empty, not an error; a cohort day may be
    relative (today is Monday 01-12, so -5td is Monday 01-05)."""
    rows = [
        _event("d1", "open", date(2026, 1, 5), customer="C1"),
        _event("d1", "trade", date(2026, 1, 6), customer="C1"),
        _event("d1", "trade", date(2026, 1, 7), customer="C1"),
        _event("d2", "open", date(2026, 1, 5), customer="C2"),
        _event("d2", "trade", date(2026, 1, 7), customer="C2"),
        _event("P9", "open", date(2026, 1, 5)),
        _event("P9", "trade", date(2026, 1, 6)),
        _event("d3", "open", date(2026, 1, 6), customer="C3"),
    ]
    query = _query(date(2026, 1, 5), date(2026, 1, 6), 2)

    with _store(date(2026, 1, 12), rows) as env:

        def cell(cohort: Any, offset: int) -> list[str]:
            return retention_customers(env=env, query=query, cohort=cohort, offset=offset)

        assert _triangle(env, query)["cohorts"] == [
            {"start": "2026-01-05", "size": 3, "retained": [2, 2]},
            {"start": "2026-01-06", "size": 1, "retained": [0, 0]},
        ]
        jan5 = date(2026, 1, 5)
        assert [cell(jan5, k) for k in (0, 1, 2)] == [["C1", "C2"], ["C1"], ["C1", "C2"]]
        assert cell(date(2026, 1, 6), 1) == []
        assert cell(parse_day("-5td"), 0) == ["C1", "C2"]
        for offset in (-1, 3):
            refused = rf"^offset {offset}: give 0 \(the whole cohort\) to 2$"
            with pytest.raises(ValidationError, match=refused):
                cell(jan5, offset)
        with pytest.raises(ValidationError, match="no cohort starts 2026-01-07"):
            cell(date(2026, 1, 7), 0)


def test_periods_run_from_1_to_120() -> None:
    """120 day periods are answered (today is 01-12: the periods of 01-06 to 01-12 have begun, the other 113
    have not); 121 are refused."""
    rows = [
        _event("d1", "open", date(2026, 1, 5), customer="C1"),
        _event("d1", "trade", date(2026, 1, 6), customer="C1"),
    ]
    day = date(2026, 1, 5)
    asked = {"start_event": "open", "return_event": "trade", "start": day, "end": day}
    with _store(date(2026, 1, 12), rows) as env:
        got = retention(env=env, **asked, periods=120)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="periods 121: give 1 to 120"):
            retention(env=env, **asked, periods=121)  # type: ignore[arg-type]
    assert got["cohorts"] == [{"start": "2026-01-05", "size": 1, "retained": [1] + [0] * 6 + [None] * 113}]


def test_a_period_start_answered_as_a_timestamp_is_its_date() -> None:
    """An engine may answer a truncated period as a timestamp (Spark) or as a date (DuckDB): both are the
    period's first day, so the cohort keys and their `start` never carry a time of day."""
    read = _day(datetime(2026, 1, 5, 0, 0))
    assert type(read) is date
    assert read == date(2026, 1, 5)
    assert _day(date(2026, 1, 5)) == date(2026, 1, 5)
