"""A 405 answer names the methods of the path, as the OpenAPI document lists them.

Starlette answers 405 with the methods of the first route whose path matched, so `PATCH /api/v1/tags/x` said
`Allow: GET` although PUT and DELETE exist on the same path (RFC 9110 §15.5.6: Allow lists the methods the
target resource supports). This middleware rewrites the header of a 405 with every method the document gives
the request's path: the literal path when there is one (`/tags/tree`), else the first template that matches
it (`/tags/{name}`), in the routes' order — the route Starlette itself would pick.
"""

from __future__ import annotations

import re
from functools import cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_METHODS = ("delete", "get", "head", "options", "patch", "post", "put", "trace")


class AllowHeaderMiddleware:
    """Completes the `Allow` header of 405 answers from the app's OpenAPI document."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; on a 405, list the methods of the path in `Allow`."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = allowed_methods(scope)
                if methods:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", ", ".join(methods).encode())]}
            await send(message)

        await self.app(scope, receive, send_with_allow)


def allowed_methods(scope: Scope) -> list[str]:
    """The methods the OpenAPI document gives the request's path, sorted; [] for an undocumented path."""
    app = scope.get("app")
    openapi = getattr(app, "openapi", None)
    if openapi is None:
        return []
    paths: dict[str, dict[str, object]] = openapi().get("paths", {})
    path = scope["path"]
    template = path if path in paths else next((t for t in paths if _pattern(t).fullmatch(path)), None)
    if template is None:
        return []
    return sorted(method.upper() for method in paths[template] if method in _METHODS)


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """`/tags/{name}` as a regular expression: a parameter is one path segment (`{x:path}` any rest)."""
    parts = re.split(r"(\{[^}]*\})", template)
    return re.compile(
        "".join(
            (".+" if part.endswith(":path}") else "[^/]+") if part.startswith("{") else re.escape(part)
            for part in parts
        )
    )
