"""A brute-force reading of the funnel's rules, independent of `touchpoint.analytics.funnel`: every chain of
events is enumerated (a depth-first walk over every sequence of distinct events that keeps the rules at each
step), and trading days come from exchange-calendars' XSHG directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import mean, median
from zoneinfo import ZoneInfo

import exchange_calendars
import pandas as pd

XSHG = exchange_calendars.get_calendar("XSHG")
SHANGHAI = ZoneInfo("Asia/Shanghai")
SPANS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


@dataclass(frozen=True)
class Row:
    """One event of one person."""

    event_id: str
    person: str
    event: str
    time: datetime
    kind: str | None = None


@dataclass(frozen=True)
class Step:
    """A funnel step: an event, optionally only with property kind = `kind`."""

    event: str
    kind: str | None = None

    def matches(self, row: Row) -> bool:
        return row.event == self.event and (self.kind is None or row.kind == self.kind)


@dataclass(frozen=True)
class Exclusion:
    """An event that must not happen strictly between steps k-1 and k, for k in after+1..before."""

    event: str
    after: int
    before: int


def rows_of(frame: pd.DataFrame) -> list[Row]:
    """The frame's events as rows (a `kind` column is optional)."""
    kinds = frame["kind"] if "kind" in frame else [None] * len(frame)
    return [
        Row(str(i), str(p), str(e), t.to_pydatetime(), None if pd.isna(k) else str(k))
        for i, p, e, t, k in zip(
            frame["event_id"], frame["distinct_id"], frame["event"], frame["time"], kinds, strict=True
        )
    ]


def deadline(start: datetime, window: str) -> datetime:
    """The last instant a chain entered at `start` may reach a step: a span after it (inclusive), or the last
    millisecond of the Nth XSHG session after its Beijing day."""
    if not window.endswith("td"):
        return start + SPANS[window[-1]] * int(window[:-1])
    day = pd.Timestamp(start.astimezone(SHANGHAI).date())
    last = XSHG.sessions[XSHG.sessions > day][int(window[:-2]) - 1].date()
    return datetime.combine(last + timedelta(days=1), datetime.min.time(), SHANGHAI) - timedelta(
        milliseconds=1
    )


def earliest_reach(
    mine: list[Row], anchor: Row, steps: list[Step], window: str, mode: str, exclusions: list[Exclusion]
) -> list[datetime]:
    """When each step is first reached over every chain entered at `anchor`, as far as any chain goes.

    A chain fills step k with an event distinct from the chain's others, by the window's deadline;
    ordered: at or after step k-1; unordered: at or after the entry, step k reached at the latest time so
    far; strict: the very next event of the person (by time, then event id). An exclusion forbids its event
    strictly between the moments steps k-1 and k are reached."""
    if mode == "strict":
        return _strict(mine, anchor, steps, deadline(anchor.time, window))
    best: list[datetime | None] = [anchor.time] + [None] * (len(steps) - 1)
    last = deadline(anchor.time, window)

    def extend(chain: list[Row], reached: datetime) -> None:
        k = len(chain)  # 0-based: the step to fill next
        if k == len(steps):
            return
        for row in mine:
            if row in chain or not steps[k].matches(row) or row.time > last:
                continue
            if row.time < (chain[-1].time if mode == "ordered" else anchor.time):
                continue
            now = max(reached, row.time)
            if any(_between(mine, e, reached, now) for e in exclusions if e.after <= k < e.before):
                continue
            best[k] = now if best[k] is None else min(now, best[k])  # type: ignore[type-var]
            extend([*chain, row], now)

    extend([anchor], anchor.time)
    reached = [t for t in best if t is not None]
    assert best[: len(reached)] == reached, "a chain reaching step k passes step k-1"
    return reached


def _between(mine: list[Row], exclusion: Exclusion, after: datetime, before: datetime) -> bool:
    return any(r.event == exclusion.event and after < r.time < before for r in mine)


def _strict(mine: list[Row], anchor: Row, steps: list[Step], last: datetime) -> list[datetime]:
    stream = sorted(mine, key=lambda r: (r.time, r.event_id))
    at = stream.index(anchor)
    reached = [anchor.time]
    for step in steps[1:]:
        at += 1
        if at >= len(stream) or not step.matches(stream[at]) or stream[at].time > last:
            break
        reached.append(stream[at].time)
    return reached


@dataclass
class Answer:
    """Per step: customers reaching it, and mean and median seconds from the previous step."""

    customers: list[int]
    mean_gaps: list[float | None]
    median_gaps: list[float | None]


def reach_by_person(
    rows: list[Row],
    steps: list[Step],
    window: str,
    first: date,
    last: date,
    mode: str,
    exclusions: list[Exclusion] | None = None,
    entries: set[str] | None = None,
) -> dict[str, list[datetime]]:
    """Per person with an entry on Beijing days first..last (only at the events `entries`, when given): the
    moments each step is first reached from the earliest entry among those that go furthest."""
    furthest: dict[str, list[datetime]] = {}
    for anchor in sorted(rows, key=lambda r: (r.time, r.event_id)):
        if not steps[0].matches(anchor) or not first <= anchor.time.astimezone(SHANGHAI).date() <= last:
            continue
        if entries is not None and anchor.event_id not in entries:
            continue
        mine = [r for r in rows if r.person == anchor.person]
        reached = earliest_reach(mine, anchor, steps, window, mode, exclusions or [])
        if len(reached) > len(furthest.get(anchor.person, [])):
            furthest[anchor.person] = reached
    return furthest


def brute_force(
    rows: list[Row],
    steps: list[Step],
    window: str,
    first: date,
    last: date,
    mode: str,
    exclusions: list[Exclusion] | None = None,
    entries: set[str] | None = None,
) -> Answer:
    """The funnel by the rules: customers reaching each step, seconds between steps (reach_by_person)."""
    furthest = reach_by_person(rows, steps, window, first, last, mode, exclusions, entries)
    customers = [sum(1 for t in furthest.values() if len(t) > k) for k in range(len(steps))]
    gaps = [
        [(t[k] - t[k - 1]).total_seconds() for t in furthest.values() if len(t) > k]
        for k in range(1, len(steps))
    ]
    return Answer(
        customers,
        [None, *(mean(g) if g else None for g in gaps)],
        [None, *(median(g) if g else None for g in gaps)],
    )
