"""Real local servers that play the channel gateways, for provider tests and benchmarks.

`FakeGateway` is one HTTP server for every HTTP provider (push, SMS, webhook, WeChat, WeCom): it records each
request, answers from a per-path script, and, like a real gateway, takes a repeated idempotency key as the
same message. `FakeSmtp` is an SMTP relay with STARTTLS (a certificate made at start) and AUTH.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import orjson
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from touchpoint.channels.providers.base import OutboundMessage

TOKEN_PATHS = frozenset({"/cgi-bin/token", "/cgi-bin/gettoken"})
WEIXIN_SEND_PATHS = frozenset({"/cgi-bin/message/template/send", "/cgi-bin/message/send"})
_BODY_KEYS = ("client_msg_id", "out_id")


def message(**changes: Any) -> OutboundMessage:
    """An outbound message with plausible defaults; keyword arguments replace fields."""
    base = OutboundMessage(
        key="k-0001",
        channel="push",
        customer_no="C0001",
        address="alias-0001",
        title="持仓提醒",
        body="您关注的贵州茅台今日涨幅超过5%",
        marketing=False,
        template="price_alert",
        template_version=1,
    )
    return replace(base, **changes)


def closed_port() -> int:
    """A local port with nothing listening on it (bound, then released), for "gateway down" tests."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class Request:
    """One request as the gateway saw it; header names are lower case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any

    @property
    def key(self) -> str | None:
        """The idempotency key: the header, else WeChat's client_msg_id or the SMS out_id in the body."""
        if "idempotency-key" in self.headers:
            return self.headers["idempotency-key"]
        if isinstance(self.json, dict):
            for name in _BODY_KEYS:
                if self.json.get(name):
                    return str(self.json[name])
        return None


@dataclass(frozen=True)
class Reply:
    """A scripted answer. `json` None means the path's usual answer; `raw` is sent as-is (malformed JSON)."""

    status: int = 200
    json: Any = None
    delay: float = 0.0
    raw: bytes | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops connections in concurrency tests, which then look like time-outs.
    request_queue_size = 128
    gateway: FakeGateway


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            json=parsed,
        )
        status, content, delay = self.server.gateway._answer(request)
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except OSError:
            pass  # the client gave up waiting (a time-out test): nobody is left to answer

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeGateway:
    """An HTTP gateway on 127.0.0.1 (an ephemeral port), used as a context manager.

    `default(path, json)` sets a path's usual answer and `script(path, Reply(...), ...)` queues answers that
    are used first, in order. Without either, a path answers `{"code": "OK", "msg_id", "biz_id", "id"}` with
    fresh ids. The WeChat/WeCom token paths issue tokens (`expire_tokens()` revokes them, so the next send
    gets errcode 40001), and their send paths answer errcode 0 with a fresh `msgid`.

    A request whose key was already accepted gets the first answer again and is no new delivery:
    `requests` holds every request, `deliveries()` each accepted key once, in order.
    """

    def __init__(self, token_lifetime: int = 7200) -> None:
        self.token_lifetime = token_lifetime
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._defaults: dict[str, tuple[int, Any]] = {}
        self._scripts: dict[str, deque[Reply]] = {}
        self._accepted: dict[str, tuple[int, bytes]] = {}
        self._deliveries: list[str] = []
        self._tokens: set[str] = set()
        self._counter = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.gateway = self
        # A short poll interval: leaving the context waits for the serving loop to notice.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:50123."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url_for(self, path: str) -> str:
        """The full URL of `path`."""
        return self.url + path

    def default(self, path: str, json: Any, status: int = 200) -> None:
        """Answer `path` with this JSON whenever no scripted reply is queued."""
        with self._lock:
            self._defaults[path] = (status, json)

    def script(self, path: str, *replies: Reply) -> None:
        """Queue replies for `path`, each used once, in order, before the default answer."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def expire_tokens(self) -> None:
        """Revoke every token issued so far, as WeChat does when a token times out or another is fetched."""
        with self._lock:
            self._tokens.clear()

    @property
    def requests(self) -> list[Request]:
        """Every request received, repeats included, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[Request]:
        """The requests received on `path`."""
        return [request for request in self.requests if request.path == path]

    def deliveries(self) -> list[str]:
        """The keys accepted with a 2xx (and errcode 0 / code OK), each once, in order of acceptance."""
        with self._lock:
            return list(self._deliveries)

    def delivered_keys(self) -> set[str]:
        """The distinct keys accepted."""
        return set(self.deliveries())

    def _answer(self, request: Request) -> tuple[int, bytes, float]:
        with self._lock:
            self._requests.append(request)
            self._counter += 1
            n = self._counter
            if request.path in TOKEN_PATHS and not self._scripts.get(request.path):
                token = f"token-{n}"
                self._tokens.add(token)
                return 200, orjson.dumps({"access_token": token, "expires_in": self.token_lifetime}), 0.0
            weixin = request.path in WEIXIN_SEND_PATHS
            if weixin and request.query.get("access_token") not in self._tokens:
                stale = {
                    "errcode": 40001,
                    "errmsg": "invalid credential, access_token is invalid or not latest",
                }
                return 200, orjson.dumps(stale), 0.0
            key = request.key
            if key is not None and key in self._accepted:
                status, content = self._accepted[key]
                return status, content, 0.0
            queue = self._scripts.get(request.path)
            reply = queue.popleft() if queue else Reply()
            if reply.raw is not None:
                return reply.status, reply.raw, reply.delay
            status, json = reply.status, reply.json
            if json is None:
                status, json = self._defaults.get(request.path, (status, None))
            if json is None:
                json = (
                    {"errcode": 0, "errmsg": "ok", "msgid": 1000 + n}
                    if weixin
                    else {"code": "OK", "msg_id": f"msg-{n}", "biz_id": f"biz-{n}", "id": f"id-{n}"}
                )
            content = orjson.dumps(json)
            if key is not None and _accepted(status, json):
                self._accepted[key] = (status, content)
                self._deliveries.append(key)
            return status, content, reply.delay


def _accepted(status: int, json: Any) -> bool:
    if not 200 <= status < 300:
        return False
    if isinstance(json, dict):
        return bool(json.get("errcode", 0) == 0 and json.get("code", "OK") == "OK")
    return True


@dataclass(frozen=True)
class ReceivedMail:
    """One message the relay took: the envelope, the parsed email, who logged in and whether TLS was on."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None
    tls: bool


@dataclass
class _MailHandler:
    refusals: dict[str, str] = field(default_factory=dict)
    received: list[ReceivedMail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            refusal = self.refusals.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        # Line ends as a reader sees them, not as SMTP carries them.
        parsed = email.message_from_bytes(content.replace(b"\r\n", b"\n"), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            message=parsed,
            login=session.auth_data if isinstance(session.auth_data, str) else None,
            tls=session.ssl is not None,
        )
        with self.lock:
            self.received.append(mail)
        return "250 Message accepted for delivery"


class _EphemeralController(Controller):
    """aiosmtpd's Controller, bound to port 0: the real port is read back before the start-up probe."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class FakeSmtp:
    """An SMTP relay on 127.0.0.1 that requires STARTTLS and AUTH (LOGIN or PLAIN) as USER/PASSWORD.

    `cert_path` is the PEM of its self-signed certificate, for the client's `ca_file`. `refuse(address,
    "550 ...")` scripts the answer to RCPT TO for an address; `messages` are the emails taken.
    """

    USER = "touchpoint"
    PASSWORD = "relay-pass-2026"

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="fake-smtp-")
        self.cert_path = str(Path(self._dir.name) / "cert.pem")
        key_path = str(Path(self._dir.name) / "key.pem")
        _self_signed(self.cert_path, key_path)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.cert_path, key_path)
        self._handler = _MailHandler()
        self._controller = _EphemeralController(
            self._handler,
            hostname="127.0.0.1",
            port=0,
            tls_context=tls,
            require_starttls=True,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=True,
        )
        self.host = "127.0.0.1"

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()
        self._dir.cleanup()

    @property
    def port(self) -> int:
        """The port it listens on (known once started)."""
        port: int = self._controller.port
        return port

    def refuse(self, address: str, reply: str = "550 5.1.1 Mailbox unavailable") -> None:
        """Answer RCPT TO for `address` with `reply` (a 4xx or 5xx line) instead of accepting it."""
        with self._handler.lock:
            self._handler.refusals[address] = reply

    @property
    def messages(self) -> list[ReceivedMail]:
        """The emails received so far."""
        with self._handler.lock:
            return list(self._handler.received)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.USER.encode()
            and auth_data.password == self.PASSWORD.encode()
        ):
            return AuthResult(success=True, auth_data=self.USER)
        return AuthResult(success=False, handled=False)


def _self_signed(cert_path: str, key_path: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "touchpoint test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    Path(cert_path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(key_path).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
