"""Security headers on every answer, and CORS only where browsers post events from other sites.

- Every answer: `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, `X-Frame-Options: DENY` and
  a Content-Security-Policy with `frame-ancestors 'none'` (no page of ours inside someone else's frame).
  JSON and text get `default-src 'none'`; HTML pages (the console, the API docs) may load their own scripts,
  styles and images only. The API docs' pages start Swagger UI and ReDoc with an inline script, so those two
  paths alone also allow inline scripts and ReDoc's blob worker.
- CORS: the web SDKs (Sensors, Segment, PostHog) post events from the brokerage's own sites, on other origins,
  with an ingestion key and no cookie — those collector paths answer CORS for any origin, without
  credentials. No other path does: the console is served from the API's own origin, and a session cookie must
  never be usable from another site.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
CSP_DATA = b"default-src 'none'; frame-ancestors 'none'"
CSP_PAGE = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    b"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
CSP_DOCS = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    b"base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP answer (an answer that set its own keeps it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on and add the headers to the answer's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with_security(message.get("headers", []), scope["path"])}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_security(headers: Iterable[tuple[bytes, bytes]], path: str) -> list[tuple[bytes, bytes]]:
    present = list(headers)
    names = {name.lower() for name, _ in present}
    content_type = next((v for k, v in present if k.lower() == b"content-type"), b"")
    if path in DOCS_PATHS:
        policy = CSP_DOCS
    elif content_type.startswith(b"text/html"):
        policy = CSP_PAGE
    else:
        policy = CSP_DATA
    added = [(k, v) for k, v in (*BASE_HEADERS, (b"content-security-policy", policy)) if k not in names]
    return [*present, *added]


class CollectorCorsMiddleware:
    """CORS for the collector's browser endpoints only; every other path passes through untouched."""

    def __init__(self, app: ASGIApp, *, paths: Iterable[re.Pattern[str]], origins: list[str]) -> None:
        self.app = app
        self.paths = tuple(paths)
        self.cors = CORSMiddleware(
            app, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"], max_age=600
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer CORS on a collector path; pass anything else on as it is."""
        if scope["type"] == "http" and any(p.fullmatch(scope["path"]) for p in self.paths):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
