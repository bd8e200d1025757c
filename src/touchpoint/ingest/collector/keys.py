"""Ingestion keys: the collector takes a batch only with a live key of its source, at most at its rate.

Each source carries its key the way its SDK already does: Sensors in the data-receive URL's `token`
parameter (`/sa?project=default&token=tpk_…`), Segment as the write key (HTTP Basic user or `writeKey`),
PostHog as the project `api_key`, and Touchpoint's own `/api/v1/events` as `Authorization: Bearer tpk_…`.
A key is shown once when created and kept only as its SHA-256; a key of one source is refused on another.
The rate is a token bucket per key and per collector process: N processes behind a balancer admit up to N
times the rate, so set it per process.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from touchpoint.config import Settings
from touchpoint.core.clock import Clock
from touchpoint.core.errors import NotFoundError, TouchpointError
from touchpoint.core.numbers import Whole
from touchpoint.core.ratelimit import TokenBucket
from touchpoint.governance import Principal, record_operation
from touchpoint.governance.accounts import digest
from touchpoint.store import OperationalStore
from touchpoint.store.operational import accounts as rows

KEY_PREFIX = "tpk_"
Source = Literal["sensors", "segment", "posthog", "native"]


class UnknownWriteKey(TouchpointError):
    """The request names no key, or a key this deployment does not accept for its source (HTTP 401)."""

    code = "unauthorized"


class RateLimited(TouchpointError):
    """The key sent more requests than its rate allows (HTTP 429 with Retry-After)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: timedelta) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KeysEnv(Protocol):
    """What checking and managing keys reads."""

    @property
    def ops(self) -> OperationalStore: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def ingest_buckets(self) -> dict[int, TokenBucket]: ...


class IngestKeyCreate(BaseModel):
    """A new ingestion key for one source."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, description="what sends with it: 'iOS app', 'web site'")
    source: Source
    rate_per_second: Whole = Field(
        default=200, ge=1, le=1_000_000, description="requests a second, per process"
    )
    burst: Whole = Field(default=1_000, ge=1, le=10_000_000, description="requests saved up for a spike")


class IngestKeyRead(BaseModel):
    """A key as listed: never its secret, only the first characters."""

    id: int
    name: str
    source: Source
    prefix: str
    rate_per_second: int
    burst: int
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class IngestKeyCreatedRead(IngestKeyRead):
    """A new key with its secret, shown this once."""

    key: str


def create_key(env: KeysEnv, *, principal: Principal, key: IngestKeyCreate) -> IngestKeyCreatedRead:
    """Make a key for one source; the secret is returned this once."""
    secret = KEY_PREFIX + secrets.token_urlsafe(24)
    values = {
        **key.model_dump(),
        "prefix": secret[:10],
        "key_hash": digest(secret),
        "created_at": env.clock.now(),
        "created_by": principal.user,
        "revoked_at": None,
    }
    with env.ops.begin() as connection:
        key_id = rows.add_ingest_key(connection, values)
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="ingest_key.create",
            target_type="ingest_key",
            target_id=str(key_id),
            after={k: values[k] for k in ("name", "source", "prefix", "rate_per_second", "burst")},
        )
    return IngestKeyCreatedRead.model_validate({**values, "id": key_id, "key": secret})


def list_keys(env: KeysEnv) -> list[IngestKeyRead]:
    """Every key, oldest first, revoked ones too."""
    with env.ops.begin() as connection:
        return [IngestKeyRead.model_validate(r) for r in rows.ingest_key_rows(connection)]


def revoke_key(env: KeysEnv, *, principal: Principal, key_id: int) -> IngestKeyRead:
    """Revoke a key: every collector process refuses it from its next batch on."""
    with env.ops.begin() as connection:
        if rows.revoke_ingest_key(connection, key_id, now=env.clock.now()):
            record_operation(
                connection,
                clock=env.clock,
                principal=principal,
                action="ingest_key.revoke",
                target_type="ingest_key",
                target_id=str(key_id),
            )
        found = {r["id"]: r for r in rows.ingest_key_rows(connection)}
    if key_id not in found:
        raise NotFoundError(f"no ingestion key {key_id}")
    return IngestKeyRead.model_validate(found[key_id])


def admit(env: KeysEnv, *, source: str, secret: str | None) -> None:
    """Let a batch of `source` in, or refuse it: no key, an unknown or revoked one, one of another source
    (401), or a key over its rate (429). With `collector_require_keys = false` every batch is let in."""
    if not env.settings.collector_require_keys:
        return
    if not secret:
        raise UnknownWriteKey(f"this collector needs an ingestion key ({_carried[source]})")
    with env.ops.begin() as connection:
        key = rows.ingest_key_by_hash(connection, digest(secret))
    if key is None or key["revoked_at"] is not None:
        raise UnknownWriteKey("unknown or revoked ingestion key")
    if key["source"] != source:
        raise UnknownWriteKey(f"this ingestion key is for {key['source']}, not {source}")
    bucket = env.ingest_buckets.get(key["id"])
    if bucket is None or (bucket.rate, bucket.burst) != (key["rate_per_second"], key["burst"]):
        bucket = env.ingest_buckets[key["id"]] = TokenBucket(key["rate_per_second"], key["burst"])
    wait = bucket.take(env.clock.now())
    if wait > timedelta(0):
        raise RateLimited(
            f"ingestion key {key['prefix']}… is over its rate of {key['rate_per_second']} requests a second",
            retry_after=wait,
        )


_carried = {
    "sensors": "the data-receive URL's token parameter",
    "segment": "the write key",
    "posthog": "the project api_key",
    "native": "Authorization: Bearer tpk_…",
}
