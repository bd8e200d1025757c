"""Security headers on every answer; CORS only on the collector's browser endpoints (issue 15, item 9)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from touchpoint.api.app import create_app
from touchpoint.bootstrap import Container

SITE = "https://m.broker.example"
PREFLIGHT = {"Origin": SITE, "Access-Control-Request-Method": "POST"}


@pytest.fixture
def client(sqlite_container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_container)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/status", "/no/such/path"])
def test_data_answers_forbid_sniffing_framing_and_any_content(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_pages_load_only_their_own_scripts(client: TestClient) -> None:
    policy = client.get("/").headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


def test_the_api_docs_alone_may_run_their_inline_start_script(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        policy = client.get(path).headers["content-security-policy"]
        assert "script-src 'self' 'unsafe-inline'" in policy
        assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("path", ["/sa", "/api/v1/events", "/v1/batch", "/batch/", "/i/v0/e/"])
def test_browser_sdk_endpoints_answer_cors_without_credentials(client: TestClient, path: str) -> None:
    preflight = client.options(path, headers=PREFLIGHT)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers


@pytest.mark.parametrize(
    "path", ["/api/v1/segments/preview", "/api/v1/auth/sign-in", "/api/v1/collector/stats", "/metrics"]
)
def test_no_other_path_answers_cors(client: TestClient, path: str) -> None:
    preflight = client.options(path, headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers
    simple = client.get(path, headers={"Origin": SITE})
    assert "access-control-allow-origin" not in simple.headers


def test_configured_origins_limit_the_collector_cors(tmp_path_factory: pytest.TempPathFactory) -> None:
    from touchpoint.bootstrap import build
    from touchpoint.config import load_settings

    home = tmp_path_factory.mktemp("cors")
    container = build(load_settings(home, collector_cors_origins=[SITE]))
    try:
        with TestClient(create_app(container)) as client:
            allowed = client.options("/sa", headers=PREFLIGHT)
            assert allowed.headers["access-control-allow-origin"] == SITE
            other = client.options("/sa", headers={**PREFLIGHT, "Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in other.headers
    finally:
        container.close()
