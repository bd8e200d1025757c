"""The search behind funnels (漏斗): how far each entry gets over every chain of events (rules: funnel.py).

Events are packed keys, person code << TIME_BITS | milliseconds since the events' first instant, sorted, so
that one `searchsorted` finds a person's next event of a kind. Each mode is a few such passes per step, so a
funnel costs about the same however many chains its customers' events allow:
- ordered with no excluded event: one chain per entry, each step at the first instant that has it (the
  earliest chain is never worse there);
- ordered with exclusions: backwards over the steps, for every event of every step, the earliest moment a
  chain through it reaches each later step. An event's successors are the next step's events after it up
  to the first excluded event (a stretch), so the best of them is a minimum over the end of a stretch;
- unordered: a later moment reached is never worse than an earlier one, so each step is taken at its
  latest usable event; the earliest moments are found by bisecting the deadline, for reported chains only;
- strict: each entry's very next events.
Events of one person at one instant (a tie) may fill consecutive steps of an ordered funnel in any order, one
event per step: how far a tie carries a chain is worked out once per tie, by a small matching in plain
Python for the rare ties in which one event could fill several steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from touchpoint.core.errors import ValidationError

TIME_BITS = 36  # milliseconds since the query's first instant: about two years
TIME_MASK = (1 << TIME_BITS) - 1
EMPTY = np.empty(0, dtype=np.int64)
NEVER = TIME_MASK + 1  # a moment after every deadline: the step cannot be reached


def pack_keys(codes: np.ndarray, millis: np.ndarray) -> tuple[np.ndarray, int]:
    """Each event's packed key (person code << TIME_BITS | milliseconds since the first event) and that
    first instant; events further apart than TIME_BITS milliseconds are refused, never wrapped around."""
    origin = int(millis.min()) if len(millis) else 0
    if len(millis) and int(millis.max()) - origin > TIME_MASK:
        raise ValidationError("a funnel reads at most about 790 days of events: shorten the range or window")
    keys: np.ndarray = (codes << TIME_BITS) | (millis - origin)
    return keys, origin


@dataclass
class Events:
    """The funnel's events sorted by person then time: packed keys (person code << TIME_BITS | milliseconds
    since `origin`), Beijing days, which step and exclusion each event matches, and per person whether it is
    a customer."""

    people: pd.Index
    keys: np.ndarray
    days: np.ndarray
    steps: list[np.ndarray]
    excluded: list[np.ndarray]
    groups: np.ndarray | None
    is_customer: np.ndarray
    origin: int


@dataclass
class Chains:
    """Every first-step event in range (an entry) and how far it got; `anchor` is the entry's row.
    `when(chosen)` gives, for the entries at positions `chosen`, the earliest moment a chain reached each
    step (milliseconds since the events' origin, -1 when not reached), one array per step."""

    person: np.ndarray
    anchor: np.ndarray
    reached: np.ndarray
    when: Callable[[np.ndarray], list[np.ndarray]]


def _known(times: list[np.ndarray]) -> Callable[[np.ndarray], list[np.ndarray]]:
    return lambda chosen: [moments[chosen] for moments in times]


def search(
    events: Events, first: np.ndarray, deadline: np.ndarray, mode: str, stops: list[np.ndarray]
) -> Chains:
    """How far each entry in `first` gets by `deadline` (per entry), ordered or unordered; `stops[k]` marks
    the events that may not lie between a chain's steps k-1 and k (0-based)."""
    deadline = np.minimum(deadline, TIME_MASK)
    if mode == "ordered" and not any(stop.any() for stop in stops):
        return _ordered_earliest(events, first, deadline)
    if mode == "ordered":
        return _ordered(events, first, deadline, stops)
    return _unordered(events, first, deadline, stops)


def _ordered(events: Events, first: np.ndarray, deadline: np.ndarray, stops: list[np.ndarray]) -> Chains:
    """Ordered, backwards over the steps: for each target step j and each event of an earlier step k, the
    earliest moment a chain that enters step k at that event's instant reaches step j (a chain only moves
    forward in time, so it keeps the window exactly when it reaches its last step by the deadline)."""
    n, keys = len(events.steps), events.keys
    ties = _Ties(events)
    rows = [np.flatnonzero(member) for member in events.steps]
    found = [keys[r] for r in rows]  # each step's events
    runs = [ties.runs(k, rows[k]) for k in range(n)]
    barriers = [keys[stop] for stop in stops]
    stretches = [_stretches(found[k], barriers[k]) for k in range(n)]
    entries, at_entry = keys[first], ties.entry_runs(first)
    reached = np.zeros(len(first), dtype=np.int64)
    times = []
    for j in range(n):
        # Per step k (for k = j … 1): over the events of step k up to each stretch's end, the least of the
        # earliest moments step j is reached from them (what the step before may pick from).
        least: list[np.ndarray] = [EMPTY] * n
        for k in range(j, 0, -1):
            earliest = _completion(found[k], runs[k], k, j, found, least, barriers)
            least[k] = _suffix_min(earliest, stretches[k])
        done = _completion(entries, at_entry, 0, j, found, least, barriers)
        times.append(np.where(done <= deadline, done, -1))
        reached += done <= deadline
    return Chains(entries >> TIME_BITS, first, reached, _known(times))


def _ordered_earliest(events: Events, first: np.ndarray, deadline: np.ndarray) -> Chains:
    """Ordered with no exclusions: each chain goes as far as it can at each instant, then takes the next step
    at the first later instant that has it. Reaching a step earlier never hurts without exclusions (every
    later event stays usable, and entering an instant at a later step leaves fewer steps to fill there), so
    this one chain per entry reaches every step at the earliest moment any chain does: one search per step
    instead of `_ordered`'s search per pair of steps."""
    n, keys = len(events.steps), events.keys
    ties = _Ties(events)
    moment, furthest = keys[first], ties.entry_runs(first)  # the instant a chain is at, its furthest step
    times = [moment & TIME_MASK]
    for k in range(1, n):
        rows = np.flatnonzero(events.steps[k])
        found = keys[rows]
        going = np.flatnonzero(furthest == k - 1)  # chains whose next step is k, at a later instant
        index = np.searchsorted(found, moment[going], side="right")
        following = _at(found, index)
        moved = (index < len(found)) & ((following >> TIME_BITS) == (moment[going] >> TIME_BITS))
        going, index = going[moved], index[moved]
        moment[going] = following[moved]
        furthest[going] = ties.runs(k, rows[index])
        times.append(np.where(furthest >= k, moment & TIME_MASK, NEVER))
    reached = np.zeros(len(first), dtype=np.int64)
    for k in range(n):
        times[k] = np.where(times[k] <= deadline, times[k], -1)
        reached += times[k] >= 0
    return Chains(keys[first] >> TIME_BITS, first, reached, _known(times))


def _completion(
    keys: np.ndarray,
    runs: np.ndarray,
    k: int,
    j: int,
    found: list[np.ndarray],
    least: list[np.ndarray],
    barriers: list[np.ndarray],
) -> np.ndarray:
    """For chains entering step k at the instant of each of `keys` (filling steps k..runs there): the
    earliest moment they reach step j, NEVER when they cannot."""
    best = np.where(runs >= j, keys & TIME_MASK, NEVER)
    for i in range(k, j):  # steps k..i filled at the instant, step i+1 entered at a later one
        going = np.flatnonzero((runs >= i) & (runs < j))
        if len(going):
            later = _from_next(keys[going], found[i + 1], least[i + 1], barriers[i + 1])
            best[going] = np.minimum(best[going], later)
    return best


def _from_next(moment: np.ndarray, keys: np.ndarray, least: np.ndarray, barrier: np.ndarray) -> np.ndarray:
    """The least of `least` over the events of `keys` strictly after each moment and up to the first
    excluded event after it (inclusive): the events from the first one on, within its stretch."""
    index = np.searchsorted(keys, moment, side="right")
    following = _at(keys, index)
    usable = (index < len(keys)) & ((following >> TIME_BITS) == (moment >> TIME_BITS))
    if len(barrier):  # no excluded event strictly between the moment and the first event after it
        usable &= np.searchsorted(barrier, moment, side="right") == np.searchsorted(barrier, following)
    return np.where(usable, _at(least, index), NEVER)


def _stretches(keys: np.ndarray, barrier: np.ndarray) -> np.ndarray:
    """Where a new stretch begins among a step's events: a new person, or an excluded event since the
    previous event (one at the very instant of an event belongs to the stretch after it)."""
    new = np.ones(len(keys), dtype=bool)
    new[1:] = (keys[1:] >> TIME_BITS) != (keys[:-1] >> TIME_BITS)
    if len(barrier) and len(keys):
        before = np.searchsorted(barrier, keys, side="left")
        new[1:] |= before[1:] != before[:-1]
    return new


def _suffix_min(values: np.ndarray, new: np.ndarray) -> np.ndarray:
    """For each position, the least value from it to the end of its stretch (`new` marks stretch starts)."""
    stretch = np.cumsum(new) - 1
    if len(values) and stretch[-1] >= 1 << (62 - TIME_BITS):
        flipped = pd.Series(values[::-1]).groupby(stretch[::-1]).cummin().to_numpy()
        return np.asarray(flipped[::-1], dtype=np.int64)
    # Lift each stretch above the ones before it, so that a running minimum from the end starts afresh
    # at each stretch's end.
    lift = stretch << (TIME_BITS + 1)
    least: np.ndarray = np.minimum.accumulate((values + lift)[::-1])[::-1] - lift
    return least


def _unordered(events: Events, first: np.ndarray, deadline: np.ndarray, stops: list[np.ndarray]) -> Chains:
    """Unordered. A later moment reached dominates an earlier one: a step done between the two is already
    done at the later one, and a step after both is reached from the later one past fewer excluded events.
    So each step is taken at its latest usable occurrence, and the earliest moment a step can be reached is
    the tightest deadline under which it still is (a bisection, for the chains reported only)."""
    keys = events.keys
    steps = [keys[member] for member in events.steps]
    barriers = [keys[stop] for stop in stops]
    entries = keys[first]
    reached = _latest(entries, deadline, steps, barriers)

    def when(chosen: np.ndarray) -> list[np.ndarray]:
        got, entry, deadlines = reached[chosen], entries[chosen], deadline[chosen]
        times = [np.where(got > k, entry & TIME_MASK, -1) for k in range(len(steps))]
        # Per chosen entry and step it reached: bisect over its person's events from the entry to the
        # deadline for the first moment by which the step is reached.
        step, which = np.nonzero(got[None, :] > np.arange(len(steps))[:, None])
        step, which = step[step > 0], which[step > 0]
        low = first[chosen][which]
        high = np.searchsorted(keys, (entry[which] & ~TIME_MASK) | deadlines[which], side="right") - 1
        while (low < high).any():
            middle = (low + high) // 2
            enough = _latest(entry[which], keys[middle] & TIME_MASK, steps, barriers) > step
            high = np.where(enough, middle, high)
            low = np.where(enough, low, middle + 1)
        for k in range(1, len(steps)):
            times[k][which[step == k]] = keys[low[step == k]] & TIME_MASK
        return times

    return Chains(entries >> TIME_BITS, first, reached, when)


def _latest(
    entries: np.ndarray, deadline: np.ndarray, steps: list[np.ndarray], barriers: list[np.ndarray]
) -> np.ndarray:
    """How many steps each entry reaches by `deadline`, unordered: a step done after the entry and by the
    moment reached leaves that moment; otherwise the chain moves to the step's latest event after that
    moment, by the deadline and by the first excluded event after the moment."""
    base = (entries >> TIME_BITS) << TIME_BITS
    moment = entries & TIME_MASK
    reached = np.ones(len(entries), dtype=np.int64)
    going = np.ones(len(entries), dtype=bool)
    for keys, barrier in zip(steps[1:], barriers[1:], strict=True):
        since_entry = np.searchsorted(keys, entries, side="left")
        stays = (since_entry < len(keys)) & (_at(keys, since_entry) <= (base | moment))
        latest = np.searchsorted(keys, _limit(base, moment, deadline, barrier), side="right") - 1
        moves = (latest >= 0) & (_at(keys, latest) > (base | moment))
        moment = np.where(moves, _at(keys, latest) & TIME_MASK, moment)
        going &= stays | moves
        reached += going
    return reached


def follow_strictly(events: Events, first: np.ndarray, deadline: np.ndarray) -> Chains:
    """Strict: each next step must be the person's very next tracked event (ties by event id)."""
    keys = events.keys
    position = first
    person = keys[position] >> TIME_BITS
    reached = np.ones(len(position), dtype=np.int64)
    alive = np.ones(len(position), dtype=bool)
    times = [keys[position] & TIME_MASK]
    for member in events.steps[1:]:
        following = np.minimum(position + 1, max(len(keys) - 1, 0))
        found = alive & (position + 1 < len(keys)) & ((keys[following] >> TIME_BITS) == person)
        found &= member[following] & ((keys[following] & TIME_MASK) <= deadline)
        reached += found
        alive = found
        position = np.where(found, following, position)
        times.append(np.where(found, keys[following] & TIME_MASK, -1))
    return Chains(person, first, reached, _known(times))


def _limit(base: np.ndarray, moment: np.ndarray, deadline: np.ndarray, barrier: np.ndarray) -> np.ndarray:
    """The last key a next step may have: by the deadline, and no later than the first excluded event after
    `moment` (an event at that very instant is not between the steps)."""
    last = deadline
    if len(barrier):
        index = np.searchsorted(barrier, base | moment, side="right")
        following = _at(barrier, index)
        own = (index < len(barrier)) & ((following >> TIME_BITS) == (base >> TIME_BITS))
        last = np.where(own, np.minimum(following & TIME_MASK, deadline), deadline)
    limit: np.ndarray = base | last
    return limit


def _at(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index], with the last value (or 0) where the index runs past the end: callers mask those."""
    if not len(values):
        return np.zeros(len(index), dtype=np.int64)
    picked: np.ndarray = values[np.minimum(index, len(values) - 1)]
    return picked


class _Ties:
    """Events of one person at one instant, for ordered funnels: how far a chain that enters step k at the
    instant of an event goes at that instant, each step filled by a different event of the tie."""

    def __init__(self, events: Events) -> None:
        keys, n = events.keys, len(events.steps)
        new = np.ones(len(keys), dtype=bool)
        new[1:] = keys[1:] != keys[:-1]
        starts = np.flatnonzero(new)
        sizes = np.diff(np.append(starts, len(keys)))
        tied = sizes >= 2
        count = int(tied.sum())
        tie_of_group = np.full(len(starts), -1, dtype=np.int64)
        tie_of_group[tied] = np.arange(count)
        self.tie_of = np.repeat(tie_of_group, sizes)  # per event: its tie, or -1 when alone at its instant
        self.first = starts[tied]  # each tie's first event
        self.furthest = np.zeros((n, count), dtype=np.int64)
        self.matches: dict[int, list[list[bool]]] = {}
        if not count:
            return
        rows = np.flatnonzero(self.tie_of >= 0)  # the tied events, tie after tie
        offsets = np.append(0, np.cumsum(sizes[tied])[:-1])
        has = [np.logical_or.reduceat(member[rows], offsets) for member in events.steps]
        fills = np.zeros(len(rows), dtype=np.int8)
        for member in events.steps:
            fills += member[rows]
        shared = np.flatnonzero(np.logical_or.reduceat(fills >= 2, offsets))  # an event fits several steps
        self.furthest[n - 1] = n - 1
        for k in range(n - 2, -1, -1):
            self.furthest[k] = np.where(has[k + 1], self.furthest[k + 1], k)
        for tie in shared.tolist():
            first = int(self.first[tie])
            tied_rows = range(first, first + int(sizes[tied][tie]))
            self.matches[tie] = [[bool(member[row]) for member in events.steps] for row in tied_rows]
            for k in range(n):
                self.furthest[k, tie] = _furthest_at_once(self.matches[tie], k, None)

    def runs(self, k: int, rows: np.ndarray) -> np.ndarray:
        """The furthest step (0-based) reached at the instant of each event of `rows`, entering step k."""
        alone = np.full(len(rows), k, dtype=np.int64)
        if not self.furthest.shape[1]:
            return alone
        tie = self.tie_of[rows]
        runs: np.ndarray = np.where(tie >= 0, self.furthest[k, np.maximum(tie, 0)], alone)
        return runs

    def entry_runs(self, first: np.ndarray) -> np.ndarray:
        """The furthest step (0-based) each entry reaches at its own instant (its event fills step 1)."""
        runs = self.runs(0, first)
        if self.matches:
            ties = self.tie_of[first]
            for position in np.flatnonzero(np.isin(ties, list(self.matches))).tolist():
                tie = int(ties[position])
                event = int(first[position]) - int(self.first[tie])
                runs[position] = _furthest_at_once(self.matches[tie], 1, event)
        return runs


def _furthest_at_once(matches: list[list[bool]], entry: int, taken: int | None) -> int:
    """The furthest step (0-based) that steps entry, entry+1, … reach at one instant whose events match the
    steps as `matches[event][step]` says, one event per step (`taken`: an event already used): steps are
    added one by one while an augmenting path finds each an event."""
    holder: dict[int, int] = {}  # event -> step

    def assign(step: int, seen: set[int]) -> bool:
        for event, fits in enumerate(matches):
            if event == taken or not fits[step] or event in seen:
                continue
            seen.add(event)
            if event not in holder or assign(holder[event], seen):
                holder[event] = step
                return True
        return False

    last = entry - 1
    for step in range(entry, len(matches[0])):
        if not assign(step, set()):
            break
        last = step
    return last
