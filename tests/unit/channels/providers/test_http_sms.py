"""The HTTP SMS provider against a real local gateway: text with 签名 and opt-out, codes, reports, replies."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from provider_servers import FakeGateway, Reply, message
from touchpoint.channels.providers.base import (
    OutboundMessage,
    PermanentError,
    ReceiptError,
    SendContext,
    TransientError,
)
from touchpoint.channels.providers.http_sms import HttpSmsProvider, SmsConfig, sms_text

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CONTEXT = SendContext(now=START)
SIGNATURE = "【演示证券】"


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with FakeGateway() as server:
        yield server


@pytest.fixture
def sms(gateway: FakeGateway) -> Iterator[HttpSmsProvider]:
    config = SmsConfig(
        url=gateway.url_for("/sms/send"),
        auth_header="X-Api-Key",
        auth_value="key-123",
        signature=SIGNATURE,
        timeout_seconds=0.3,
        rate_per_second=100,
    )
    with httpx.Client() as client:
        yield HttpSmsProvider(config, client)


def text_message(**changes: Any) -> OutboundMessage:
    defaults: dict[str, Any] = {
        "channel": "sms",
        "address": "13800138000",
        "body": "您的账户今日有新股可申购，详情见App。",
        "provider_template_id": "SMS_310001",
        "params": {"count": "2"},
    }
    return message(**{**defaults, **changes})


def test_posts_the_template_params_signed_text_and_key(gateway: FakeGateway, sms: HttpSmsProvider) -> None:
    delivery = sms.send(text_message(), CONTEXT)

    (request,) = gateway.requests
    assert request.headers["x-api-key"] == "key-123"
    assert request.headers["idempotency-key"] == "k-0001"
    assert request.json == {
        "phone": "13800138000",
        "sign_name": SIGNATURE,
        "template_code": "SMS_310001",
        "template_param": {"count": "2"},
        "content": "【演示证券】您的账户今日有新股可申购，详情见App。",
        "out_id": "k-0001",
    }
    assert delivery.provider_message_id == "biz-1"
    assert (sms.kind, sms.rate_per_second, sms.burst) == ("http_sms", 100, 10)


def test_opt_out_suffix_only_on_marketing_and_only_once(gateway: FakeGateway, sms: HttpSmsProvider) -> None:
    sms.send(text_message(key="k-m", marketing=True), CONTEXT)
    assert (
        gateway.requests[0].json["content"] == "【演示证券】您的账户今日有新股可申购，详情见App。回复TD退订"
    )

    config = sms.config
    assert (
        sms_text(config, text_message(marketing=False)) == "【演示证券】您的账户今日有新股可申购，详情见App。"
    )
    already = text_message(marketing=True, body="两融利率限时优惠，回复TD退订")
    assert sms_text(config, already) == "【演示证券】两融利率限时优惠，回复TD退订"
    signed = text_message(marketing=True, body="【演示证券】两融利率限时优惠")
    assert sms_text(config, signed) == "【演示证券】两融利率限时优惠回复TD退订"


def test_missing_phone_or_template_code_is_permanent(gateway: FakeGateway, sms: HttpSmsProvider) -> None:
    with pytest.raises(PermanentError, match="no phone number"):
        sms.send(text_message(address=None), CONTEXT)
    with pytest.raises(PermanentError, match="template code"):
        sms.send(text_message(provider_template_id=None), CONTEXT)
    assert gateway.requests == []


def test_gateway_codes(gateway: FakeGateway, sms: HttpSmsProvider) -> None:
    gateway.script(
        "/sms/send",
        Reply(json={"code": "isv.MOBILE_NUMBER_ILLEGAL", "message": "非法手机号"}),
        Reply(json={"code": "isv.BUSINESS_LIMIT_CONTROL", "message": "触发分钟级流控"}),
        Reply(json={"code": "SYSTEM_BUSY"}),
    )
    with pytest.raises(PermanentError, match=r"isv\.MOBILE_NUMBER_ILLEGAL: 非法手机号"):
        sms.send(text_message(key="a"), CONTEXT)
    with pytest.raises(TransientError, match=r"isv\.BUSINESS_LIMIT_CONTROL: 触发分钟级流控"):
        sms.send(text_message(key="b"), CONTEXT)
    with pytest.raises(TransientError, match="SYSTEM_BUSY"):
        sms.send(text_message(key="c"), CONTEXT)
    assert gateway.delivered_keys() == set()


def test_http_failures(gateway: FakeGateway, sms: HttpSmsProvider) -> None:
    gateway.script(
        "/sms/send",
        Reply(status=502, json={"error": "upstream"}),
        Reply(status=403, json={"error": "IP not in whitelist"}),
        Reply(delay=0.8),
    )
    with pytest.raises(TransientError, match="HTTP 502"):
        sms.send(text_message(key="a"), CONTEXT)
    with pytest.raises(PermanentError, match=r"HTTP 403.*IP not in whitelist"):
        sms.send(text_message(key="b"), CONTEXT)
    with pytest.raises(TransientError, match="timed out"):
        sms.send(text_message(key="c"), CONTEXT)
    # The slow answer was still an accepted message: sending "c" again must not text the customer twice.
    sms.send(text_message(key="c"), CONTEXT)
    assert gateway.deliveries() == ["c"]
    assert len(gateway.requests_to("/sms/send")) == 4


def test_parses_delivery_reports_and_replies(sms: HttpSmsProvider) -> None:
    body = orjson.dumps(
        [
            {
                "biz_id": "biz-1",
                "status": "DELIVERED",
                "err_code": "DELIVERED",
                "report_time": "2026-03-02 09:00:05",
            },
            {
                "biz_id": "biz-2",
                "status": "FAILED",
                "err_code": "MK:0001",
                "report_time": "2026-03-02 09:00:06",
            },
            {"phone": "13800138000", "content": "TD", "send_time": "2026-03-02 09:03:00"},
        ]
    )
    delivered, failed, reply = sms.parse_receipt(body, {})
    assert (delivered.status, delivered.provider_message_id, delivered.reason) == ("delivered", "biz-1", None)
    assert delivered.at == datetime(2026, 3, 2, 1, 0, 5, tzinfo=UTC)
    assert (failed.status, failed.provider_message_id, failed.reason) == ("failed", "biz-2", "MK:0001")
    assert (reply.status, reply.text, reply.address) == ("reply", "TD", "13800138000")
    assert reply.provider_message_id is None
    assert reply.at == datetime(2026, 3, 2, 1, 3, tzinfo=UTC)

    wrapped = sms.parse_receipt(b'{"receipts": [{"phone": "13900139000", "content": "T"}]}', {})
    assert [(r.status, r.text, r.address) for r in wrapped] == [("reply", "T", "13900139000")]


@pytest.mark.parametrize(
    "body",
    [b"{", b'[{"biz_id": "b", "status": "LOST"}]', b'[{"unexpected": 1}]'],
)
def test_unreadable_reports_are_refused(sms: HttpSmsProvider, body: bytes) -> None:
    with pytest.raises(ReceiptError):
        sms.parse_receipt(body, {})
