"""A signed JSON webhook: the brokerage's own systems (CRM, advisor app, a message hub) take the message and
check the HMAC signature with the shared secret. A journey's `webhook` action posts through the same provider
(`post`) to the action's own URL, signed with this secret."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import orjson
from pydantic import Field

from touchpoint.channels.providers.base import (
    Delivery,
    OutboundMessage,
    PermanentError,
    ProviderConfig,
    Receipt,
    SendContext,
)
from touchpoint.channels.providers.http import as_id, parse_json_receipts, request_json
from touchpoint.core.clock import Clock

SIGNATURE_PREFIX = "sha256="


class WebhookConfig(ProviderConfig):
    """Where to post, and the secret both sides use to sign and check the body."""

    provider: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://")
    secret: str = Field(min_length=1)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: `sha256=` + hex HMAC-SHA256 of `"{timestamp}." + body` under `secret`.

    The timestamp is inside the signed bytes so that a captured request cannot be replayed with a fresh one.
    """
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(
    secret: str,
    timestamp: int | str,
    body: bytes,
    signature: str,
    now_epoch: float,
    tolerance_seconds: float = 300,
) -> bool:
    """Whether `signature` is ours for this timestamp and body, and the timestamp is within the tolerance of
    `now_epoch` (either side: a far-future timestamp would make a replay window of its own)."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now_epoch - stamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, stamp, body).encode(), signature.strip().encode())


class WebhookProvider:
    """Posts each message as signed JSON to one URL; reads the generic JSON receipts it may send back."""

    kind = "webhook"

    def __init__(self, config: WebhookConfig, client: httpx.Client, clock: Clock) -> None:
        self.config = config
        self.client = client
        self.clock = clock
        self.rate_per_second = config.rate_per_second
        self.burst = config.burst

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        """Post the message; a 2xx answer is a delivery, with the answer's JSON `id` when it has one."""
        del context
        document = {
            "key": message.key,
            "channel": message.channel,
            "customer_no": message.customer_no,
            "address": message.address,
            "title": message.title,
            "body": message.body,
            "marketing": message.marketing,
            "template": message.template,
            "template_version": message.template_version,
            "url": message.url,
            "params": message.params,
            "metadata": message.metadata,
        }
        return self.post(self.config.url, document, key=message.key)

    def post(self, url: str, document: dict[str, Any], *, key: str) -> Delivery:
        """Post `document` as JSON to `url`, signed with this provider's secret, under the idempotency key
        `key` (a journey's webhook action posts to its own URL this way). A 2xx answer is a delivery, with the
        answer's JSON `id` when it has one; failures raise TransientError or PermanentError."""
        try:
            body = orjson.dumps(document)
        except TypeError as exc:
            raise PermanentError(f"message cannot be written as JSON: {exc}") from exc
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "X-Touchpoint-Timestamp": str(timestamp),
            "X-Touchpoint-Signature": sign(self.config.secret, timestamp, body),
            "Idempotency-Key": key,
        }
        # Receivers often answer a bare "ok" or nothing: any 2xx is taken; an id is read when there is one.
        answer = request_json(
            self.client,
            "POST",
            url,
            timeout=self.config.timeout_seconds,
            headers=headers,
            content=body,
            lenient=True,
        )
        message_id = as_id(answer.get("id")) if isinstance(answer, dict) else None
        return Delivery(provider_message_id=message_id, detail="webhook accepted")

    def parse_receipt(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """Read `{"receipts": [{"msg_id", "status", "time", "reason"}]}` or one such object."""
        del headers
        return parse_json_receipts(body)
