"""The channel policy (quiet hours, frequency caps, banned words, disclosures, lengths, suitability) as a
definition of the registry, so that a brokerage keeps it in git with every other kind.

One definition, `channel_policy/default`, holds the whole policy; while it exists it replaces the settings'
`[channel_policy]` (which stays what a fresh installation uses, and what deleting the definition returns
to). Every send and content check reads the effective policy through `PolicyCache`: the definition's
newest version number is read at most once every `RECHECK_SECONDS` per process (one indexed row), and the
body only when that number moved — so a change applied by another process (`definitions apply`, the API)
is in effect within a few seconds, and one made in this process at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal, cast

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticError
from sqlalchemy import Connection, select

from touchpoint.config import ChannelPolicy
from touchpoint.core.clock import Clock
from touchpoint.core.errors import ValidationError, pydantic_faults
from touchpoint.governance.approvals import ApprovalRead
from touchpoint.governance.model import Principal
from touchpoint.governance.registry import (
    DefinitionKind,
    Registry,
    SaveRead,
    remove_definition,
    write_definition,
)
from touchpoint.store import OperationalStore
from touchpoint.store.operational.schema import definitions

KIND = "channel_policy"
NAME = "default"
RECHECK_SECONDS = 2.0
"""How stale a process's policy may be after another process changed it."""


class ChannelPolicyRead(BaseModel):
    """The policy every send and content check uses now, and where it comes from."""

    source: Literal["settings", "registry"] = Field(
        description="registry: the definition channel_policy/default; settings: [channel_policy] of the TOML"
    )
    version: int = Field(description="the definition's version (0: none was ever saved)")
    policy: ChannelPolicy


class ChannelPolicySaved(ChannelPolicyRead):
    """A policy saved through the registry: what is in effect now, or the request holding the change."""

    changed: bool = False
    pending_approval: ApprovalRead | None = None


def parse_policy(name: str, body: Any) -> ChannelPolicy:
    """The policy from a stored or submitted body, or ValidationError naming each faulty field."""
    if name != NAME:
        raise ValidationError(f"{KIND} {name}: the channel policy is one definition, named {NAME!r}")
    if not isinstance(body, dict):
        raise ValidationError(f"{KIND} {name}: a definition is a mapping, not {type(body).__name__}")
    fields = {k: v for k, v in body.items() if k != "name"}  # a directory's file may repeat its name
    try:
        return ChannelPolicy.model_validate(fields)
    except PydanticError as exc:
        raise ValidationError(f"{KIND} {name}: {pydantic_faults(exc, root='policy')}") from None


def dump_policy(policy: ChannelPolicy) -> dict[str, Any]:
    """The stored body (what export writes): every field, times as HH:MM:SS."""
    return policy.model_dump(mode="json")


def channel_policy_kind(
    *, ops: OperationalStore, clock: Clock, on_change: Callable[[], None] = lambda: None
) -> DefinitionKind:
    """The channel policy as a kind of the definitions registry; `on_change` runs after each write."""

    def write(connection: Connection, principal: Principal, policy: BaseModel) -> int:
        body = dump_policy(cast(ChannelPolicy, policy))
        version = write_definition(
            connection, clock=clock, principal=principal, kind=KIND, name=NAME, body=body
        )
        on_change()
        return version

    def delete(principal: Principal, name: str) -> None:
        with ops.begin() as connection:
            remove_definition(connection, clock=clock, principal=principal, kind=KIND, name=name)
        on_change()

    return DefinitionKind(
        name=KIND,
        parse=parse_policy,
        dump=lambda p: dump_policy(cast(ChannelPolicy, p)),
        check=lambda p, bundle: None,
        write=write,
        delete=delete,
        read="channel:read",
    )


def _newest(connection: Connection, columns: list[Any]) -> Any:
    query = (
        select(*columns)
        .where(definitions.c.kind == KIND, definitions.c.name == NAME)
        .order_by(definitions.c.version.desc())
        .limit(1)
    )
    return connection.execute(query).first()


class PolicyCache:
    """The effective policy of one process: re-read when the definition's version moved, which is checked
    at most once every `recheck` seconds (and at once after `forget`)."""

    def __init__(self, recheck: float = RECHECK_SECONDS) -> None:
        self._recheck = recheck
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._version = -1
        self._read: ChannelPolicyRead | None = None

    def forget(self) -> None:
        """Check the version at the next read (a write in this process)."""
        with self._lock:
            self._checked = float("-inf")

    def read(self, ops: OperationalStore, fallback: ChannelPolicy) -> ChannelPolicyRead:
        """The effective policy with its source and version."""
        now = time.monotonic()
        with self._lock:
            if self._read is not None and now - self._checked < self._recheck:
                return self._read
        with ops.begin() as connection:
            row = _newest(connection, [definitions.c.version])
            version = 0 if row is None else int(row[0])
            with self._lock:
                known = self._read if version == self._version else None
            if known is None:
                newest = _newest(connection, [definitions.c.body]) if version else None
                body = None if newest is None else newest[0]
                if body is None:  # never saved, or deleted: the settings' policy
                    known = ChannelPolicyRead(source="settings", version=version, policy=fallback)
                else:
                    known = ChannelPolicyRead(
                        source="registry", version=version, policy=parse_policy(NAME, body)
                    )
        with self._lock:
            self._read, self._version, self._checked = known, version, now
        return known


def save_policy(*, registry: Registry, principal: Principal, policy: ChannelPolicy) -> SaveRead:
    """Store the policy as the next version of `channel_policy/default` through the registry (audited; an
    unchanged policy adds no version)."""
    return registry.save(principal, KIND, NAME, dump_policy(policy))
