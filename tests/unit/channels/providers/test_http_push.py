"""The HTTP push provider against a real local gateway: body, headers, error classes, idempotent retries."""

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError

from provider_servers import FakeGateway, Reply, closed_port, message
from touchpoint.channels.providers.base import PermanentError, ReceiptError, SendContext, TransientError
from touchpoint.channels.providers.http_push import HttpPushProvider, PushConfig

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CONTEXT = SendContext(now=START)


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with FakeGateway() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


def provider(gateway: FakeGateway, client: httpx.Client, **settings: object) -> HttpPushProvider:
    config = PushConfig.model_validate(
        {
            "url": gateway.url_for("/v3/push"),
            "auth_header": "Authorization",
            "auth_value": "Basic YXBwOnNlY3JldA==",
            "timeout_seconds": 0.3,
            "rate_per_second": 50,
            "burst": 20,
            **settings,
        }
    )
    return HttpPushProvider(config, client)


def test_posts_the_default_alias_body_with_auth_and_idempotency_key(
    gateway: FakeGateway, client: httpx.Client
) -> None:
    push = provider(gateway, client)
    delivery = push.send(message(url="https://m.demo-sec.cn/stock/600519"), CONTEXT)

    (request,) = gateway.requests
    assert request.method == "POST"
    assert request.path == "/v3/push"
    assert request.headers["authorization"] == "Basic YXBwOnNlY3JldA=="
    assert request.headers["idempotency-key"] == "k-0001"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {
        "audience": {"alias": ["alias-0001"]},
        "notification": {
            "title": "持仓提醒",
            "alert": "您关注的贵州茅台今日涨幅超过5%",
            "extras": {"url": "https://m.demo-sec.cn/stock/600519"},
        },
        "request_id": "k-0001",
    }
    assert delivery.provider_message_id == "msg-1"
    assert (push.kind, push.rate_per_second, push.burst) == ("http_push", 50, 20)


def test_custom_template_and_nested_message_id(gateway: FakeGateway, client: httpx.Client) -> None:
    gateway.default("/v3/push", {"code": 0, "data": {"taskid": "RASS_0302_abc"}})
    push = provider(
        gateway,
        client,
        body_template={
            "cid": "{{ address }}",
            "push_message": {"notification": {"title": "{{ title }}", "body": "{{ body }}"}},
            "settings": {"ttl": 3600},
            "tags": ["{{ params.stock }}", "{{ 'marketing' if marketing else 'service' }}"],
        },
        message_id_field="data.taskid",
    )
    delivery = push.send(message(params={"stock": "600519"}), CONTEXT)
    assert gateway.requests[0].json == {
        "cid": "alias-0001",
        "push_message": {"notification": {"title": "持仓提醒", "body": "您关注的贵州茅台今日涨幅超过5%"}},
        "settings": {"ttl": 3600},
        "tags": ["600519", "service"],
    }
    assert delivery.provider_message_id == "RASS_0302_abc"


def test_template_errors_show_at_load_and_at_send(gateway: FakeGateway, client: httpx.Client) -> None:
    with pytest.raises(ValidationError, match="push body template"):
        PushConfig(url="http://127.0.0.1:1/", body_template={"a": "{{ title"})
    push = provider(gateway, client, body_template={"a": "{{ metadata.missing }}"})
    with pytest.raises(PermanentError, match="missing"):
        push.send(message(), CONTEXT)
    sandboxed = provider(gateway, client, body_template={"a": "{{ title.__class__.__mro__ }}"})
    with pytest.raises(PermanentError, match="push body template"):
        sandboxed.send(message(), CONTEXT)
    assert gateway.requests == []


def test_missing_alias_is_permanent(gateway: FakeGateway, client: httpx.Client) -> None:
    with pytest.raises(PermanentError, match="no push alias"):
        provider(gateway, client).send(message(address=None), CONTEXT)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_transient(
    gateway: FakeGateway, client: httpx.Client, status: int
) -> None:
    gateway.script("/v3/push", Reply(status=status, json={"error": "busy"}))
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        provider(gateway, client).send(message(), CONTEXT)
    assert gateway.delivered_keys() == set()


def test_client_errors_are_permanent_with_the_reason(gateway: FakeGateway, client: httpx.Client) -> None:
    gateway.script(
        "/v3/push", Reply(status=400, json={"error": {"code": 1011, "message": "cannot find user"}})
    )
    with pytest.raises(PermanentError, match=r"HTTP 400.*cannot find user"):
        provider(gateway, client).send(message(), CONTEXT)


def test_malformed_answer_is_transient(gateway: FakeGateway, client: httpx.Client) -> None:
    gateway.script("/v3/push", Reply(raw=b"<html>bad gateway</html>"))
    with pytest.raises(TransientError, match="malformed JSON"):
        provider(gateway, client).send(message(), CONTEXT)


def test_gateway_down_is_transient(client: httpx.Client) -> None:
    push = HttpPushProvider(PushConfig(url=f"http://127.0.0.1:{closed_port()}/v3/push"), client)
    with pytest.raises(TransientError, match="unreachable"):
        push.send(message(), CONTEXT)


def test_timeout_then_retry_with_the_same_key_is_one_delivery(
    gateway: FakeGateway, client: httpx.Client
) -> None:
    gateway.script("/v3/push", Reply(delay=0.8))
    push = provider(gateway, client)
    with pytest.raises(TransientError, match=r"timed out after 0\.3s"):
        push.send(message(), CONTEXT)
    delivery = push.send(message(), CONTEXT)

    assert len(gateway.requests) == 2
    assert gateway.deliveries() == ["k-0001"]
    assert gateway.delivered_keys() == {"k-0001"}
    assert delivery.provider_message_id == "msg-1"  # the gateway's answer to the first, slow request


def test_parses_receipts(gateway: FakeGateway, client: httpx.Client) -> None:
    push = provider(gateway, client)
    body = (
        b'{"receipts": ['
        b'{"msg_id": "msg-1", "status": "delivered", "time": 1772413205000},'
        b'{"msg_id": 42, "status": "failed", "time": "2026-03-02T09:00:07+08:00", "reason": "token expired"},'
        b'{"msg_id": "msg-3", "status": "opened", "time": "2026-03-02 09:01:00"}'
        b"]}"
    )
    delivered, failed, opened = push.parse_receipt(body, {})
    assert delivered.status == "delivered"
    assert delivered.provider_message_id == "msg-1"
    assert delivered.at == datetime(2026, 3, 2, 1, 0, 5, tzinfo=UTC)
    assert (failed.status, failed.provider_message_id, failed.reason) == ("failed", "42", "token expired")
    assert failed.at == datetime(2026, 3, 2, 1, 0, 7, tzinfo=UTC)
    assert opened.at == datetime(2026, 3, 2, 1, 1, tzinfo=UTC)  # no offset: Beijing time

    (single,) = push.parse_receipt(b'{"msg_id": "m", "status": "delivered"}', {})
    assert single.at is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b'{"receipts": [{"status": "delivered"}]}', "without msg_id"),
        (b'{"msg_id": "m", "status": "exploded"}', "unknown status"),
        (b'{"msg_id": "m", "status": "delivered", "time": "yesterday"}', "unreadable time"),
        (b'{"receipts": ["m"]}', "JSON object"),
    ],
)
def test_unreadable_receipts_are_refused(
    gateway: FakeGateway, client: httpx.Client, body: bytes, problem: str
) -> None:
    with pytest.raises(ReceiptError, match=problem):
        provider(gateway, client).parse_receipt(body, {})
