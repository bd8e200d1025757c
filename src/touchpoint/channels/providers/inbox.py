"""The in-app inbox: messages stored per customer, served by `GET /api/v1/inbox/{customer}` for the app."""

from __future__ import annotations

from typing import Literal

from touchpoint.channels import repo
from touchpoint.channels.providers.base import (
    Delivery,
    OutboundMessage,
    ProviderConfig,
    SendContext,
    no_receipts,
)


class InboxConfig(ProviderConfig):
    """The inbox needs no settings beyond the shared ones."""

    provider: Literal["inbox"] = "inbox"


class InboxProvider:
    """Writes the message into the inbox table, in a transaction of its own: the message's key is the row's
    id, so a repeat of the same send (after a dispatcher died before recording it) stores nothing twice."""

    kind = "inbox"

    def __init__(self, config: InboxConfig) -> None:
        self.rate_per_second = config.rate_per_second
        self.burst = config.burst

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        """Store the message for the customer (a repeat of the same key is a no-op)."""
        row = {
            "id": message.key,
            "customer_no": message.customer_no,
            "title": message.title,
            "body": message.body,
            "url": message.url,
            "created_at": context.now,
            "read_at": None,
        }
        with context.store.begin() as connection:
            fresh = repo.add_inbox_message(connection, row)
        detail = "stored in the inbox" if fresh else "already in the inbox"
        return Delivery(message.key, detail, delivered=True)

    parse_receipt = staticmethod(no_receipts)
