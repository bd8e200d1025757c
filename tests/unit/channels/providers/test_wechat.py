"""WeChat template messages and WeCom app messages against a real local gateway that plays both APIs."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from provider_servers import FakeGateway, Reply, message
from touchpoint.channels.providers.base import (
    OutboundMessage,
    PermanentError,
    ReceiptError,
    SendContext,
    TransientError,
)
from touchpoint.channels.providers.wechat import (
    WechatConfig,
    WechatTemplateProvider,
    WecomConfig,
    WecomProvider,
)
from touchpoint.core.clock import VirtualClock

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CONTEXT = SendContext(now=START)
TEMPLATE_SEND = "/cgi-bin/message/template/send"
WECOM_SEND = "/cgi-bin/message/send"


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with FakeGateway() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def wechat(gateway: FakeGateway, client: httpx.Client, clock: VirtualClock) -> WechatTemplateProvider:
    config = WechatConfig(
        appid="wx1234567890abcdef", secret="mp-secret", api_base=gateway.url, timeout_seconds=0.3, burst=5
    )
    return WechatTemplateProvider(config, client, clock)


@pytest.fixture
def wecom(gateway: FakeGateway, client: httpx.Client, clock: VirtualClock) -> WecomProvider:
    config = WecomConfig(
        corpid="ww0123456789", corpsecret="corp-secret", agentid=1000002, api_base=gateway.url
    )
    return WecomProvider(config, client, clock)


def template_message(**changes: Any) -> OutboundMessage:
    defaults: dict[str, Any] = {
        "channel": "wechat",
        "address": "oAbC-openid-0001",
        "provider_template_id": "TPL_price_alert",
        "params": {"first": "您关注的股票触发提醒", "keyword1": "贵州茅台", "keyword2": "+5.2%"},
        "url": "https://m.demo-sec.cn/stock/600519",
    }
    return message(**{**defaults, **changes})


def token_requests(gateway: FakeGateway) -> int:
    return len(gateway.requests_to("/cgi-bin/token"))


def test_template_send_body_and_token(gateway: FakeGateway, wechat: WechatTemplateProvider) -> None:
    delivery = wechat.send(template_message(), CONTEXT)

    token_request, send_request = gateway.requests
    assert token_request.method == "GET"
    assert token_request.query == {
        "grant_type": "client_credential",
        "appid": "wx1234567890abcdef",
        "secret": "mp-secret",
    }
    assert send_request.query == {"access_token": "token-1"}
    assert send_request.json == {
        "touser": "oAbC-openid-0001",
        "template_id": "TPL_price_alert",
        "url": "https://m.demo-sec.cn/stock/600519",
        "data": {
            "first": {"value": "您关注的股票触发提醒"},
            "keyword1": {"value": "贵州茅台"},
            "keyword2": {"value": "+5.2%"},
        },
        "client_msg_id": "k-0001",
    }
    assert delivery.provider_message_id == "1002"
    assert (wechat.kind, wechat.rate_per_second, wechat.burst) == ("wechat_mp", None, 5)


def test_url_is_left_out_when_there_is_none(gateway: FakeGateway, wechat: WechatTemplateProvider) -> None:
    wechat.send(template_message(url=None), CONTEXT)
    assert "url" not in gateway.requests_to(TEMPLATE_SEND)[0].json


def test_token_is_cached_until_five_minutes_before_expiry(
    gateway: FakeGateway, wechat: WechatTemplateProvider, clock: VirtualClock
) -> None:
    wechat.send(template_message(key="a"), CONTEXT)
    wechat.send(template_message(key="b"), CONTEXT)
    assert token_requests(gateway) == 1

    clock.advance(timedelta(seconds=7200 - 300 - 1))
    wechat.send(template_message(key="c"), CONTEXT)
    assert token_requests(gateway) == 1

    clock.advance(timedelta(seconds=1))
    wechat.send(template_message(key="d"), CONTEXT)
    assert token_requests(gateway) == 2
    assert gateway.requests_to(TEMPLATE_SEND)[-1].query["access_token"] == "token-5"


def test_concurrent_sends_fetch_one_token(gateway: FakeGateway, wechat: WechatTemplateProvider) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: wechat.send(template_message(key=f"k{i}"), CONTEXT), range(16)))
    assert token_requests(gateway) == 1
    assert gateway.delivered_keys() == {f"k{i}" for i in range(16)}


def test_refused_token_is_refreshed_once_and_the_send_succeeds(
    gateway: FakeGateway, wechat: WechatTemplateProvider
) -> None:
    wechat.send(template_message(key="a"), CONTEXT)
    gateway.expire_tokens()  # e.g. another server fetched a token for the same appid
    delivery = wechat.send(template_message(key="b"), CONTEXT)

    assert token_requests(gateway) == 2
    first_try, retry = gateway.requests_to(TEMPLATE_SEND)[1:]
    assert (first_try.query["access_token"], retry.query["access_token"]) == ("token-1", "token-4")
    assert delivery.provider_message_id is not None
    assert gateway.deliveries() == ["a", "b"]


def test_a_token_refused_twice_is_transient(gateway: FakeGateway, wechat: WechatTemplateProvider) -> None:
    stale = {"errcode": 42001, "errmsg": "access_token expired"}
    gateway.script(TEMPLATE_SEND, Reply(json=stale), Reply(json=stale))
    with pytest.raises(TransientError, match="wechat errcode 42001"):
        wechat.send(template_message(), CONTEXT)
    assert len(gateway.requests_to(TEMPLATE_SEND)) == 2
    assert token_requests(gateway) == 2


@pytest.mark.parametrize(
    ("answer", "error", "pattern"),
    [
        (
            {"errcode": 43004, "errmsg": "require subscribe"},
            PermanentError,
            "wechat errcode 43004: require subscribe",
        ),
        (
            {"errcode": 40003, "errmsg": "invalid openid"},
            PermanentError,
            "wechat errcode 40003: invalid openid",
        ),
        ({"errcode": -1, "errmsg": "system error"}, TransientError, "wechat errcode -1"),
        (
            {"errcode": 45009, "errmsg": "reach max api daily quota limit"},
            TransientError,
            "wechat errcode 45009",
        ),
    ],
)
def test_errcodes(
    gateway: FakeGateway,
    wechat: WechatTemplateProvider,
    answer: dict[str, Any],
    error: type[Exception],
    pattern: str,
) -> None:
    gateway.script(TEMPLATE_SEND, Reply(json=answer))
    with pytest.raises(error, match=pattern):
        wechat.send(template_message(), CONTEXT)
    assert gateway.delivered_keys() == set()


def test_refused_credentials_and_missing_openid_are_permanent(
    gateway: FakeGateway, wechat: WechatTemplateProvider
) -> None:
    with pytest.raises(PermanentError, match="openid"):
        wechat.send(template_message(address=None), CONTEXT)
    gateway.script("/cgi-bin/token", Reply(json={"errcode": 40125, "errmsg": "invalid appsecret"}))
    with pytest.raises(PermanentError, match="wechat token errcode 40125"):
        wechat.send(template_message(), CONTEXT)
    assert gateway.requests_to(TEMPLATE_SEND) == []


def test_slow_and_failing_api_is_transient(gateway: FakeGateway, wechat: WechatTemplateProvider) -> None:
    gateway.script(TEMPLATE_SEND, Reply(status=503, json={}), Reply(delay=0.8))
    with pytest.raises(TransientError, match="HTTP 503"):
        wechat.send(template_message(), CONTEXT)
    with pytest.raises(TransientError, match="timed out"):
        wechat.send(template_message(), CONTEXT)
    wechat.send(template_message(), CONTEXT)
    assert gateway.deliveries() == ["k-0001"]  # client_msg_id made the retry a repeat, not a second message


def event_xml(status: str, event: str = "TEMPLATESENDJOBFINISH") -> bytes:
    return f"""<xml>
<ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>
<FromUserName><![CDATA[oAbC-openid-0001]]></FromUserName>
<CreateTime>1772413205</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[{event}]]></Event>
<MsgID>200163836</MsgID>
<Status><![CDATA[{status}]]></Status>
</xml>""".encode()


def test_parses_template_send_job_finish_events(wechat: WechatTemplateProvider) -> None:
    (delivered,) = wechat.parse_receipt(event_xml("success"), {})
    assert (delivered.status, delivered.provider_message_id) == ("delivered", "200163836")
    assert delivered.at == datetime(2026, 3, 2, 1, 0, 5, tzinfo=UTC)
    (blocked,) = wechat.parse_receipt(event_xml("failed:user block"), {})
    assert (blocked.status, blocked.reason) == ("failed", "user block")
    (system,) = wechat.parse_receipt(event_xml("failed: system failed"), {})
    assert (system.status, system.reason) == ("failed", "system failed")


def test_other_xml_gives_no_receipts_and_bad_xml_is_refused(wechat: WechatTemplateProvider) -> None:
    assert wechat.parse_receipt(event_xml("success", event="subscribe"), {}) == []
    text = b"<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>"
    assert wechat.parse_receipt(text, {}) == []
    with pytest.raises(ReceiptError, match="not acceptable XML"):
        wechat.parse_receipt(b"<xml><MsgType>event", {})
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><xml>&b;</xml>'
    with pytest.raises(ReceiptError, match="not acceptable XML"):
        wechat.parse_receipt(bomb, {})
    with pytest.raises(ReceiptError, match="unknown template send status"):
        wechat.parse_receipt(event_xml("pending"), {})


def test_wecom_text_message(gateway: FakeGateway, wecom: WecomProvider) -> None:
    advisor = message(channel="wecom", address="zhangsan", title="客户提醒", body="客户C0001今日入金10万元")
    delivery = wecom.send(advisor, CONTEXT)

    token_request, send_request = gateway.requests
    assert token_request.path == "/cgi-bin/gettoken"
    assert token_request.query == {"corpid": "ww0123456789", "corpsecret": "corp-secret"}
    assert send_request.path == WECOM_SEND
    assert send_request.query == {"access_token": "token-1"}
    assert send_request.json == {
        "touser": "zhangsan",
        "msgtype": "text",
        "agentid": 1000002,
        "text": {"content": "客户提醒\n客户C0001今日入金10万元"},
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 1800,
    }
    assert delivery.provider_message_id == "1002"

    wecom.send(message(key="k2", address="zhangsan", title="", body="只有正文"), CONTEXT)
    assert gateway.requests_to(WECOM_SEND)[-1].json["text"] == {"content": "只有正文"}
    assert len(gateway.requests_to("/cgi-bin/gettoken")) == 1
    assert wecom.parse_receipt(b"anything", {}) == []
    assert wecom.kind == "wecom"


def test_wecom_refreshes_a_refused_token_and_reports_invalid_users(
    gateway: FakeGateway, wecom: WecomProvider
) -> None:
    wecom.send(message(address="zhangsan"), CONTEXT)
    gateway.expire_tokens()
    wecom.send(message(address="zhangsan"), CONTEXT)
    assert len(gateway.requests_to("/cgi-bin/gettoken")) == 2

    gateway.script(
        WECOM_SEND, Reply(json={"errcode": 0, "errmsg": "ok", "invaliduser": "lisi", "msgid": "x"})
    )
    with pytest.raises(PermanentError, match="wecom user lisi"):
        wecom.send(message(address="lisi"), CONTEXT)
    gateway.script(WECOM_SEND, Reply(json={"errcode": 60020, "errmsg": "not allow to access from your ip"}))
    with pytest.raises(PermanentError, match="wecom errcode 60020"):
        wecom.send(message(address="zhangsan"), CONTEXT)
    with pytest.raises(PermanentError, match="WeCom user id"):
        wecom.send(message(address=None), CONTEXT)
