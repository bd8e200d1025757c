"""The HTTP API: health, import by upload, status."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from support import api_client
from touchpoint.bootstrap import Container

TRADES = (
    b"trade_id,customer_no,time,product_code,side,quantity,amount\n"
    b"T1,C1,2026-03-02 09:31:00,600000,buy,100,12.5\n"
)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with api_client(container) as test_client:
        yield test_client


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/import/{table}" in paths
    assert client.get("/docs").status_code == 200


def test_upload_import_and_status(client: TestClient) -> None:
    response = client.post("/api/v1/import/trades", files={"file": ("trades.csv", TRADES, "text/csv")})
    assert response.status_code == 200, response.text
    assert response.json()["rows_imported"] == 1
    again = client.post("/api/v1/import/trades", files={"file": ("other-name.csv", TRADES, "text/csv")})
    assert again.json()["status"] == "already_imported"
    status = client.get("/api/v1/status").json()
    assert status["tables"]["trades"]["rows"] == 1


def test_rejected_upload_is_422_with_the_report(client: TestClient) -> None:
    bad = TRADES.replace(b"12.5", b"twelve")
    response = client.post("/api/v1/import/trades", files={"file": ("t.csv", bad, "text/csv")})
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "invalid"
    assert body["error"]["report"]["errors"][0]["column"] == "amount"
    assert body["error"]["report"]["errors"][0]["row"] == 1
    assert client.get("/api/v1/status").json()["tables"]["trades"]["rows"] == 0


def test_unknown_table_is_400(client: TestClient) -> None:
    response = client.post("/api/v1/import/orders", files={"file": ("t.csv", TRADES, "text/csv")})
    assert response.status_code == 400
    assert "unknown table 'orders'" in response.json()["error"]["message"]


def test_snapshot_upload_takes_the_date_query(client: TestClient) -> None:
    body = b"customer_no,name,risk_level\nC1,\xe5\xbc\xa0\xe4\xb8\x89,C3\n"
    response = client.post(
        "/api/v1/import/customers?date=2026-03-02", files={"file": ("c.csv", body, "text/csv")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["partitions"] == ["2026-03-02"]
