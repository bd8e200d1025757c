"""A 405 answer names every method the path takes, not only those of the first route that matched it.

Starlette stops at the first route whose path matches and answers 405 with that route's methods, so
`PATCH /api/v1/tags/x` said `Allow: GET` although PUT and DELETE exist on the same path (RFC 9110 §15.5.6:
Allow lists the methods the target resource supports). This middleware rewrites the header of a 405 with
the union over every route of the path.
"""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CANDIDATES = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


class AllowHeaderMiddleware:
    """Completes the `Allow` header of 405 answers from every route that matches the path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; on a 405, list every method of the path in `Allow`."""
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
    """The methods some route of the app takes on the request's path, sorted (each tried as a full match:
    included routers answer `matches` for their own routes)."""
    routes = getattr(scope.get("app"), "routes", [])
    return [
        method
        for method in _CANDIDATES
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)
    ]
