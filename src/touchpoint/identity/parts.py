"""Planning a batch of identity steps for the bulk binder (pure).

A batch is read once (`identifiers` and `twins` name what to read), simplified (`expand`), and split into
independent parts when some step must go through the Graph (`for_graph`): two steps share a part when they
name a common identifier or a common person (a union-find over both), so that a part's outcome depends on
nothing outside it and the parts may be replayed and written, or applied by the Graph, separately.
"""

from __future__ import annotations

from collections.abc import Iterable

from touchpoint.identity.model import ANONYMOUS, Identifier, is_generic
from touchpoint.identity.replay import Snapshot, Step, replayable, trivial, twin


def identifiers(steps: Iterable[Step]) -> set[Identifier]:
    """Every identifier the steps name (placeholder ids left out: they are never read)."""
    named: set[Identifier] = set()
    for step in steps:
        named.add(step.ident)
        if step.login is not None:
            named.add(step.login)
        if step.kind == "loose":
            named.add(Identifier("customer_no", step.ident.value))
    return {i for i in named if not is_generic(i.value)}


def twins(named: set[Identifier], uids: dict[Identifier, int]) -> set[Identifier]:
    """The anonymous twins of the logins among `named` that have no person yet — only such a login, seen
    first, may take its twin over — leaving out twins `named` holds already."""
    found = {twin(i) for i in named if i.is_login and i not in uids}
    return {i for i in found if i not in named and not is_generic(i.value)}


def settled(step: Step, uids: dict[Identifier, int]) -> bool:
    """Whether the links alone show that a step changes nothing, now or later in its batch: a bind whose
    ends already are one person (that person holds the login, so no merge, detach or takeover can split
    them), or an identifier that exists already."""
    if step.login is not None:
        anonymous = uids.get(step.ident)
        return anonymous is not None and anonymous == uids.get(step.login)
    if step.kind == "loose":
        return Identifier("customer_no", step.ident.value) in uids or step.ident in uids
    return step.ident in uids


def expand(steps: Iterable[Step], snapshot: Snapshot) -> list[Step]:
    """The steps in their simplest equivalent form. A bind of a device already shared only ensures both
    ends: `Graph.bind` does exactly that for it (or nothing when both already are one person, when ensuring
    is a no-op too). Written so, a kiosk does not tie every customer it saw into one part of the batch."""
    out: list[Step] = []
    for step in steps:
        login = step.login
        if (
            step.kind != "bind"
            or login is None
            or step.ident not in snapshot.shared
            or step.ident.id_type != ANONYMOUS
            or trivial(step.ident, login)
        ):
            out.append(step)
        else:
            out += [Step("ensure", step.ident, source=step.source), Step("ensure", login, source=step.source)]
    return out


def for_graph(steps: list[Step], snapshot: Snapshot) -> set[int]:
    """The indices of the steps the Graph must apply: every step of a part holding a step the replay does
    not mirror. The event paths never produce one, and then no union-find is run."""
    if all(replayable(step) for step in steps):
        return set()
    return {
        index
        for part in components(steps, snapshot)
        if not all(replayable(steps[i]) for i in part)
        for index in part
    }


def named(step: Step) -> list[Identifier]:
    """The identifiers a step names (placeholder ids left out: they are never read, so a "null" seen with
    many logins ties none of them together)."""
    ids = [step.ident] if step.login is None else [step.ident, step.login]
    if step.kind == "loose":
        ids.append(Identifier("customer_no", step.ident.value))
    return [i for i in ids if not is_generic(i.value)]


def components(steps: list[Step], snapshot: Snapshot) -> list[list[int]]:
    """The indices of the steps in independent parts (union-find over the identifiers and persons each
    step touches), each part in batch order, the parts in the order of their first step."""
    parent: dict[object, object] = {}

    def root(node: object) -> object:
        top = parent.setdefault(node, node)
        while top != node:
            parent[node] = parent[top]
            node, top = top, parent[top]
        return node

    uids = snapshot.uids
    touched = [named(step) for step in steps]
    everywhere = {i for ids in touched for i in ids}
    firsts: list[object] = []
    for ids in touched:
        # A twin ties a login to its anonymous id only when the login is new (else it never takes it over)
        # and the id exists or some step creates it. A known identifier stands for its person (so do all
        # the identifiers a merge moves with it).
        ids += [
            t for i in ids if i.is_login and i not in uids and ((t := twin(i)) in uids or t in everywhere)
        ]
        keys: set[object] = {uids.get(i, i) for i in ids}
        first: object = keys.pop() if keys else None
        for key in keys:
            parent[root(key)] = root(first)
        firsts.append(first)
    parts: dict[object, list[int]] = {}
    for index, first in enumerate(firsts):
        key = ("alone", index) if first is None else root(first)
        parts.setdefault(key, []).append(index)
    return list(parts.values())
