"""/docs and /redoc work with no internet: every asset they load is served by Touchpoint itself
(issue 14, item 9 — a brokerage intranet reaches no CDN)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from support import api_client
from touchpoint.api.app import create_app
from touchpoint.bootstrap import Container

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.fixture
def client(sqlite_container: Container) -> Iterator[TestClient]:
    with api_client(sqlite_container) as test_client:
        yield test_client


def _referenced(html: str) -> list[str]:
    return [a or b for a, b in ASSET.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_nothing_from_outside(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"https?://", html), re.findall(r"https?://\S+", html)
    urls = _referenced(html)
    assert any(url.endswith(".js") for url in urls), urls
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_swagger_page_points_at_the_openapi_document(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "'/openapi.json'" in html or '"/openapi.json"' in html
    assert client.get("/openapi.json").status_code == 200


def test_collector_only_app_serves_the_docs_too(sqlite_container: Container) -> None:
    with TestClient(create_app(sqlite_container, collector_only=True)) as test_client:
        html = test_client.get("/docs").text
        assert not re.search(r"https?://", html)
        for url in _referenced(html):
            assert test_client.get(url).status_code == 200, url
