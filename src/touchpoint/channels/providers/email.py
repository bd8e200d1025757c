"""Email through an SMTP relay (the brokerage's own, or a mail service's submission port): STARTTLS, AUTH,
and a Message-ID made from the idempotency key so that a repeat can be recognised downstream."""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from touchpoint.channels.providers.base import (
    Delivery,
    OutboundMessage,
    PermanentError,
    ProviderConfig,
    Receipt,
    SendContext,
    TransientError,
    no_receipts,
)

_LOOKS_LIKE_HTML = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*|/[a-zA-Z]|!)[^>]*>")
# Characters kept as they are in the Message-ID's left part; everything else, '%' included, is
# percent-encoded, so the id stays valid and two different keys never give the same id.
_MESSAGE_ID_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+="
_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})


class SmtpConfig(ProviderConfig):
    """An SMTP relay: where it is, how to log in, how to check its certificate, and the sender."""

    provider: Literal["smtp"] = "smtp"
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    verify_tls: bool = True
    ca_file: str | None = None
    from_address: str
    from_name: str = ""

    @field_validator("username", "password")
    @classmethod
    def _ascii_credentials(cls, value: str | None) -> str | None:
        # smtplib encodes AUTH credentials as ASCII: anything else would fail on every send, so fail at load.
        if value is not None and not value.isascii():
            raise ValueError("SMTP credentials must be ASCII")
        return value


def message_id(key: str) -> str:
    """The Message-ID for an idempotency key: `<key@touchpoint>`, with unsafe characters percent-encoded."""
    return f"<{quote(key, safe=_MESSAGE_ID_SAFE)}@touchpoint>"


def looks_like_html(body: str) -> bool:
    """Whether the body carries HTML tags (a bare "<" as in "涨幅 < 5%" does not count)."""
    return _LOOKS_LIKE_HTML.search(body) is not None


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(body: str) -> str:
    """A readable plain-text version of an HTML body, for the text/plain part."""
    parser = _TextOfHtml()
    parser.feed(body)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class SmtpProvider:
    """Sends email through an SMTP relay, one connection per message. Email sends no receipts."""

    kind = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.rate_per_second = config.rate_per_second
        self.burst = config.burst

    def build(self, message: OutboundMessage, context: SendContext) -> EmailMessage:
        """The email for one message: subject, text (and HTML) body, Message-ID, List-Unsubscribe."""
        if not message.address:
            raise PermanentError("no email address for this customer")
        mail = EmailMessage()
        try:
            sender = Address(display_name=self.config.from_name, addr_spec=self.config.from_address)
            recipient = Address(addr_spec=message.address)
            mail["From"] = sender
            mail["To"] = recipient
        except (ValueError, IndexError) as exc:
            raise PermanentError(f"not an email address: {message.address!r} ({exc})") from exc
        # A line break in a header would end it early; the title is one line in every other channel too.
        mail["Subject"] = " ".join(message.title.split())
        mail["Date"] = format_datetime(context.now)
        mail["Message-ID"] = message_id(message.key)
        unsubscribe = message.metadata.get("unsubscribe_url")
        if unsubscribe:
            mail["List-Unsubscribe"] = f"<{' '.join(str(unsubscribe).split())}>"
        if looks_like_html(message.body):
            mail.set_content(html_to_text(message.body))
            mail.add_alternative(message.body, subtype="html")
        else:
            mail.set_content(message.body)
        return mail

    def send(self, message: OutboundMessage, context: SendContext) -> Delivery:
        """Hand one email to the relay; 4xx and network failures are transient, 5xx permanent."""
        mail = self.build(message, context)
        assert message.address is not None  # build() refused a missing one
        self._submit(mail, message.address)
        return Delivery(
            provider_message_id=str(mail["Message-ID"]),
            detail=f"accepted by {self.config.host}:{self.config.port}",
        )

    def parse_receipt(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """SMTP has no delivery callbacks: always empty."""
        return no_receipts(body, headers)

    def _tls_context(self) -> ssl.SSLContext:
        if not self.config.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.config.ca_file)

    def _submit(self, mail: EmailMessage, recipient: str) -> None:
        config = self.config
        try:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
            try:
                if config.starttls:
                    smtp.starttls(context=self._tls_context())
                if config.username:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(mail, from_addr=config.from_address, to_addrs=[recipient])
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b"refused"))
            raise _by_code(code, f"recipient {recipient} refused", reply) from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, type(exc).__name__, exc.smtp_error) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentError(f"{config.host}:{config.port} does not support this: {exc}") from exc
        except ssl.SSLCertVerificationError as exc:
            # Retrying cannot make an untrusted certificate trusted: the configuration has to change.
            raise PermanentError(
                f"TLS certificate of {config.host} not trusted: {exc.verify_message}"
            ) from exc
        except OSError as exc:  # smtplib's other errors, time-outs, refused connections, cut TLS handshakes
            raise TransientError(f"{config.host}:{config.port}: {type(exc).__name__}: {exc}") from exc
        # The message is accepted: a QUIT that fails must not turn it into a retried, duplicated one.
        try:
            smtp.quit()
        except OSError:
            smtp.close()


def _by_code(code: int, what: str, reply: bytes | str) -> TransientError | PermanentError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    failure = f"SMTP {code}: {what}: {text}"
    if 500 <= code < 600:
        return PermanentError(failure)
    return TransientError(failure)
