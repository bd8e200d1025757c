"""The signed webhook against a real local receiver: the document, a signature a receiver can check."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from provider_servers import FakeGateway, Reply, message
from touchpoint.channels.providers.base import PermanentError, SendContext, TransientError
from touchpoint.channels.providers.webhook import WebhookConfig, WebhookProvider, sign, verify
from touchpoint.core.clock import VirtualClock

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CONTEXT = SendContext(now=START)
SECRET = "whsec-演示-0001"
NOW = int(START.timestamp())


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with FakeGateway() as server:
        yield server


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def webhook(gateway: FakeGateway, clock: VirtualClock) -> Iterator[WebhookProvider]:
    config = WebhookConfig(url=gateway.url_for("/hooks/touchpoint"), secret=SECRET, timeout_seconds=0.3)
    with httpx.Client() as client:
        yield WebhookProvider(config, client, clock)


def test_posts_the_signed_document(gateway: FakeGateway, webhook: WebhookProvider) -> None:
    sent = message(
        channel="crm",
        template="new_ipo",
        template_version=3,
        params={"count": "2"},
        url="https://m.demo-sec.cn/ipo",
        metadata={"advisor": "zhangsan", "score": 0.82},
    )
    delivery = webhook.send(sent, CONTEXT)

    (request,) = gateway.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "k-0001"
    assert request.headers["x-touchpoint-timestamp"] == str(NOW)
    assert request.json == {
        "key": "k-0001",
        "channel": "crm",
        "customer_no": "C0001",
        "address": "alias-0001",
        "title": "持仓提醒",
        "body": "您关注的贵州茅台今日涨幅超过5%",
        "marketing": False,
        "template": "new_ipo",
        "template_version": 3,
        "url": "https://m.demo-sec.cn/ipo",
        "params": {"count": "2"},
        "metadata": {"advisor": "zhangsan", "score": 0.82},
    }
    signature = request.headers["x-touchpoint-signature"]
    assert signature.startswith("sha256=")
    assert signature == sign(SECRET, NOW, request.body)
    assert verify(SECRET, request.headers["x-touchpoint-timestamp"], request.body, signature, NOW + 10)
    assert delivery.provider_message_id == "id-1"
    assert (webhook.kind, webhook.rate_per_second, webhook.burst) == ("webhook", None, 10)


def test_timestamp_follows_the_clock(
    gateway: FakeGateway, webhook: WebhookProvider, clock: VirtualClock
) -> None:
    clock.advance(timedelta(hours=1))
    webhook.send(message(), CONTEXT)
    assert gateway.requests[0].headers["x-touchpoint-timestamp"] == str(NOW + 3600)


def test_verify_refuses_tampering_wrong_secrets_and_stale_timestamps() -> None:
    body = orjson.dumps({"key": "k", "body": "您好"})
    signature = sign(SECRET, NOW, body)
    assert verify(SECRET, NOW, body, signature, NOW + 300)
    assert not verify(SECRET, NOW, body, signature, NOW + 301)  # stale: a replay
    assert not verify(SECRET, NOW, body, signature, NOW - 301)  # from the future
    assert not verify(SECRET, NOW, body + b" ", signature, NOW)
    assert not verify("other-secret", NOW, body, signature, NOW)
    assert not verify(SECRET, NOW + 1, body, signature, NOW)  # the timestamp is signed too
    assert not verify(SECRET, "not-a-number", body, signature, NOW)
    assert not verify(SECRET, NOW, body, signature.removeprefix("sha256="), NOW)
    assert verify(SECRET, NOW, body, signature, NOW + 3000, tolerance_seconds=3600)


def test_answers_without_an_id_are_still_deliveries(gateway: FakeGateway, webhook: WebhookProvider) -> None:
    gateway.script(
        "/hooks/touchpoint", Reply(status=202, raw=b"ok"), Reply(status=200, json={"received": True})
    )
    assert webhook.send(message(key="a"), CONTEXT).provider_message_id is None
    assert webhook.send(message(key="b"), CONTEXT).provider_message_id is None


@pytest.mark.parametrize(
    ("reply", "error", "pattern"),
    [
        (Reply(status=500, json={"error": "db down"}), TransientError, "HTTP 500"),
        (Reply(status=429, json={"error": "slow down"}), TransientError, "HTTP 429"),
        (Reply(status=401, json={"error": "bad signature"}), PermanentError, "HTTP 401.*bad signature"),
        (Reply(status=404, raw=b"Not Found"), PermanentError, "HTTP 404.*Not Found"),
        (Reply(delay=0.8), TransientError, "timed out"),
    ],
)
def test_failures(
    gateway: FakeGateway, webhook: WebhookProvider, reply: Reply, error: type[Exception], pattern: str
) -> None:
    gateway.script("/hooks/touchpoint", reply)
    with pytest.raises(error, match=pattern):
        webhook.send(message(), CONTEXT)


def test_timeout_then_retry_is_one_delivery(gateway: FakeGateway, webhook: WebhookProvider) -> None:
    gateway.script("/hooks/touchpoint", Reply(delay=0.8))
    with pytest.raises(TransientError):
        webhook.send(message(), CONTEXT)
    webhook.send(message(), CONTEXT)
    assert len(gateway.requests) == 2
    assert gateway.deliveries() == ["k-0001"]


def test_unserialisable_metadata_is_permanent(gateway: FakeGateway, webhook: WebhookProvider) -> None:
    with pytest.raises(PermanentError, match="JSON"):
        webhook.send(message(metadata={"handle": object()}), CONTEXT)
    assert gateway.requests == []


def test_parses_receipts(webhook: WebhookProvider) -> None:
    body = b'{"receipts": [{"msg_id": "id-1", "status": "clicked", "time": 1772413260000}]}'
    (receipt,) = webhook.parse_receipt(body, {})
    assert (receipt.status, receipt.provider_message_id) == ("clicked", "id-1")
    assert receipt.at == datetime(2026, 3, 2, 1, 1, tzinfo=UTC)
