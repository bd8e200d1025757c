"""The One ID rules, applied inside one transaction.

- A customer number / login id is never merged into another one (refused and logged).
- An anonymous id binds to the first login it meets (one-to-one); with many-to-one a login may gather many
  anonymous ids, but an anonymous id still never moves from one login to another.
- Generic ids ("null", "undefined", "0", …) link nothing.
- Every link, merge and refusal is written to the append-only merge log; merges can be undone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from touchpoint.identity import repo
from touchpoint.identity.model import ANONYMOUS, Identifier, Mode, is_generic


class Graph:
    """The identity graph as seen by one transaction."""

    def __init__(self, connection: Connection, *, now: datetime, source: str) -> None:
        self.connection = connection
        self.now = now
        self.source = source

    def ensure(self, ident: Identifier) -> int | None:
        """The uid of `ident`, creating a person for a new identifier (None for a generic id)."""
        if is_generic(ident.value):
            return None
        uid = repo.uid_of(self.connection, ident)
        if uid is not None:
            return uid
        if ident.is_login:
            twin = repo.uid_of(self.connection, Identifier(ANONYMOUS, ident.value))
            if twin is not None and not self._login_of(twin):
                # The same value seen earlier without knowing it was a login: it is that person.
                return self._attach(ident, twin, reason="same value seen as an anonymous id")
        uid = repo.new_person(self.connection, self.now)
        repo.link(self.connection, ident, uid, self.now)
        self._log("create", uid=uid, from_uid=None, ids=[ident], reason=None)
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
        """Link an anonymous id (or any non-login id) to a login under the one-to-one / many-to-one rules."""
        if is_generic(anonymous.value):
            return self.ensure(login)
        if is_generic(login.value):
            return self.ensure(anonymous)
        anon_uid = repo.uid_of(self.connection, anonymous)
        if (
            repo.uid_of(self.connection, login) is None
            and anon_uid is not None
            and not self._login_of(anon_uid)
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

    def _refusal(
        self, anon_uid: int | None, login_uid: int, login: Identifier, mode: Mode, anonymous: Identifier
    ) -> str | None:
        if anon_uid is not None:
            other = self._login_of(anon_uid)
            if other is not None and other != login:
                return f"{anonymous.label()} is already bound to {other.label()}"
        if mode == "one_to_one" and anonymous.id_type == ANONYMOUS:
            held = [i for i in repo.ids_of(self.connection, login_uid) if i.id_type == ANONYMOUS]
            if held and anonymous not in held and not (len(held) == 1 and held[0].value == login.value):
                return f"{login.label()} is already bound to {held[0].label()} (one-to-one)"
        return None

    def bind_all(self, idents: list[Identifier], mode: Mode) -> int | None:
        """Bind several identifiers of one person (Sensors identities, bind calls) around its login."""
        idents = [i for i in idents if not is_generic(i.value)]
        logins = [i for i in idents if i.is_login]
        if not logins:
            anchor = idents[0] if idents else None
            uid = self.ensure(anchor) if anchor else None
            for other in idents[1:]:
                if uid is not None and repo.uid_of(self.connection, other) is None:
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
