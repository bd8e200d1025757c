"""The FastAPI application, built around a Container from the composition root."""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from touchpoint import __version__
from touchpoint.api.allow import AllowHeaderMiddleware
from touchpoint.api.console import mount_console
from touchpoint.api.deps import single_query_values
from touchpoint.api.docs import mount_docs
from touchpoint.api.errors import errors, install_error_handlers
from touchpoint.api.routes import (
    accounts,
    analytics,
    approvals,
    channels,
    collector,
    dead_letters,
    health,
    identity,
    imports,
    insight,
    journeys,
    moments,
    segments,
    status,
    tagging,
)
from touchpoint.api.security import CollectorCorsMiddleware, SecurityHeadersMiddleware
from touchpoint.bootstrap import Container


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Move what start-up built (modules, SQLAlchemy, pydantic: ~300k objects) out of the garbage collector's
    full passes: one pass over them, triggered by the objects a large batch allocates, held the GIL for up
    to 1.3 s on a loaded machine and stalled every request of the process. At the end, the collector's
    writer stores what it holds before the process exits."""
    gc.freeze()
    yield
    committer = getattr(app.state, "collector_committer", None)
    if committer is not None:
        await asyncio.to_thread(committer.close)


def mounted_routers(*, collector_only: bool = False) -> list[tuple[str, APIRouter]]:
    """Every router the app serves, with its prefix (the route-permission walk reads this list)."""
    sdk: list[tuple[str, APIRouter]] = [("", health.router), ("", collector.router)]
    if collector_only:
        return sdk
    api = [
        accounts.router,
        approvals.router,
        imports.router,
        collector.admin,
        dead_letters.router,
        status.router,
        identity.router,
        tagging.router,
        segments.router,
        insight.router,
        analytics.router,
        journeys.router,
        moments.router,
        channels.router,
    ]
    return [*sdk, *(("/api/v1", router) for router in api), ("", channels.public_links)]


def browser_collector_paths() -> list[re.Pattern[str]]:
    """The paths the web SDKs post events to (every collector route but the scrape and the stats)."""
    internal = {"/metrics", "/api/v1/collector/stats"}
    return [
        route.path_regex
        for route in collector.router.routes
        if isinstance(route, APIRoute) and route.path not in internal
    ]


def create_app(container: Container, *, collector_only: bool = False) -> FastAPI:
    """The API with every router mounted and errors mapped to statuses.

    `collector_only` serves just the SDK endpoints, /healthz and /metrics (`touchpoint collect`).
    """
    app = FastAPI(
        title="Touchpoint",
        version=__version__,
        description="券商客户数据与客户旅程平台 · Customer data and journeys for securities brokerages",
        responses=errors(422),
        docs_url=None,  # mount_docs serves /docs and /redoc from local assets (no CDN on an intranet)
        redoc_url=None,
        lifespan=_lifespan,
        dependencies=[Depends(single_query_values)],
    )
    mount_docs(app)
    app.state.container = container
    for prefix, router in mounted_routers(collector_only=collector_only):
        app.include_router(router, prefix=prefix)
    if not collector_only:
        mount_console(app)
    app.add_middleware(
        CollectorCorsMiddleware,
        paths=browser_collector_paths(),
        origins=container.settings.collector_cors_origins,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(AllowHeaderMiddleware)  # a 405 lists every method of the path
    install_error_handlers(app)
    _document_sign_in_errors(app)
    return app


def _document_sign_in_errors(app: FastAPI) -> None:
    """Every operation that needs sign-in can answer 401 (no or unknown credential) and 403 (no permission,
    a password to change first, a change without the session's CSRF token): say so once, here, in the
    document the console and the fuzzer read."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                if "security" in operation:
                    responses = operation.setdefault("responses", {})
                    for status, text in SIGN_IN_ERRORS.items():
                        responses.setdefault(str(status), {"description": text, "content": body})
        return document

    app.openapi = openapi  # type: ignore[method-assign]


SIGN_IN_ERRORS = {
    401: "Missing or unknown credential",
    403: "Not allowed: a missing permission, a password to change first, or no CSRF token",
}
