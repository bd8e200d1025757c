"""What channel use cases and the dispatcher read and write, wired once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from touchpoint.channels.providers.base import Provider
from touchpoint.channels.providers.log import LogConfig, LogProvider
from touchpoint.channels.ratelimit import TokenBucket
from touchpoint.config import ChannelPolicy
from touchpoint.ingest.ports import EventLog
from touchpoint.tags.service import TagEnv


@dataclass
class ChannelEnv:
    """The stores (through the tag environment), the rules, the providers by channel and their buckets."""

    tags: TagEnv
    log: EventLog
    policy: ChannelPolicy
    providers: dict[str, Provider]
    public_url: str = "http://127.0.0.1:8000"
    receipt_tokens: dict[str, str] = field(default_factory=dict)
    lease_seconds: float = 60.0  # how long a dispatcher's claim on an effect lasts (dispatch_lease_seconds)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict, init=False)

    @property
    def ops(self) -> Any:
        """The operational store."""
        return self.tags.indicators.ops

    @property
    def analytics(self) -> Any:
        """The analytical store."""
        return self.tags.indicators.analytics

    @property
    def clock(self) -> Any:
        """The clock."""
        return self.tags.indicators.clock

    @property
    def calendar(self) -> Any:
        """The brokerage time zone and trading calendar."""
        return self.tags.indicators.calendar

    def recording(self, tags: TagEnv, log: EventLog) -> ChannelEnv:
        """The same policies and templates on other stores, every provider replaced by `log`: a simulation
        applies consent, suitability, quiet hours and caps exactly as a real send would, and sends nothing."""
        providers: dict[str, Provider] = {channel: LogProvider(LogConfig()) for channel in self.providers}
        return ChannelEnv(
            tags=tags,
            log=log,
            policy=self.policy,
            providers=providers,
            public_url=self.public_url,
            lease_seconds=self.lease_seconds,
        )

    def bucket(self, channel: str) -> TokenBucket | None:
        """The provider's token bucket (None when it has no rate limit); one per channel per process."""
        provider = self.providers.get(channel)
        if provider is None or provider.rate_per_second is None:
            return None
        if channel not in self._buckets:
            self._buckets[channel] = TokenBucket(provider.rate_per_second, provider.burst)
        return self._buckets[channel]
