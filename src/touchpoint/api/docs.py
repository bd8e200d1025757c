"""The interactive API docs (/docs: Swagger UI, /redoc: ReDoc) served with no internet access.

FastAPI's default pages load their JavaScript, CSS, favicon and fonts from public CDNs, which a brokerage
intranet cannot reach: the pages stay blank. The assets come instead from the `fastapi-offline` package
(Swagger UI 5 and ReDoc, both able to render OpenAPI 3.1) and are served by this application.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from touchpoint.api.deps import public

ASSETS_URL = "/docs-assets"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"


DOCUMENTATION = public("the API documentation (the document itself is public)")


def mount_docs(app: FastAPI, *, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve the assets under ASSETS_URL and the two pages pointing at them.

    Build `app` with `docs_url=None, redoc_url=None` so that FastAPI's CDN pages are not registered."""
    assets = str(files("fastapi_offline") / "static")
    app.mount(ASSETS_URL, StaticFiles(directory=assets), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui(request: Request) -> HTMLResponse:
        base = _assets_base(request)
        return get_swagger_ui_html(
            openapi_url=_root(request) + openapi_url,
            title=f"{app.title} — API docs",
            swagger_js_url=f"{base}/{SWAGGER_JS}",
            swagger_css_url=f"{base}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{base}/{FAVICON}",
        )

    async def redoc(request: Request) -> HTMLResponse:
        base = _assets_base(request)
        return get_redoc_html(
            openapi_url=_root(request) + openapi_url,
            title=f"{app.title} — ReDoc",
            redoc_js_url=f"{base}/{REDOC_JS}",
            redoc_favicon_url=f"{base}/{FAVICON}",
            with_google_fonts=False,  # fonts.googleapis.com is out of reach too; the page uses system fonts
        )

    app.add_api_route(
        docs_url,
        swagger_ui,
        include_in_schema=False,
        response_class=HTMLResponse,
        dependencies=[DOCUMENTATION],
    )
    app.add_api_route(
        redoc_url, redoc, include_in_schema=False, response_class=HTMLResponse, dependencies=[DOCUMENTATION]
    )


def _root(request: Request) -> str:
    """The path prefix the app is mounted under behind a proxy (empty when served at /)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _assets_base(request: Request) -> str:
    return _root(request) + ASSETS_URL
