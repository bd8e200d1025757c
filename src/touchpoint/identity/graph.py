"""The One ID rules, applied inside one transaction.

- A customer number / login id is never merged into another one (refused and logged).
- many-to-one (default): a login gathers every device it is seen on; one-to-one: only its first. In both, a
  device never moves from one login to another.
- A device seen with `shared_after` different logins is shared: it is detached from its customer, links to
  nobody from then on, and its events stay anonymous.
- Identifiers an operator separated (unmerge) are never linked again until the separation is lifted.
- An anonymous id whose value turns out to be the login itself becomes that login (one identifier, not two).
- Generic ids ("null", "undefined", "0", …) link nothing.
- Every link, merge and refusal is written to the append-only merge log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from touchpoint.identity import repo
from touchpoint.identity.model import ANONYMOUS, DEFAULT_SHARED_AFTER, Identifier, Mode, is_generic


class Graph:
    """The identity graph as seen by one transaction."""

    def __init__(
        self, connection: Connection, *, now: datetime, source: str, shared_after: int = DEFAULT_SHARED_AFTER
    ) -> None:
        self.connection = connection
        self.now = now
        self.source = source
        self.shared_after = shared_after

    def ensure(self, ident: Identifier) -> int | None:
        """The uid of `ident`, creating a person for a new identifier (None for a generic id)."""
        if is_generic(ident.value):
            return None
        uid = repo.uid_of(self.connection, ident)
        if uid is not None:
            return uid
        if ident.is_login:
            promoted = self._promote_twin(ident)
            if promoted is not None:
                return promoted
        uid = repo.new_person(self.connection, self.now)
        repo.link(self.connection, ident, uid, self.now)
        self._log("create", uid=uid, from_uid=None, ids=[ident], reason=None)
        return uid

    def _promote_twin(self, login: Identifier) -> int | None:
        """The same value seen earlier as an anonymous id, on a person without a login: that anonymous id
        was the login all along, so it becomes the login (one identifier, so an event is counted once)."""
        twin = Identifier(ANONYMOUS, login.value)
        uid = repo.uid_of(self.connection, twin)
        if uid is None or self._login_of(uid) is not None or repo.is_shared(self.connection, twin):
            return None
        if repo.separated(self.connection, repo.ids_of(self.connection, uid), [login]):
            return None
        repo.delete_link(self.connection, twin)
        repo.link(self.connection, login, uid, self.now)
        self._log("link", uid=uid, from_uid=None, ids=[login], reason=f"{twin.label()} is the login itself")
        return uid

    def resolve_loose(self, value: str) -> int | None:
        """The uid of a distinct id whose type is unknown: a login if one exists, else an anonymous id."""
        if is_generic(value):
            return None
        for id_type in ("customer_no", ANONYMOUS):
            uid = repo.uid_of(self.connection, Identifier(id_type, value))
            if uid is not None:
                return uid
        return self.ensure(Identifier(ANONYMOUS, value))

    def bind(self, anonymous: Identifier, login: Identifier, mode: Mode) -> int | None:
        """Link an anonymous id (or any non-login id) to a login under the binding rules."""
        if is_generic(anonymous.value) or (anonymous.id_type == ANONYMOUS and anonymous.value == login.value):
            return self.ensure(login)
        if is_generic(login.value):
            return self.ensure(anonymous)
        anon_uid = repo.uid_of(self.connection, anonymous)
        if anon_uid is not None and anon_uid == repo.uid_of(self.connection, login):
            return anon_uid  # already one person (the usual case: every event after a login says so again)
        if anonymous.id_type == ANONYMOUS and self._shared(anonymous, login):
            self.ensure(anonymous)
            return self.ensure(login)
        if (
            repo.uid_of(self.connection, login) is None
            and anon_uid is not None
            and self._may_take(anon_uid, login)
        ):
            return self._attach(login, anon_uid, reason=f"login of {anonymous.label()}")
        login_uid = self.ensure(login)
        assert login_uid is not None
        if anon_uid == login_uid:
            return login_uid
        refusal = self._refusal(anon_uid, login_uid, login, mode, anonymous)
        if refusal is not None:
            self._refuse([anonymous, login], refusal, login_uid)
            if anon_uid is None:
                self.ensure(anonymous)
            return login_uid
        if anon_uid is None:
            return self._attach(anonymous, login_uid, reason=None)
        return self.merge(anon_uid, login_uid, reason=f"{anonymous.label()} bound to {login.label()}")

    def _may_take(self, uid: int, login: Identifier) -> bool:
        """May a new login be attached to this (anonymous) person?"""
        ids = repo.ids_of(self.connection, uid)
        return self._login_of(uid) is None and not repo.separated(self.connection, ids, [login])

    def _shared(self, device: Identifier, login: Identifier) -> bool:
        """Note that `device` was seen with `login`; True when the device is shared (now or before)."""
        if repo.is_shared(self.connection, device):
            return True
        seen = repo.record_sighting(self.connection, device, login.value, self.now)
        if seen < self.shared_after:
            return False
        reason = f"seen with {seen} different customers"
        repo.mark_shared(self.connection, device, reason, self.now)
        uid = repo.uid_of(self.connection, device)
        if uid is not None and len(repo.ids_of(self.connection, uid)) > 1:
            alone = repo.new_person(self.connection, self.now)
            repo.link(self.connection, device, alone, self.now)
            self._log("shared", uid=alone, from_uid=uid, ids=[device], reason=reason)
        return True

    def _refusal(
        self, anon_uid: int | None, login_uid: int, login: Identifier, mode: Mode, anonymous: Identifier
    ) -> str | None:
        if anon_uid is not None:
            other = self._login_of(anon_uid)
            if other is not None and other != login:
                return f"{anonymous.label()} is already bound to {other.label()}"
        if mode == "one_to_one" and anonymous.id_type == ANONYMOUS:
            held = [i for i in repo.ids_of(self.connection, login_uid) if i.id_type == ANONYMOUS]
            if held and anonymous not in held:
                return f"{login.label()} is already bound to {held[0].label()} (one-to-one)"
        mine = repo.ids_of(self.connection, anon_uid) if anon_uid is not None else [anonymous]
        if repo.separated(self.connection, mine, repo.ids_of(self.connection, login_uid)):
            return f"{anonymous.label()} and {login.label()} were separated by an operator"
        return None

    def bind_all(self, idents: list[Identifier], mode: Mode) -> int | None:
        """Bind several identifiers of one person (Sensors identities, bind calls) around its login."""
        idents = [i for i in idents if not is_generic(i.value)]
        logins = [i for i in idents if i.is_login]
        if not logins:
            anchor = idents[0] if idents else None
            uid = self.ensure(anchor) if anchor else None
            for other in idents[1:]:
                if uid is not None and self._may_join(other, uid):
                    self._attach(other, uid, reason=None)
            return uid
        for extra in logins[1:]:
            self.bind(extra, logins[0], mode)  # refused when both are logins of different people
        uid = self.ensure(logins[0])
        for other in idents:
            if not other.is_login:
                uid = self.bind(other, logins[0], mode)
        return uid

    def merge(self, from_uid: int, to_uid: int, *, reason: str) -> int:
        """Move every identifier and profile value of `from_uid` onto `to_uid`; refused between two logins."""
        moving = repo.ids_of(self.connection, from_uid)
        if self._login_of(from_uid) is not None and self._login_of(to_uid) is not None:
            self._refuse(moving, "two customer numbers are never merged", to_uid)
            return to_uid
        if repo.separated(self.connection, moving, repo.ids_of(self.connection, to_uid)):
            self._refuse(moving, "separated by an operator", to_uid)
            return to_uid
        for ident in moving:
            repo.link(self.connection, ident, to_uid, self.now)
        repo.move_profile(self.connection, from_uid, to_uid, self.now)
        self._log("merge", uid=to_uid, from_uid=from_uid, ids=moving, reason=reason)
        return to_uid

    def unbind(self, ident: Identifier) -> int | None:
        """Detach one identifier onto a person of its own (Sensors track_id_unbind)."""
        uid = repo.uid_of(self.connection, ident)
        if uid is None or len(repo.ids_of(self.connection, uid)) == 1:
            return uid
        fresh = repo.new_person(self.connection, self.now)
        repo.link(self.connection, ident, fresh, self.now)
        self._log("unbind", uid=fresh, from_uid=uid, ids=[ident], reason="unbind")
        return fresh

    def _may_join(self, ident: Identifier, uid: int) -> bool:
        """May a new identifier join this person without a login to anchor it?"""
        if repo.uid_of(self.connection, ident) is not None or repo.is_shared(self.connection, ident):
            return False
        return not repo.separated(self.connection, [ident], repo.ids_of(self.connection, uid))

    def _attach(self, ident: Identifier, uid: int, *, reason: str | None) -> int:
        repo.link(self.connection, ident, uid, self.now)
        self._log("link", uid=uid, from_uid=None, ids=[ident], reason=reason)
        return uid

    def _refuse(self, idents: list[Identifier], reason: str, uid: int | None) -> None:
        self._log("refused", uid=uid, from_uid=None, ids=idents, reason=reason)

    def _log(
        self, action: str, *, uid: int | None, from_uid: int | None, ids: list[Identifier], reason: str | None
    ) -> int:
        return repo.log(
            self.connection,
            action=action,
            uid=uid,
            from_uid=from_uid,
            ids=ids,
            source=self.source,
            reason=reason,
            now=self.now,
        )

    def _login_of(self, uid: int) -> Identifier | None:
        return next((i for i in repo.ids_of(self.connection, uid) if i.is_login), None)
