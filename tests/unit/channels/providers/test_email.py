"""The SMTP provider against a real local relay with STARTTLS and AUTH."""

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from provider_servers import FakeSmtp, closed_port, message
from touchpoint.channels.providers.base import OutboundMessage, PermanentError, SendContext, TransientError
from touchpoint.channels.providers.email import SmtpConfig, SmtpProvider, message_id

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CONTEXT = SendContext(now=START)


@pytest.fixture(scope="module")
def relay() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


def smtp(relay: FakeSmtp, **settings: Any) -> SmtpProvider:
    config: dict[str, Any] = {
        "host": relay.host,
        "port": relay.port,
        "username": FakeSmtp.USER,
        "password": FakeSmtp.PASSWORD,
        "ca_file": relay.cert_path,
        "from_address": "noreply@demo-sec.cn",
        "from_name": "演示证券",
        "timeout_seconds": 2,
    }
    return SmtpProvider(SmtpConfig.model_validate({**config, **settings}))


def mail(**changes: Any) -> OutboundMessage:
    defaults: dict[str, Any] = {
        "channel": "email",
        "address": "zhang.san@example.com",
        "title": "三月投资策略月报",
        "body": "尊敬的客户：\n本月策略月报已发布，请登录App查看。",
        "marketing": True,
        "metadata": {"unsubscribe_url": "https://m.demo-sec.cn/unsubscribe?t=abc"},
    }
    return message(**{**defaults, **changes})


def received_with_key(relay: FakeSmtp, key: str) -> Any:
    (found,) = [m for m in relay.messages if m.message["Message-ID"] == message_id(key)]
    return found


def test_mail_arrives_over_starttls_with_auth(relay: FakeSmtp) -> None:
    provider = smtp(relay, rate_per_second=5)
    delivery = provider.send(mail(key="e-1"), CONTEXT)

    got = received_with_key(relay, "e-1")
    assert got.tls is True
    assert got.login == FakeSmtp.USER
    assert (got.mail_from, got.rcpt_tos) == ("noreply@demo-sec.cn", ["zhang.san@example.com"])
    email = got.message
    assert email["Subject"] == "三月投资策略月报"
    assert email["Message-ID"] == "<e-1@touchpoint>"
    assert email["List-Unsubscribe"] == "<https://m.demo-sec.cn/unsubscribe?t=abc>"
    assert email["From"].addresses[0].display_name == "演示证券"
    assert email["From"].addresses[0].addr_spec == "noreply@demo-sec.cn"
    assert email["To"] == "zhang.san@example.com"
    assert email["Date"].datetime == START
    assert email.get_content_type() == "text/plain"
    assert email.get_content().strip() == "尊敬的客户：\n本月策略月报已发布，请登录App查看。"
    assert delivery.provider_message_id == "<e-1@touchpoint>"
    assert (provider.kind, provider.rate_per_second, provider.burst) == ("smtp", 5, 10)
    assert provider.parse_receipt(b"", {}) == []


def test_html_body_gets_a_text_alternative(relay: FakeSmtp) -> None:
    html = "<html><body><h1>月报</h1><p>涨幅 &gt; 5% 的持仓：<b>贵州茅台</b></p></body></html>"
    smtp(relay).send(mail(key="e-html", body=html, metadata={}), CONTEXT)
    email = received_with_key(relay, "e-html").message
    assert email.get_content_type() == "multipart/alternative"
    plain, rich = email.iter_parts()
    assert plain.get_content().strip() == "月报\n\n涨幅 > 5% 的持仓：贵州茅台"
    assert rich.get_content_type() == "text/html"
    assert "<b>贵州茅台</b>" in rich.get_content()
    assert "List-Unsubscribe" not in email

    smtp(relay).send(mail(key="e-lt", body="回撤 < 5%，无需操作"), CONTEXT)
    assert received_with_key(relay, "e-lt").message.get_content_type() == "text/plain"


def test_message_id_keeps_keys_distinct() -> None:
    assert message_id("run:42/step 3") == "<run%3A42%2Fstep%203@touchpoint>"
    assert message_id("a%3Ab") != message_id("a:b")


@pytest.mark.parametrize(
    ("reply", "error", "pattern"),
    [
        ("550 5.1.1 Mailbox unavailable", PermanentError, "SMTP 550"),
        ("452 4.2.2 Mailbox full, try later", TransientError, "SMTP 452"),
    ],
)
def test_refused_recipient(relay: FakeSmtp, reply: str, error: type[Exception], pattern: str) -> None:
    relay.refuse(f"{reply[:3]}@example.com", reply)
    with pytest.raises(error, match=pattern):
        smtp(relay).send(mail(key=f"r-{reply[:3]}", address=f"{reply[:3]}@example.com"), CONTEXT)


def test_wrong_password_is_permanent(relay: FakeSmtp) -> None:
    with pytest.raises(PermanentError, match="SMTP 535"):
        smtp(relay, password="wrong").send(mail(key="bad-pass"), CONTEXT)


def test_untrusted_certificate_is_permanent_unless_verification_is_off(relay: FakeSmtp) -> None:
    with pytest.raises(PermanentError, match="not trusted"):
        smtp(relay, ca_file=None).send(mail(key="untrusted"), CONTEXT)
    smtp(relay, ca_file=None, verify_tls=False).send(mail(key="unverified"), CONTEXT)
    assert received_with_key(relay, "unverified").tls is True


def test_without_starttls_the_relay_refuses_auth(relay: FakeSmtp) -> None:
    with pytest.raises(PermanentError, match="does not support"):
        smtp(relay, starttls=False).send(mail(key="plain"), CONTEXT)


def test_down_or_silent_server_is_transient() -> None:
    config = SmtpConfig(host="127.0.0.1", port=closed_port(), from_address="noreply@demo-sec.cn")
    with pytest.raises(TransientError, match="ConnectionRefused"):
        SmtpProvider(config).send(mail(), CONTEXT)

    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        config = SmtpConfig(
            host="127.0.0.1",
            port=silent.getsockname()[1],
            from_address="noreply@demo-sec.cn",
            timeout_seconds=0.3,
        )
        with pytest.raises(TransientError, match="timed out"):
            SmtpProvider(config).send(mail(), CONTEXT)


def test_bad_addresses_and_credentials(relay: FakeSmtp) -> None:
    with pytest.raises(PermanentError, match="no email address"):
        smtp(relay).send(mail(address=None), CONTEXT)
    with pytest.raises(PermanentError, match="not an email address"):
        smtp(relay).send(mail(address="zhang.san@example.com\r\nBcc: all@example.com"), CONTEXT)
    with pytest.raises(ValidationError, match="ASCII"):
        SmtpConfig(host="h", from_address="a@b.cn", username="u", password="密码")
