"""What channel use cases and the dispatcher read and write, provided by the composition root's container."""

from __future__ import annotations

from typing import Protocol, Self

from touchpoint.channels.providers.base import Provider
from touchpoint.config import ChannelPolicy
from touchpoint.core.clock import Clock
from touchpoint.core.ratelimit import TokenBucket
from touchpoint.ingest.ports import EventLog
from touchpoint.store import OperationalStore
from touchpoint.tags.service import TagEnv


class ChannelEnv(TagEnv, Protocol):
    """The tag environment plus the event log, the rules, the providers by channel and their buckets."""

    log: EventLog
    public_url: str
    receipt_tokens: dict[str, str]
    lease_seconds: float  # how long a dispatcher's claim on an effect lasts (dispatch_lease_seconds)
    buckets: dict[str, TokenBucket]  # one per channel per process, filled by `token_bucket`

    @property
    def channel_policy(self) -> ChannelPolicy:
        """The effective send-time and content rules (the registry's channel_policy/default, else the
        settings'); may change between two reads when the definition changes."""
        ...

    @property
    def providers(self) -> dict[str, Provider]:
        """The configured provider of each channel (built once: they keep tokens and connections)."""
        ...

    def recording(self, *, ops: OperationalStore, clock: Clock, log: EventLog) -> Self:
        """The same policies and templates on other stores, every provider replaced by one that records:
        a simulation applies consent, suitability, quiet hours and caps exactly as a real send would, and
        sends nothing."""
        ...


def token_bucket(env: ChannelEnv, channel: str) -> TokenBucket | None:
    """The provider's token bucket (None when it has no rate limit); one per channel per process."""
    provider = env.providers.get(channel)
    if provider is None or provider.rate_per_second is None:
        return None
    if channel not in env.buckets:
        env.buckets[channel] = TokenBucket(provider.rate_per_second, provider.burst)
    return env.buckets[channel]
