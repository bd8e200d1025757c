"""Roles: named sets of permissions. A built-in role has its catalogue set until an admin edits it; an admin
may also add roles. An account's permissions are the union of its roles' sets, read at each request."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection

from touchpoint.core.clock import Clock
from touchpoint.core.errors import ValidationError
from touchpoint.governance.audit import record_operation
from touchpoint.governance.model import Principal, RoleRead, RoleUpdate
from touchpoint.governance.permissions import BUILTIN_BY_NAME, BUILTIN_ROLES, unknown_permissions
from touchpoint.store import OperationalStore
from touchpoint.store.operational import accounts as rows


class RolesEnv(Protocol):
    """What the role services read."""

    @property
    def ops(self) -> OperationalStore: ...
    @property
    def clock(self) -> Clock: ...


def check_roles(connection: Connection, names: list[str]) -> None:
    """Refuse names that are neither built-in nor added roles, naming them and the roles there are."""
    known = set(BUILTIN_BY_NAME) | set(rows.edited_roles(connection))
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValidationError(f"unknown role {', '.join(unknown)}; roles are {', '.join(sorted(known))}")


def permissions_of(connection: Connection, names: frozenset[str]) -> frozenset[str]:
    """The union of the roles' permissions, as edited where they were."""
    edited = rows.edited_roles(connection)
    granted: set[str] = set()
    for name in names:
        if name in edited:
            granted |= set(edited[name]["permissions"])
        elif name in BUILTIN_BY_NAME:
            granted |= BUILTIN_BY_NAME[name].permissions
    return frozenset(granted)


def list_roles(env: RolesEnv) -> list[RoleRead]:
    """Every role: the built-in ones (as edited, if they were) and those an admin added."""
    with env.ops.begin() as connection:
        edited = rows.edited_roles(connection)
    found = []
    for role in BUILTIN_ROLES:
        row = edited.get(role.name)
        found.append(
            RoleRead(
                name=role.name,
                title=row["title"] if row else f"{role.zh} · {role.en}",
                permissions=sorted(row["permissions"] if row else role.permissions),
                builtin=True,
                edited=row is not None,
            )
        )
    for name in sorted(set(edited) - set(BUILTIN_BY_NAME)):
        row = edited[name]
        found.append(
            RoleRead(
                name=name,
                title=row["title"],
                permissions=sorted(row["permissions"]),
                builtin=False,
                edited=True,
            )
        )
    return found


def set_role(env: RolesEnv, *, principal: Principal, name: str, change: RoleUpdate) -> RoleRead:
    """Create a role or replace a role's permissions. The admin role keeps every permission, so that no edit
    can lock every administrator out."""
    unknown = unknown_permissions(frozenset(change.permissions))
    if unknown:
        raise ValidationError(f"unknown permission {', '.join(unknown)}")
    if name == "admin":
        raise ValidationError("the admin role holds every permission and cannot be edited")
    before = next((r for r in list_roles(env) if r.name == name), None)
    builtin = BUILTIN_BY_NAME.get(name)
    title = (
        change.title
        or (before.title if before else None)
        or (f"{builtin.zh} · {builtin.en}" if builtin else name)
    )
    values = {
        "name": name,
        "title": title,
        "permissions": sorted(set(change.permissions)),
        "updated_at": env.clock.now(),
        "updated_by": principal.user,
    }
    with env.ops.begin() as connection:
        rows.put_role(connection, values)
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="role.set",
            target_type="role",
            target_id=name,
            before=None if before is None else before.model_dump(),
            after={"title": title, "permissions": values["permissions"]},
        )
    return next(r for r in list_roles(env) if r.name == name)
