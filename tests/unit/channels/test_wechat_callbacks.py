"""WeChat calls the server URL with its own signature: the URL check (echostr) and event pushes are accepted
only when signed with the configured token; other callers need the token itself."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from support import api_client
from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock

TOKEN = "wechat-token-0123456789"
URL = "/api/v1/channels/wechat/receipts"
EVENT = (
    "<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1774900000</CreateTime>"
    "<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgID>200163836</MsgID>"
    "<Status>success</Status></xml>"
)


NOW = datetime(2026, 3, 31, 2, tzinfo=UTC)


def _signed(
    timestamp: str = str(int(NOW.timestamp())), nonce: str = "n42", token: str = TOKEN
) -> dict[str, str]:
    digest = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return {"signature": digest, "timestamp": timestamp, "nonce": nonce}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    wechat = {"provider": "wechat_mp", "appid": "wx1", "secret": "s", "receipt_token": TOKEN}
    container = build(load_settings(tmp_path / "home", channels={"wechat": wechat}), clock=VirtualClock(NOW))
    try:
        yield api_client(container)
    finally:
        container.close()


def test_the_url_check_echoes_only_for_the_right_signature(client: TestClient) -> None:
    answer = client.get(URL, params={**_signed(), "echostr": "hello-wechat"})
    assert (answer.status_code, answer.text) == (200, "hello-wechat")
    forged = client.get(URL, params={**_signed(token="guessed-token-000000"), "echostr": "x"})
    assert forged.status_code == 401
    assert "signature does not match" in forged.json()["error"]["message"]
    stale = _signed(timestamp=str(int(NOW.timestamp()) - 600))  # a captured URL replayed ten minutes on
    assert client.get(URL, params={**stale, "echostr": "x"}).status_code == 401


def test_event_pushes_need_the_signature_or_the_token(client: TestClient) -> None:
    signed = client.post(URL, params=_signed(), content=EVENT.encode())
    assert (signed.status_code, signed.text) == (200, "success")  # what WeChat wants to read back
    assert client.post(URL, content=EVENT.encode()).status_code == 401
    assert client.post(URL, params={"token": TOKEN}, content=EVENT.encode()).status_code == 200
    unconfigured = client.post("/api/v1/channels/sms/receipts", params={"token": TOKEN}, content=b"[]")
    assert unconfigured.status_code == 401
    assert "channels.sms.receipt_token" in unconfigured.json()["error"]["message"]
