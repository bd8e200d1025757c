"""SMS through an HTTP SMS gateway in the Aliyun/Tencent style: a registered template code and its parameters,
the signature (签名), and for marketing texts the opt-out line the regulations require."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx
from pydantic import Field

from touchpoint.channels.providers.base import (
    Delivery,
    HttpConfig,
    OutboundMessage,
    PermanentError,
    Receipt,
    ReceiptError,
    SendContext,
    TransientError,
)
from touchpoint.channels.providers.http import as_id, json_items, parse_time, post_json

_REPORT_STATUSES = {"DELIVERED": "delivered", "FAILED": "failed"}


class SmsConfig(HttpConfig):
    """An HTTP SMS gateway: where to post, the signature, the opt-out suffix, which codes to retry."""

    provider: Literal["http_sms"] = "http_sms"
    signature: str = Field(min_length=1)
    opt_out_suffix: str = "回复TD退订"
    transient_codes: list[str] = Field(default_factory=lambda: ["isv.BUSINESS_LIMIT_CONTROL", "SYSTEM_BUSY"])


def sms_text(config: SmsConfig, message: OutboundMessage) -> str:
    """The full text the phone shows: signature + body, and for marketing the opt-out suffix, each once."""
    text = message.body
    if not text.startswith(config.signature):
        text = config.signature + text
    if message.marketing and config.opt_out_suffix and not text.rstrip().endswith(config.opt_out_suffix):
        text = text.rstrip() + config.opt_out_suffix
    return text


class HttpSmsProvider:
    """Posts template SMS to an HTTP SMS gateway; reads its delivery reports and customers' replies."""

    kind = "http_sms"

    def __init__(self, config: SmsConfig, client: httpx.Client) -> None:
        self.config = config
        self.client = client
        self.rate_per_second = config.rate_per_second
        self.burst = config.burst

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        """Post one SMS; the answer's `code` "OK" gives the gateway's biz_id."""
        del context
        if not message.address:
            raise PermanentError("no phone number for this customer")
        if not message.provider_template_id:
            raise PermanentError(f"template {message.template!r} has no registered SMS template code")
        payload = {
            "phone": message.address,
            "sign_name": self.config.signature,
            "template_code": message.provider_template_id,
            "template_param": message.params,
            "content": sms_text(self.config, message),
            "out_id": message.key,
        }
        answer = post_json(
            self.client,
            self.config.url,
            payload,
            timeout=self.config.timeout_seconds,
            headers={**self.config.headers(), "Idempotency-Key": message.key},
        )
        if not isinstance(answer, dict):
            raise TransientError(f"SMS gateway answered {type(answer).__name__}, not an object")
        code = str(answer.get("code", ""))
        if code == "OK":
            biz_id = as_id(answer.get("biz_id"))
            return Delivery(provider_message_id=biz_id, detail=f"SMS accepted, biz_id={biz_id}")
        reason = answer.get("message") or answer.get("Message")
        failure = f"SMS gateway code {code or '(none)'}" + (f": {reason}" if reason else "")
        if code in self.config.transient_codes:
            raise TransientError(failure)
        raise PermanentError(failure)

    def parse_receipt(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """Read delivery reports `{"biz_id", "status", "err_code", "report_time"}` and uplink replies
        `{"phone", "content", "send_time"}`, as a JSON list or `{"receipts": [...]}`."""
        del headers
        return [_sms_receipt(item) for item in json_items(body)]


def _sms_receipt(item: dict[str, Any]) -> Receipt:
    if "biz_id" in item:
        biz_id = as_id(item.get("biz_id"))
        status = _REPORT_STATUSES.get(str(item.get("status", "")).upper())
        if biz_id is None or status is None:
            raise ReceiptError(
                f"SMS report needs a biz_id and DELIVERED or FAILED, got {item.get('status')!r}"
            )
        err_code = item.get("err_code")
        return Receipt(
            status="delivered" if status == "delivered" else "failed",
            provider_message_id=biz_id,
            at=parse_time(item.get("report_time")),
            reason=str(err_code) if status == "failed" and err_code not in (None, "") else None,
        )
    if "phone" in item and "content" in item:
        return Receipt(
            status="reply",
            at=parse_time(item.get("send_time")),
            text=str(item["content"]),
            address=str(item["phone"]),
        )
    raise ReceiptError(f"neither an SMS report nor a reply: keys {sorted(item)}")
