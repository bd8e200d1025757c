"""Versioned definitions of every kind (indicator, tag, segment, journey); each change is a new version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from touchpoint.store.operational.schema import definitions


def current(connection: Connection, kind: str) -> dict[str, dict[str, Any]]:
    """The newest live body of every definition of `kind`, by name."""
    latest = (
        select(definitions.c.name, func.max(definitions.c.version).label("version"))
        .where(definitions.c.kind == kind)
        .group_by(definitions.c.name)
        .subquery()
    )
    query = (
        select(definitions.c.name, definitions.c.body)
        .join(latest, (definitions.c.name == latest.c.name) & (definitions.c.version == latest.c.version))
        .where(definitions.c.kind == kind)
    )
    return {name: body for name, body in connection.execute(query) if body is not None}


def history(connection: Connection, kind: str, name: str) -> list[dict[str, Any]]:
    """Every version of one definition, oldest first (a None body marks a deletion)."""
    query = (
        select(definitions)
        .where(definitions.c.kind == kind, definitions.c.name == name)
        .order_by(definitions.c.version)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def save(
    connection: Connection, kind: str, name: str, body: dict[str, Any] | None, *, actor: str, now: datetime
) -> int:
    """Write a new version (None deletes); returns the version number."""
    last = connection.execute(
        select(func.max(definitions.c.version)).where(definitions.c.kind == kind, definitions.c.name == name)
    ).scalar_one_or_none()
    version = int(last or 0) + 1
    connection.execute(
        insert(definitions).values(
            kind=kind, name=name, version=version, body=body, actor=actor, created_at=now
        )
    )
    return version
