"""The caller of every service that touches customer data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Principal(BaseModel):
    """A user with roles and a scope of customers they may see (None = every customer)."""

    model_config = ConfigDict(frozen=True)

    user: str = Field(min_length=1)
    roles: frozenset[str] = frozenset()
    scope_uids: frozenset[int] | None = None

    @property
    def sees_everything(self) -> bool:
        """True when no branch scope narrows what this principal may see."""
        return self.scope_uids is None


SYSTEM = Principal(user="system", roles=frozenset({"admin"}))
"""The principal the CLI and API act as until sign-in exists: it sees everything."""
