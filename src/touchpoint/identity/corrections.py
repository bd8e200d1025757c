"""Correcting One ID by hand: detach an identifier that was wrongly linked (unmerge), and lift the
separation later if the operator finds the two belong together after all."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.governance import Principal, record_operation
from touchpoint.governance.masking import PiiMask
from touchpoint.identity import repo
from touchpoint.identity.model import Identifier
from touchpoint.identity.service import IdentityEnv, find


def unmerge(
    *,
    env: IdentityEnv,
    principal: Principal,
    value: str,
    id_type: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Detach exactly the named identifier from the person it is linked to and remember the separation.

    The person keeps its uid, its customer number and its profile; the identifier moves to the person it
    came from (when a merge brought it and that person is empty) or to a new one. The two are never linked
    again by later events until `allow` lifts the separation.
    """
    now = env.clock.now()
    with env.ops.begin() as connection:
        uid, ident = _identifier(connection, value, id_type)
        others = [i for i in repo.ids_of(connection, uid) if i != ident]
        if ident.is_login:
            pii = PiiMask(principal, env.pii_attributes)
            named = ", ".join(pii.label(i.label()) for i in others) or "none"
            raise ValidationError(
                f"{ident.label()} is the customer itself; name the identifier to detach from it "
                f"(linked: {named})"
            )
        if not others:
            raise ValidationError(f"{ident.label()} is linked to nothing else; nothing to detach")
        target = _destination(connection, ident, uid, now)
        repo.link(connection, ident, target, now)
        login = next((i for i in others if i.is_login), None)
        for other in [login] if login is not None else others:
            repo.add_separation(
                connection, ident, other, actor=principal.user, reason=reason or "unmerge", now=now
            )
        repo.log(
            connection,
            action="unmerge",
            uid=target,
            from_uid=uid,
            ids=[ident],
            source="operator",
            reason=reason or f"detached by {principal.user}",
            now=now,
        )
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="identity.unmerge",
            target_type="identity",
            target_id=ident.label(),
            before={"uid": uid},
            after={
                "uid": target,
                "separated_from": [login.label()] if login else [o.label() for o in others],
            },
        )
    pii = PiiMask(principal, env.pii_attributes)
    shown = pii.label(ident.label())
    return {"identifier": shown, "from_uid": uid, "to_uid": target, "moved": [shown]}


def _identifier(connection: Connection, value: str, id_type: str | None) -> tuple[int, Identifier]:
    uid = find(connection, value, id_type)
    if uid is None:
        raise NotFoundError(f"no customer is known by {value!r}")
    ident = next(i for i in repo.ids_of(connection, uid) if i.value == value and id_type in (None, i.id_type))
    return uid, ident


def _destination(connection: Connection, ident: Identifier, uid: int, now: Any) -> int:
    """The person a detached identifier goes to: where a merge brought it from, if that person is empty
    now, else a new person."""
    entry = repo.last_attaching_entry(connection, ident, uid)
    origin = entry["from_uid"] if entry is not None else None
    if origin is not None and not repo.ids_of(connection, origin):
        return int(origin)
    return repo.new_person(connection, now)


def allow(
    *,
    env: IdentityEnv,
    principal: Principal,
    value: str,
    other: str,
    id_type: str | None = None,
    other_type: str | None = None,
) -> dict[str, Any]:
    """Lift the separation between two identifiers: later events may link them again."""
    now = env.clock.now()
    with env.ops.begin() as connection:
        _, left = _identifier(connection, value, id_type)
        _, right = _identifier(connection, other, other_type)
        lifted = repo.lift_separations(connection, left, right, actor=principal.user, now=now)
        if not lifted:
            raise ValidationError(f"{left.label()} and {right.label()} are not separated")
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="identity.allow",
            target_type="identity",
            target_id=left.label(),
            before={"separated_from": right.label()},
            after=None,
        )
    pii = PiiMask(principal, env.pii_attributes)
    return {"identifier": pii.label(left.label()), "other": pii.label(right.label()), "lifted": lifted}
