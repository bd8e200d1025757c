"""WeChat: Official Account (公众号) template messages to customers, and WeCom (企业微信) app messages to
advisors. Both APIs take an access token that expires, answer with an errcode, and share the helpers here."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from touchpoint.channels.providers.base import (
    Delivery,
    OutboundMessage,
    PermanentError,
    ProviderConfig,
    Receipt,
    ReceiptError,
    SendContext,
    TransientError,
    no_receipts,
)
from touchpoint.channels.providers.http import as_id, post_json, request_json
from touchpoint.core.clock import Clock

# invalid credential / invalid access_token / access_token expired: the token, not the message, is at fault.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# system busy / API call quota reached.
TRANSIENT_ERRCODES = frozenset({-1, 45009})
REFRESH_MARGIN = timedelta(minutes=5)


class TokenCache:
    """An access token kept until shortly before it expires, by the given clock; safe to share across threads.

    `fetch` returns (token, lifetime in seconds). One thread fetches at a time, so a burst of sends after
    expiry asks the API once: WeChat counts token requests against a daily quota, and each new token
    invalidates the previous one.
    """

    def __init__(
        self,
        fetch: Callable[[], tuple[str, float]],
        clock: Clock,
        margin: timedelta = REFRESH_MARGIN,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._margin = margin
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = datetime.min.replace(tzinfo=UTC)

    def get(self) -> str:
        """The cached token, or a new one when there is none or it is within the margin of expiring."""
        with self._lock:
            now = self._clock.now()
            if self._token is None or now >= self._refresh_at:
                token, lifetime = self._fetch()
                # A lifetime shorter than the margin would make every call fetch anew: keep half of it.
                margin = min(self._margin, timedelta(seconds=lifetime / 2))
                self._token = token
                self._refresh_at = now + timedelta(seconds=lifetime) - margin
            return self._token

    def invalidate(self, token: str) -> None:
        """Drop `token` after the API refused it (unless another thread has replaced it already)."""
        with self._lock:
            if self._token == token:
                self._token = None


def check_errcode(answer: Any, label: str) -> dict[str, Any]:
    """The answer as a dict when its errcode is 0 (or absent); otherwise the matching ProviderError."""
    if not isinstance(answer, dict):
        raise TransientError(f"{label} answered {type(answer).__name__}, not an object")
    errcode = answer.get("errcode", 0)
    if errcode == 0:
        return answer
    failure = f"{label} errcode {errcode}: {answer.get('errmsg', '')}"
    # A token refused even after a refresh usually means another server fetched a newer one (which revokes
    # ours): a later attempt will fetch again.
    if errcode in TRANSIENT_ERRCODES or errcode in TOKEN_ERRCODES:
        raise TransientError(failure)
    raise PermanentError(failure)


class _WeixinApi:
    """An API behind an access token: fetches it, posts with it, and retries once when it was refused."""

    def __init__(
        self,
        client: httpx.Client,
        clock: Clock,
        *,
        label: str,
        token_url: str,
        token_params: dict[str, str],
        timeout: float,
    ) -> None:
        self._client = client
        self._label = label
        self._token_url = token_url
        self._token_params = token_params
        self._timeout = timeout
        self.tokens = TokenCache(self._fetch_token, clock)

    def _fetch_token(self) -> tuple[str, float]:
        answer = check_errcode(
            request_json(
                self._client, "GET", self._token_url, params=self._token_params, timeout=self._timeout
            ),
            f"{self._label} token",
        )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise TransientError(f"{self._label} token answer has no access_token")
        return token, float(answer.get("expires_in", 7200))

    def post(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Post `payload` with the current token; on a refused token fetch a new one and post once more."""
        token = self.tokens.get()
        answer = self._post_with(url, payload, token)
        if isinstance(answer, dict) and answer.get("errcode") in TOKEN_ERRCODES:
            self.tokens.invalidate(token)
            answer = self._post_with(url, payload, self.tokens.get())
        return check_errcode(answer, self._label)

    def _post_with(self, url: str, payload: dict[str, Any], token: str) -> Any:
        return post_json(self._client, url, payload, params={"access_token": token}, timeout=self._timeout)


class WechatConfig(ProviderConfig):
    """A WeChat Official Account: its appid and secret, and the API base (a local one in tests)."""

    provider: Literal["wechat_mp"] = "wechat_mp"
    appid: str
    secret: str
    api_base: str = "https://api.weixin.qq.com"


class WechatTemplateProvider:
    """Sends Official Account template messages to a customer's openid; reads TEMPLATESENDJOBFINISH events."""

    kind = "wechat_mp"

    def __init__(self, config: WechatConfig, client: httpx.Client, clock: Clock) -> None:
        self.config = config
        self.rate_per_second = config.rate_per_second
        self.burst = config.burst
        base = config.api_base.rstrip("/")
        self._send_url = f"{base}/cgi-bin/message/template/send"
        self._api = _WeixinApi(
            client,
            clock,
            label="wechat",
            token_url=f"{base}/cgi-bin/token",
            token_params={"grant_type": "client_credential", "appid": config.appid, "secret": config.secret},
            timeout=config.timeout_seconds,
        )

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        """Send one template message; `client_msg_id` carries the idempotency key so WeChat drops repeats."""
        del context
        if not message.address:
            raise PermanentError("no WeChat openid for this customer")
        if not message.provider_template_id:
            raise PermanentError(f"template {message.template!r} has no WeChat template id")
        payload: dict[str, Any] = {
            "touser": message.address,
            "template_id": message.provider_template_id,
            "data": {name: {"value": value} for name, value in message.params.items()},
            "client_msg_id": message.key,
        }
        if message.url is not None:
            payload["url"] = message.url
        answer = self._api.post(self._send_url, payload)
        message_id = as_id(answer.get("msgid"))
        return Delivery(provider_message_id=message_id, detail=f"wechat template sent, msgid={message_id}")

    def parse_receipt(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """Read the XML event push; a TEMPLATESENDJOBFINISH event gives one receipt, anything else none."""
        del headers
        root = _parse_xml(body)
        if root.find("Encrypt") is not None:
            raise ReceiptError(
                "encrypted callback (安全模式): configure the account's plaintext or compatible mode"
            )
        if _text(root, "MsgType") != "event" or _text(root, "Event") != "TEMPLATESENDJOBFINISH":
            return []
        message_id = _text(root, "MsgID") or _text(root, "MsgId")
        status = _text(root, "Status")
        if not message_id or not status:
            raise ReceiptError("TEMPLATESENDJOBFINISH without MsgID or Status")
        created = _text(root, "CreateTime")
        at = None
        if created:
            if not created.isdigit():
                raise ReceiptError(f"unreadable CreateTime {created!r}")
            at = datetime.fromtimestamp(int(created), UTC)
        if status == "success":
            return [Receipt(status="delivered", provider_message_id=message_id, at=at)]
        if status.startswith("failed"):
            reason = status.removeprefix("failed").lstrip(": ").strip() or "failed"
            return [Receipt(status="failed", provider_message_id=message_id, at=at, reason=reason)]
        raise ReceiptError(f"unknown template send status {status!r}")


def _parse_xml(body: bytes) -> Element:
    # defusedxml: the callback URL is public; entity expansion and external entities must not reach a parser.
    try:
        return fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise ReceiptError(f"callback body is not acceptable XML: {exc}") from exc


def _text(root: Element, tag: str) -> str:
    node = root.find(tag)
    return (node.text or "").strip() if node is not None else ""


class WecomConfig(ProviderConfig):
    """A WeCom (企业微信) self-built app: corp id, the app's secret and agent id, and the API base."""

    provider: Literal["wecom"] = "wecom"
    corpid: str
    corpsecret: str
    agentid: int
    api_base: str = "https://qyapi.weixin.qq.com"


class WecomProvider:
    """Sends WeCom app text messages to an advisor's WeCom user id. WeCom sends no receipts."""

    kind = "wecom"

    def __init__(self, config: WecomConfig, client: httpx.Client, clock: Clock) -> None:
        self.config = config
        self.rate_per_second = config.rate_per_second
        self.burst = config.burst
        base = config.api_base.rstrip("/")
        self._send_url = f"{base}/cgi-bin/message/send"
        self._api = _WeixinApi(
            client,
            clock,
            label="wecom",
            token_url=f"{base}/cgi-bin/gettoken",
            token_params={"corpid": config.corpid, "corpsecret": config.corpsecret},
            timeout=config.timeout_seconds,
        )

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        """Send one text message; WeCom's duplicate check drops the same text repeated within 30 minutes."""
        del context
        if not message.address:
            raise PermanentError("no WeCom user id for this advisor")
        content = f"{message.title}\n{message.body}" if message.title else message.body
        payload = {
            "touser": message.address,
            "msgtype": "text",
            "agentid": self.config.agentid,
            "text": {"content": content},
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800,
        }
        answer = self._api.post(self._send_url, payload)
        # WeCom answers errcode 0 even when it could not reach the user, and names them in `invaliduser`.
        if answer.get("invaliduser"):
            raise PermanentError(f"wecom user {answer['invaliduser']} is invalid or outside the app's scope")
        message_id = as_id(answer.get("msgid"))
        return Delivery(provider_message_id=message_id, detail=f"wecom message sent, msgid={message_id}")

    def parse_receipt(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """WeCom has no delivery callbacks: always empty."""
        return no_receipts(body, headers)
