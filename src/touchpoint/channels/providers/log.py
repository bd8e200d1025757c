"""`log`: records without sending — the send's row (content, evidence) is the record. For simulations, dry
runs and channels a deployment has not connected yet."""

from __future__ import annotations

from typing import Literal

from touchpoint.channels.providers.base import (
    Delivery,
    OutboundMessage,
    ProviderConfig,
    SendContext,
    no_receipts,
)


class LogConfig(ProviderConfig):
    """No settings beyond the shared ones."""

    provider: Literal["log"] = "log"


class LogProvider:
    """Accepts every message and sends nothing."""

    kind = "log"

    def __init__(self, config: LogConfig) -> None:
        self.rate_per_second = config.rate_per_second
        self.burst = config.burst

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        """Record only."""
        del context
        return Delivery(message.key, f"logged ({len(message.body)} characters, not sent)")

    parse_receipt = staticmethod(no_receipts)
