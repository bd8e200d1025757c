"""The peer for bench_collector: an ASGI endpoint that only reads the body and answers 200."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def swallow(request: Request) -> Response:
    """Read the whole body, store nothing."""
    await request.body()
    return Response(status_code=200)


async def health(_request: Request) -> Response:
    """Ready probe."""
    return Response(status_code=200)


app = Starlette(
    routes=[
        Route("/sa", swallow, methods=["POST"]),
        Route("/api/v1/events", swallow, methods=["POST"]),
        Route("/healthz", health),
    ]
)
