"""Binding a batch in bulk: a few set queries, the rules replayed in memory, one write per table.

The per-pair path (`Graph.bind` per anonymous id → login pair) costs several single-row statements per pair,
most of them re-reading links that exist already. Here a batch of steps is read with a few set queries:
the links of every identifier it names (snapshot.read_links), which settle most steps (their ends already
are one person: parts.settled), then, for the other steps only, their persons' identifiers, shared marks,
sightings and separations (snapshot.read_snapshot). Those steps are replayed in memory by the Graph's own
rules (replay.Replay), and what the replay changed is written with one statement per table. The outcome is
that of applying every step one by one through the Graph, in order. A step the replay does not mirror goes
through the Graph after that write, with every step that shares an identifier or a person with it
(parts.for_graph): the other steps cannot see the difference, so the order between them and the rest does
not matter.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from touchpoint.identity.graph import Graph
from touchpoint.identity.model import DEFAULT_SHARED_AFTER, Identifier, Mode, is_generic
from touchpoint.identity.parts import expand, for_graph, identifiers, settled, twins
from touchpoint.identity.replay import Replay, Step
from touchpoint.identity.snapshot import read_links, read_snapshot, write_effects


@dataclass(frozen=True)
class BindReport:
    """How a batch was applied: steps its links settled (nothing to do), steps replayed in memory and
    written in bulk, and steps the Graph applied."""

    settled: int
    replayed: int
    by_graph: int


def bind_pairs(
    connection: Connection,
    pairs: Sequence[tuple[Identifier, Identifier]],
    *,
    mode: Mode,
    now: datetime,
    source: str,
    shared_after: int = DEFAULT_SHARED_AFTER,
) -> BindReport:
    """Bind each (anonymous id, login) pair as `Graph.bind` would, in order, in the caller's transaction."""
    with paused_gc():
        return _bind_pairs(connection, pairs, mode, now, source, shared_after)


def _bind_pairs(
    connection: Connection,
    pairs: Sequence[tuple[Identifier, Identifier]],
    mode: Mode,
    now: datetime,
    source: str,
    shared_after: int,
) -> BindReport:
    # Imported history names each pair on many days: the links are read, and settled pairs found (as in
    # `settled`), once per distinct pair; only the pairs left become steps.
    distinct = set(pairs)
    links = _links(connection, {i for pair in distinct for i in pair if not is_generic(i.value)})
    uid = links.get
    done = {
        pair for pair in distinct if (anonymous := uid(pair[0])) is not None and anonymous == uid(pair[1])
    }
    active = [Step("bind", pair[0], pair[1], mode, source) for pair in pairs if pair not in done]
    return _apply_active(connection, links, active, len(pairs) - len(active), now, shared_after)


def apply_steps(
    connection: Connection, steps: Sequence[Step], *, now: datetime, shared_after: int = DEFAULT_SHARED_AFTER
) -> BindReport:
    """Apply identity steps with the outcome of applying them one by one through the Graph, in order."""
    with paused_gc():
        links = _links(connection, identifiers(steps))
        active = [step for step in steps if not settled(step, links)]
        return _apply_active(connection, links, active, len(steps) - len(active), now, shared_after)


def _links(connection: Connection, named: set[Identifier]) -> dict[Identifier, int]:
    """The links of `named`, and of the anonymous twins of its new logins."""
    links = read_links(connection, named)
    links.update(read_links(connection, twins(named, links)))
    return links


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a batch is bound. A batch makes hundreds of thousands of small
    objects that stay alive until it ends, and each of them counts towards the next collection: the
    collector then ran its full passes again and again over everything the process holds, a third of the
    batch's time (measured at 110k pairs). What a batch makes is freed by reference counting; any cyclic
    garbage left meanwhile is collected once the collector resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _apply_active(
    connection: Connection,
    links: dict[Identifier, int],
    active: list[Step],
    settled_steps: int,
    now: datetime,
    shared_after: int,
) -> BindReport:
    """Apply the steps the links do not settle. Most of a batch repeats links that exist: those steps change
    nothing whatever the batch does (see `settled`), so only these are read further, replayed and written."""
    reached = identifiers(active)
    snapshot = read_snapshot(connection, links, reached | twins(reached, links))
    simpler = expand(active, snapshot)
    left = for_graph(simpler, snapshot)
    replay = Replay(snapshot, shared_after=shared_after)
    effects = replay.run(s for i, s in enumerate(simpler) if i not in left) if left else replay.run(simpler)
    write_effects(connection, effects, now)
    graphs: dict[str, Graph] = {}
    for index in sorted(left):
        step = simpler[index]
        if step.source not in graphs:
            graphs[step.source] = Graph(connection, now=now, source=step.source, shared_after=shared_after)
        _apply(graphs[step.source], step)
    return BindReport(settled=settled_steps, replayed=len(simpler) - len(left), by_graph=len(left))


def _apply(graph: Graph, step: Step) -> None:
    """One step through the Graph, as the per-event path calls it."""
    if step.kind == "bind":
        assert step.login is not None
        graph.bind(step.ident, step.login, step.mode)
    elif step.kind == "ensure":
        graph.ensure(step.ident)
    else:
        graph.resolve_loose(step.ident.value)
