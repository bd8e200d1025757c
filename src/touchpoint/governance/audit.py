"""The audit log: who changed or exported what, with before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from touchpoint.core.clock import Clock
from touchpoint.governance.model import Principal
from touchpoint.store import OperationalStore
from touchpoint.store.operational import definitions
from touchpoint.store.operational.schema import audit_log


def record_operation(
    connection: Connection,
    *,
    clock: Clock,
    principal: Principal,
    action: str,
    target_type: str,
    target_id: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one entry to the audit log inside the caller's transaction."""
    connection.execute(
        insert(audit_log).values(
            at=clock.now(),
            actor=principal.user,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
        )
    )


def list_operations(
    connection: Connection, *, target_type: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest audit entries first, optionally for one kind of target."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if target_type is not None:
        query = query.where(audit_log.c.target_type == target_type)
    return [dict(row._mapping) for row in connection.execute(query)]


def save_definition(
    ops: OperationalStore, *, clock: Clock, principal: Principal, kind: str, name: str, body: dict[str, Any]
) -> int:
    """Store a new version of a definition with its audit entry; an unchanged body adds nothing.

    Returns the definition's version (the existing one when nothing changed).
    """
    with ops.begin() as connection:
        before = definitions.current(connection, kind).get(name)
        if before == body:
            return len(definitions.history(connection, kind, name))
        version = definitions.save(connection, kind, name, body, actor=principal.user, now=clock.now())
        record_operation(
            connection,
            clock=clock,
            principal=principal,
            action=f"{kind}.save",
            target_type=kind,
            target_id=name,
            before=before,
            after=body,
        )
    return version
