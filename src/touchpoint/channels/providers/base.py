"""The one small interface every provider fulfils, and the value objects that cross it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

ReceiptStatus = Literal["delivered", "failed", "opened", "clicked", "reply"]


@dataclass(frozen=True)
class OutboundMessage:
    """One rendered message for one recipient, as a provider sees it.

    `key` is the idempotency key: the same key is sent again only when an earlier attempt's outcome is
    unknown (a time-out), and providers pass it on so that the gateway can drop the repeat.
    """

    key: str
    channel: str
    customer_no: str
    address: str | None
    title: str
    body: str
    marketing: bool
    template: str = ""
    template_version: int = 0
    provider_template_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """A gateway accepted the message: its own id for later receipts, and a short detail for the log."""

    provider_message_id: str | None
    detail: str
    delivered: bool = False
    """The provider put the message where the customer reads it (the in-app inbox): it is delivered as it is
    sent, with no receipt to wait for."""


@dataclass(frozen=True)
class Receipt:
    """What a provider's callback says about one message (or, for `reply`, what a customer answered)."""

    status: ReceiptStatus
    provider_message_id: str | None = None
    at: datetime | None = None
    reason: str | None = None
    text: str | None = None
    address: str | None = None


class ProviderError(Exception):
    """A send did not go through; the message says why in the provider's words."""


class TransientError(ProviderError):
    """Worth retrying with back-off: a time-out, a 5xx, a rate limit, a busy gateway."""


class PermanentError(ProviderError):
    """Retrying cannot help (bad address, rejected template, refused credentials): the attempt ends."""


class ReceiptError(ValueError):
    """A callback body this provider cannot read (HTTP 400, naming what is wrong)."""


@dataclass(frozen=True)
class SendContext:
    """What a provider may use besides the message: the dispatcher's time, and the operational store, on
    which an in-house provider (the inbox) writes in a short transaction of its own — the dispatcher holds
    none while a provider works."""

    now: datetime
    store: Any = None


class Provider(Protocol):
    """A channel's gateway: `send` one message; `parse_receipt` reads the gateway's callbacks."""

    kind: str
    rate_per_second: float | None
    burst: int

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        """Hand one message to the gateway; TransientError or PermanentError when it does not take it."""
        ...

    def parse_receipt(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """The receipts in one callback request (empty when the provider sends none)."""
        ...


class ProviderConfig(BaseModel):
    """Settings every provider shares: its kind, and a token bucket (None: no limit)."""

    model_config = ConfigDict(extra="forbid")

    provider: str
    rate_per_second: float | None = Field(default=None, gt=0)
    burst: int = Field(default=10, ge=1)
    timeout_seconds: float = Field(default=10.0, gt=0)
    receipt_token: str | None = Field(
        default=None, min_length=16, description="the gateway's callbacks must carry it (?token= or header)"
    )


class HttpConfig(ProviderConfig):
    """An HTTP gateway: where to post and how to authenticate."""

    url: str = Field(pattern=r"^https?://")
    auth_header: str | None = None
    auth_value: str | None = None

    def headers(self) -> dict[str, str]:
        """The authentication header, when one is configured."""
        if self.auth_header and self.auth_value is not None:
            return {self.auth_header: self.auth_value}
        return {}


def no_receipts(body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
    """For providers that never call back."""
    del body, headers
    return []
