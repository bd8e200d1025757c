"""Binding a batch in bulk: a few set queries, the rules replayed in memory, one write per table.

The per-pair path (`Graph.bind` per anonymous id → login pair) costs several single-row statements per pair,
most of them re-reading links that exist already. Here a batch of steps is read with a few set queries
(snapshot.read_snapshot), replayed in memory by the Graph's own rules (replay.Replay), and what the replay
changed is written with one multi-row statement per table. The outcome is that of applying every step one
by one through the Graph, in order. A step the replay does not mirror goes through the Graph after that
write, with every step that shares an identifier or a person with it (parts.for_graph): the other steps
cannot see the difference, so the order between them and the rest does not matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from touchpoint.identity.graph import Graph
from touchpoint.identity.model import DEFAULT_SHARED_AFTER, Identifier, Mode
from touchpoint.identity.parts import expand, for_graph, identifiers, settled
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
    steps = [Step("bind", anonymous, login, mode, source) for anonymous, login in pairs]
    return apply_steps(connection, steps, now=now, shared_after=shared_after)


def apply_steps(
    connection: Connection, steps: Sequence[Step], *, now: datetime, shared_after: int = DEFAULT_SHARED_AFTER
) -> BindReport:
    """Apply identity steps with the outcome of applying them one by one through the Graph, in order."""
    links = read_links(connection, identifiers(steps))
    # Most of a batch repeats links that exist: those steps change nothing whatever the batch does, so
    # only the others are read further, replayed and written.
    active = [step for step in steps if not settled(step, links)]
    snapshot = read_snapshot(connection, links, identifiers(active))
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
    return BindReport(settled=len(steps) - len(active), replayed=len(simpler) - len(left), by_graph=len(left))


def _apply(graph: Graph, step: Step) -> None:
    """One step through the Graph, as the per-event path calls it."""
    if step.kind == "bind":
        assert step.login is not None
        graph.bind(step.ident, step.login, step.mode)
    elif step.kind == "ensure":
        graph.ensure(step.ident)
    else:
        graph.resolve_loose(step.ident.value)
