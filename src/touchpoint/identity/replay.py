"""The One ID rules replayed in memory over a snapshot of the graph, for binding a batch in bulk (pure).

`Replay` mirrors `Graph` (graph.py) rule by rule — new persons and links, sightings, a device reaching the
shared threshold, a login taking over its anonymous twin, merges, refusals — and records the writes the
Graph would make (`Effects`) instead of making them. The one kind of step it does not mirror — a bind of
two ids that are not an anonymous id and a login, which the event paths never ask for — is told apart
beforehand (`replayable`), and the caller hands it, with every step that depends on it, to the Graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count
from typing import Literal, NamedTuple

from touchpoint.identity.model import ANONYMOUS, Identifier, Mode, is_generic

StepKind = Literal["bind", "ensure", "loose"]


class Step(NamedTuple):
    """One identity operation of a batch, as the per-event path calls the Graph: `bind` (anonymous id to
    login), `ensure` (an identifier's person, created when new) or `loose` (a distinct id of unknown type)."""

    kind: StepKind
    ident: Identifier
    login: Identifier | None = None
    mode: Mode = "many_to_one"
    source: str = "import"


@dataclass
class Snapshot:
    """The part of the graph a batch can touch, read before it is replayed."""

    uids: dict[Identifier, int]
    """The person of every identifier the batch names (and of the anonymous twin of each login new to the
    graph), and of every identifier of those persons."""
    members: dict[int, set[Identifier]]
    """Every identifier of each of those persons."""
    shared: set[Identifier]
    sightings: dict[Identifier, set[str]]
    """The logins each anonymous id of the batch was seen with."""
    separations: dict[str, set[str]] = field(default_factory=dict)
    """Active operator separations touching the batch, by label, in both directions."""


class LogRow(NamedTuple):
    """One merge-log entry to write (uids may be placeholders of persons not yet created)."""

    action: str
    uid: int | None
    from_uid: int | None
    ids: tuple[Identifier, ...]
    reason: str | None
    source: str


@dataclass
class Effects:
    """What a replay writes. New persons have negative placeholder uids until they are inserted."""

    persons: list[int] = field(default_factory=list)
    """Placeholders of the persons created, in order."""
    links: dict[Identifier, int | None] = field(default_factory=dict)
    """The final person of every identifier linked, moved or removed (None)."""
    replaced: set[Identifier] = field(default_factory=set)
    """Identifiers among `links` that had a stored link before: their rows are replaced."""
    sightings: list[tuple[Identifier, str]] = field(default_factory=list)
    shared: list[tuple[Identifier, str]] = field(default_factory=list)
    """Devices marked shared, with the reason."""
    profile_moves: list[tuple[int, int]] = field(default_factory=list)
    """(from, to) of each merge, in order: the profile follows the identifiers."""
    log: list[LogRow] = field(default_factory=list)


def twin(login: Identifier) -> Identifier:
    """The anonymous id with a login's value: that login seen before it logged in."""
    return Identifier(ANONYMOUS, login.value)


def replayable(step: Step) -> bool:
    """Whether the replay mirrors the step: every step but a bind of two ids other than an anonymous id
    and a login (those the Graph applies itself)."""
    if step.kind != "bind" or step.login is None:
        return True
    return (step.ident.id_type == ANONYMOUS and step.login.is_login) or trivial(step.ident, step.login)


def trivial(anonymous: Identifier, login: Identifier) -> bool:
    """Binds that come down to ensuring one end (Graph.bind's first two rules)."""
    return (
        is_generic(anonymous.value)
        or (anonymous.id_type == ANONYMOUS and anonymous.value == login.value)
        or is_generic(login.value)
    )


class Replay:
    """The Graph's rules over a snapshot: each method mirrors the Graph method of the same name, and each
    write the Graph would make is recorded in `effects` instead."""

    def __init__(self, snapshot: Snapshot, *, shared_after: int) -> None:
        self.snapshot = snapshot
        self.shared_after = shared_after
        self.placeholders = count(-1, -1)
        self.effects = Effects()

    def run(self, steps: Iterable[Step]) -> Effects:
        """Replay replayable steps in order; the effects of every step run so far."""
        for step in steps:
            if step.kind == "bind":
                assert step.login is not None
                self.bind(step.ident, step.login, step.mode, step.source)
            elif step.kind == "ensure":
                self.ensure(step.ident, step.source)
            else:
                self.resolve_loose(step.ident.value, step.source)
        return self.effects

    def ensure(self, ident: Identifier, source: str) -> int | None:
        """Graph.ensure."""
        if is_generic(ident.value):
            return None
        uid = self.snapshot.uids.get(ident)
        if uid is not None:
            return uid
        if ident.is_login:
            promoted = self._promote_twin(ident, source)
            if promoted is not None:
                return promoted
        uid = self._new_person()
        self._link(ident, uid)
        self._log("create", uid, None, [ident], None, source)
        return uid

    def _promote_twin(self, login: Identifier, source: str) -> int | None:
        """Graph._promote_twin: the anonymous id with the login's value becomes the login."""
        ghost = twin(login)
        uid = self.snapshot.uids.get(ghost)
        if uid is None or self._login_of(uid) is not None or ghost in self.snapshot.shared:
            return None
        if self._separated(self._members(uid), [login]):
            return None
        self._unlink(ghost)
        self._link(login, uid)
        self._log("link", uid, None, [login], f"{ghost.label()} is the login itself", source)
        return uid

    def resolve_loose(self, value: str, source: str) -> int | None:
        """Graph.resolve_loose."""
        if is_generic(value):
            return None
        for id_type in ("customer_no", ANONYMOUS):
            uid = self.snapshot.uids.get(Identifier(id_type, value))
            if uid is not None:
                return uid
        return self.ensure(Identifier(ANONYMOUS, value), source)

    def bind(self, anonymous: Identifier, login: Identifier, mode: Mode, source: str) -> int | None:
        """Graph.bind, for an anonymous id and a login (see `replayable`)."""
        uids = self.snapshot.uids
        anon_uid = uids.get(anonymous)
        if anon_uid is not None and anon_uid == uids.get(login):
            # Already one person — the usual case, every event after a login says so again: whichever of
            # the rules below applies, it writes nothing (each ensures ids that exist, or returns early).
            return anon_uid
        if is_generic(anonymous.value) or (anonymous.id_type == ANONYMOUS and anonymous.value == login.value):
            return self.ensure(login, source)
        if is_generic(login.value):
            return self.ensure(anonymous, source)
        assert anonymous.id_type == ANONYMOUS, "not replayable: the Graph binds these"
        assert login.is_login, "not replayable: the Graph binds these"
        if self._shared(anonymous, login, source):
            self.ensure(anonymous, source)
            return self.ensure(login, source)
        if uids.get(login) is None and anon_uid is not None and self._may_take(anon_uid, login):
            return self._attach(login, anon_uid, f"login of {anonymous.label()}", source)
        login_uid = self.ensure(login, source)
        assert login_uid is not None
        if anon_uid == login_uid:
            return login_uid
        refusal = self._refusal(anon_uid, login_uid, login, mode, anonymous)
        if refusal is not None:
            self._log("refused", login_uid, None, [anonymous, login], refusal, source)
            if anon_uid is None:
                self.ensure(anonymous, source)
            return login_uid
        if anon_uid is None:
            return self._attach(anonymous, login_uid, None, source)
        return self.merge(anon_uid, login_uid, f"{anonymous.label()} bound to {login.label()}", source)

    def _shared(self, device: Identifier, login: Identifier, source: str) -> bool:
        """Graph._shared: note the sighting; at the threshold, mark the device and detach it."""
        if device in self.snapshot.shared:
            return True
        seen = self.snapshot.sightings.setdefault(device, set())
        if login.value not in seen:
            seen.add(login.value)
            self.effects.sightings.append((device, login.value))
        if len(seen) < self.shared_after:
            return False
        reason = f"seen with {len(seen)} different customers"
        self.snapshot.shared.add(device)
        self.effects.shared.append((device, reason))
        uid = self.snapshot.uids.get(device)
        if uid is not None and len(self.snapshot.members.get(uid, ())) > 1:
            alone = self._new_person()
            self._link(device, alone)
            self._log("shared", alone, uid, [device], reason, source)
        return True

    def merge(self, from_uid: int, to_uid: int, reason: str, source: str) -> int:
        """Graph.merge: every identifier (and, when written, the profile) of `from_uid` onto `to_uid`."""
        moving = self._ids(from_uid)
        if self._login_of(from_uid) is not None and self._login_of(to_uid) is not None:
            self._log("refused", to_uid, None, moving, "two customer numbers are never merged", source)
            return to_uid
        if self._separated(moving, self._members(to_uid)):
            self._log("refused", to_uid, None, moving, "separated by an operator", source)
            return to_uid
        for ident in moving:
            self._link(ident, to_uid)
        self.effects.profile_moves.append((from_uid, to_uid))
        self._log("merge", to_uid, from_uid, moving, reason, source)
        return to_uid

    def _may_take(self, uid: int, login: Identifier) -> bool:
        return self._login_of(uid) is None and not self._separated(self._members(uid), [login])

    def _refusal(
        self, anon_uid: int | None, login_uid: int, login: Identifier, mode: Mode, anonymous: Identifier
    ) -> str | None:
        if anon_uid is not None:
            other = self._login_of(anon_uid)
            if other is not None and other != login:
                return f"{anonymous.label()} is already bound to {other.label()}"
        if mode == "one_to_one":
            held = [i for i in self._ids(login_uid) if i.id_type == ANONYMOUS]
            if held and anonymous not in held:
                return f"{login.label()} is already bound to {held[0].label()} (one-to-one)"
        mine = self._members(anon_uid) if anon_uid is not None else {anonymous}
        if self._separated(mine, self._members(login_uid)):
            return f"{anonymous.label()} and {login.label()} were separated by an operator"
        return None

    def _separated(self, left: Iterable[Identifier], right: Iterable[Identifier]) -> bool:
        """repo.separated over the separations read with the snapshot."""
        separations = self.snapshot.separations
        if not separations:
            return False
        rights = {i.label() for i in right}
        return any(separations.get(i.label(), set()) & rights for i in left)

    def _ids(self, uid: int) -> list[Identifier]:
        """repo.ids_of: ordered by type, then value (code point order, as the C collation sorts)."""
        return sorted(self.snapshot.members.get(uid, ()))  # a named tuple sorts by type, then value

    def _members(self, uid: int) -> set[Identifier]:
        """Every identifier of a person, in no order (for the checks that need none)."""
        return self.snapshot.members.get(uid, set())

    def _login_of(self, uid: int) -> Identifier | None:
        """The first login of a person in ids_of's order (there is one at most, bar corrections)."""
        return min((i for i in self._members(uid) if i.is_login), default=None)

    def _attach(self, ident: Identifier, uid: int, reason: str | None, source: str) -> int:
        self._link(ident, uid)
        self._log("link", uid, None, [ident], reason, source)
        return uid

    def _new_person(self) -> int:
        uid = next(self.placeholders)
        self.effects.persons.append(uid)
        self.snapshot.members[uid] = set()
        return uid

    def _link(self, ident: Identifier, uid: int) -> None:
        """repo.link: create or move the link."""
        self._unlink(ident)
        self.snapshot.uids[ident] = uid
        self.snapshot.members.setdefault(uid, set()).add(ident)
        self.effects.links[ident] = uid

    def _unlink(self, ident: Identifier) -> None:
        """repo.delete_link; remembers that a stored link must be replaced or removed."""
        old = self.snapshot.uids.pop(ident, None)
        if old is None:
            return
        self.snapshot.members[old].discard(ident)
        if ident not in self.effects.links:
            self.effects.replaced.add(ident)  # linked before this replay: the stored row goes first
        self.effects.links[ident] = None

    def _log(
        self,
        action: str,
        uid: int | None,
        from_uid: int | None,
        ids: list[Identifier],
        reason: str | None,
        source: str,
    ) -> None:
        self.effects.log.append(LogRow(action, uid, from_uid, tuple(ids), reason, source))
