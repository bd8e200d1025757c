"""The console (web/, built by `make web` into the package's `console/` folder) served at `/`.

Every asset comes from the package itself: a brokerage intranet has no internet. The single-page app routes in
the browser, so each of its sections answers with the same index page; a deep link such as
`/customers/C1000001` opens the console there. Without a build, `/` says how to make one.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from touchpoint.api.deps import public

SECTIONS = (
    "sign-in",
    "account",
    "overview",
    "customers",
    "catalog",
    "segments",
    "analytics",
    "journeys",
    "content",
    "mot",
    "workbench",
    "approvals",
    "kpi",
    "system",
)
"""The console's top-level routes (web/src/app/routes.tsx): each serves the index page."""

CONSOLE_PAGE = public("the console's page (its data comes from the signed-in API)")
NO_STORE = {"Cache-Control": "no-cache"}


def console_dir() -> Path:
    """Where the built console lies inside the package (it may not have been built)."""
    return Path(str(files("touchpoint") / "console"))


def mount_console(app: FastAPI, root: Path | None = None) -> None:
    """Serve the built console at `/` and its sections, or, without a build, a page saying how to build it."""
    built = root or console_dir()
    index = built / "index.html"
    if not index.is_file():
        app.add_api_route(
            "/", _unbuilt, include_in_schema=False, response_class=HTMLResponse, dependencies=[CONSOLE_PAGE]
        )
        return
    app.mount("/assets", StaticFiles(directory=built / "assets"), name="console-assets")
    icon = built / "favicon.svg"

    def favicon() -> FileResponse:
        return FileResponse(icon, media_type="image/svg+xml")

    if icon.is_file():
        app.add_api_route("/favicon.svg", favicon, include_in_schema=False, dependencies=[CONSOLE_PAGE])

    def page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=NO_STORE)

    for path in ("/", *(f"/{s}" for s in SECTIONS), *(f"/{s}/{{rest:path}}" for s in SECTIONS)):
        app.add_api_route(
            path, page, include_in_schema=False, response_class=HTMLResponse, dependencies=[CONSOLE_PAGE]
        )


def _unbuilt() -> str:
    return """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>Touchpoint</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>Touchpoint 客户旅程平台</h1>
<p>控制台尚未构建：运行 <code>make web</code>（需要 Node 20+）。
The console is not built yet: run <code>make web</code> (needs Node 20+).</p>
<ul>
<li><a href="/docs">API 文档 · API docs (OpenAPI)</a></li>
<li><a href="/healthz">健康检查 · Health</a></li>
</ul></body></html>"""
