"""Identifier types, the generic ids that never merge anything, and the graph's policies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field

LOGIN_TYPES = frozenset({"customer_no"})
"""Identifier types that name a customer for certain: two of them are never merged."""
ANONYMOUS = "anonymous_id"
GENERIC_IDS = frozenset(
    {
        "",
        "null",
        "none",
        "nil",
        "(null)",
        "undefined",
        "nan",
        "0",
        "-1",
        "anonymous",
        "unknown",
        "guest",
        "default",
        "00000000-0000-0000-0000-000000000000",
    }
)
SENSORS_IDENTITY_TYPES = {
    "$identity_login_id": "customer_no",
    "$identity_anonymous_id": ANONYMOUS,
    "$identity_android_id": ANONYMOUS,
    "$identity_android_uuid": ANONYMOUS,
    "$identity_idfv": ANONYMOUS,
    "$identity_cookie_id": ANONYMOUS,
    "$identity_mobile": "phone",
    "$identity_email": "email",
}

Mode = Literal["one_to_one", "many_to_one"]

RESOLUTION_ORDER = ("customer_no", ANONYMOUS)
"""How a value known under several id types resolves, as the collector resolves a distinct id: a customer
number first, then an anonymous id, then any other type (by type name, for a stable answer)."""


def is_generic(value: str | None) -> bool:
    """True for placeholder ids ("null", "undefined", "0", …) that must never link two people."""
    return value is None or value.strip().lower() in GENERIC_IDS


class Identifier(NamedTuple):
    """One identifier: its type and value. A named tuple, not a dataclass: bulk binding hashes and compares
    millions of them, and a tuple does both in C."""

    id_type: str
    value: str

    @property
    def is_login(self) -> bool:
        """Customer numbers and login ids: they name one customer for certain."""
        return self.id_type in LOGIN_TYPES

    def label(self) -> str:
        """`type:value` for logs."""
        return f"{self.id_type}:{self.value}"


DEFAULT_SHARED_AFTER = 3
"""A device seen with this many different customers is shared (a branch kiosk, a family tablet)."""


@dataclass(frozen=True)
class IdentityPolicy:
    """How anonymous ids bind to logins, per project.

    many-to-one (the default, as in PostHog and Sensors' ID-Mapping): every device of a customer joins that
    customer, and a device never joins a second customer. one-to-one (strict): a customer keeps only the first
    device it was seen on. In both, a device seen with `shared_after` different customers is shared: it is
    detached from its customer and its events stay anonymous.
    """

    default_mode: Mode = "many_to_one"
    modes: dict[str, Mode] = field(default_factory=dict)
    shared_after: int = DEFAULT_SHARED_AFTER

    def mode(self, project: str) -> Mode:
        """The binding mode of one project."""
        return self.modes.get(project, self.default_mode)


# --- The shapes of the One ID API (api/routes/identity.py). ---


class LinkedIdentifier(BaseModel):
    """One identifier of a person."""

    id_type: str
    id_value: str


class Separation(BaseModel):
    """Two identifiers an operator keeps apart, who did it and when."""

    left: str
    right: str
    by: str
    at: str


class IdentityRead(BaseModel):
    """The uid an identifier resolves to, every identifier linked to it, the merge log and separations."""

    uid: int
    identifiers: list[LinkedIdentifier]
    profile: dict[str, Any] = Field(description="the SDK-maintained profile")
    log: list[dict[str, Any]] = Field(description="merge-log entries that touched the person, oldest first")
    separations: list[Separation]
    shared: list[str] = Field(description="identifiers seen on several people (a shared device, say)")


class UnmergeRead(BaseModel):
    """An identifier detached from its person onto a person of its own."""

    identifier: str
    from_uid: int
    to_uid: int
    moved: list[str]


class AllowRead(BaseModel):
    """A separation between two identifiers lifted."""

    identifier: str
    other: str
    lifted: int
