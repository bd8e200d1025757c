"""Who is asking (`Principal`), and the shapes of users, tokens, sessions, roles and audit entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pyroaring import FrozenBitMap

from touchpoint.core.numbers import MaybeWhole
from touchpoint.governance.permissions import ALL_PERMISSIONS

Username = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{1,63}$")]
RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
BranchId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Principal(BaseModel):
    """A caller: who, through what (`source`: `cli:<os user>`, `api:<address>`), which permissions, and the
    customers they may see.

    `scope` is a bitmap of uids: None sees every customer; a bitmap (even an empty one) limits every list,
    count, export and analysis to its members."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    user: str = Field(min_length=1)
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    scope: FrozenBitMap | None = None
    source: str | None = None

    @property
    def sees_everything(self) -> bool:
        """True when no branch scope narrows what this principal may see."""
        return self.scope is None

    def can(self, permission: str) -> bool:
        """True when the principal holds `permission`."""
        return permission in self.permissions


SYSTEM = Principal(user="system", roles=frozenset({"admin"}), permissions=ALL_PERMISSIONS, source="system")
"""The principal of the worker's own work (scheduled computations, journey steps): it sees everything."""


def local_administrator(os_user: str) -> Principal:
    """The CLI's caller: it works on the data directory itself, so whoever may run it administers the
    installation; the audit log names their operating-system user (`os:alice`)."""
    return Principal(
        user=f"os:{os_user}", roles=frozenset({"admin"}), permissions=ALL_PERMISSIONS, source="cli"
    )


class UserCreate(BaseModel):
    """A new local user. The password is generated and shown once when none is given."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    display_name: str = Field(default="", max_length=128)
    roles: list[RoleName] = Field(min_length=1)
    branches: list[BranchId] = Field(default_factory=list, description="营业部: limits the user to them")
    advisor_id: str | None = Field(
        default=None, max_length=64, description="limits the user to own customers"
    )
    password: str | None = Field(default=None, max_length=256)


class UserUpdate(BaseModel):
    """Fields an admin may change; what is left out stays."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=128)
    roles: list[RoleName] | None = Field(default=None, min_length=1)
    branches: list[BranchId] | None = None
    advisor_id: str | None = Field(default=None, max_length=64)
    disabled: bool | None = Field(default=None, strict=True)


class UserRead(BaseModel):
    """A user as the API shows it (never the hash)."""

    username: str
    display_name: str
    roles: list[str]
    branches: list[str]
    advisor_id: str | None
    disabled: bool
    locked_until: datetime | None
    must_change_password: bool
    last_sign_in_at: datetime | None
    created_at: datetime
    created_by: str


class UserCreatedRead(UserRead):
    """A new user, with the password when it was generated: shown this once."""

    password: str | None


class PasswordChange(BaseModel):
    """A user changes their own password."""

    model_config = ConfigDict(extra="forbid")

    current: str = Field(max_length=256)
    new: str = Field(max_length=256)


class SignIn(BaseModel):
    """Username and password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class MeRead(BaseModel):
    """The signed-in caller: who, roles, permissions, the branches they are limited to, and the CSRF token the
    console sends back on every change."""

    username: str
    display_name: str
    roles: list[str]
    permissions: list[str]
    branches: list[str]
    advisor_id: str | None
    scoped: bool
    must_change_password: bool
    csrf_token: str | None


class TokenCreate(BaseModel):
    """A personal API token for scripts."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    days: MaybeWhole = Field(
        default=90, ge=1, le=3650, description="expires after this many days (None: never)"
    )


class TokenRead(BaseModel):
    """A token as listed: never its secret, only the first characters that tell it apart."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreatedRead(TokenRead):
    """A new token with its secret, shown this once."""

    token: str


class RoleRead(BaseModel):
    """A role and its permissions."""

    name: str
    title: str
    permissions: list[str]
    builtin: bool
    edited: bool


class RoleUpdate(BaseModel):
    """An admin sets a role's permissions (and title)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=128)
    permissions: list[str]


class PermissionRead(BaseModel):
    """One permission with its names."""

    name: str
    zh: str
    en: str


class AuditEntryRead(BaseModel):
    """One audit entry."""

    seq: int
    at: datetime
    actor: str
    source: str | None
    action: str
    target_type: str
    target_id: str
    before: Any = None
    after: Any = None


class AuditProblem(BaseModel):
    """Where the chain breaks and why."""

    seq: int | None = Field(description="the position the chain breaks at (None: the head row)")
    id: int | None
    problem: str


class AuditVerifyRead(BaseModel):
    """The outcome of walking the chain."""

    entries: int
    ok: bool
    problems: list[AuditProblem]
