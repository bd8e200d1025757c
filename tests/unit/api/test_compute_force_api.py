"""POST /api/v1/compute answers 409 when missing inputs would move many tags, and `force=true` stores it."""

from fastapi.testclient import TestClient

from support import api_client
from touchpoint.bootstrap import Container

CUSTOMERS = b"customer_no\nC1\nC2\nC3\nC4\n"
FULL = b"customer_no,date,total_assets\n" + b"".join(b"C%d,2026-03-02,50000\n" % i for i in range(1, 5))
# Eight trading days later one customer's row arrives; the others' rows of 03-02 are past the 5-day limit.
PARTIAL = b"customer_no,date,total_assets\nC1,2026-03-12,60000\n"
TOTAL = {
    "title": "总资产",
    "source": "assets",
    "aggregation": "sum",
    "column": "total_assets",
    "window": {"kind": "snapshot"},
}
TIER = {
    "title": "资产等级",
    "category": "资产",
    "kind": "rule",
    "params": {"mass": 10_000},
    "rules": [
        {"when": {"indicator": "total_assets", "op": ">=", "value": {"param": "mass"}}, "value": "大众"}
    ],
    "default": "长尾",
}


def _import(client: TestClient, table: str, body: bytes, day: str | None = None) -> None:
    query = f"?date={day}" if day else ""
    response = client.post(
        f"/api/v1/import/{table}{query}", files={"file": (f"{table}.csv", body, "text/csv")}
    )
    assert response.status_code == 200, response.text


def test_compute_refuses_missing_inputs_with_409_until_forced(container: Container) -> None:
    with api_client(container) as client:
        _import(client, "customers", CUSTOMERS, "2026-03-02")
        _import(client, "assets", FULL)
        assert client.put("/api/v1/indicators/total_assets", json=TOTAL).status_code == 200
        assert client.put("/api/v1/tags/tier", json=TIER).status_code == 200
        assert client.post("/api/v1/compute?date=2026-03-02").status_code == 200
        _import(client, "assets", PARTIAL)
        refused = client.post("/api/v1/compute?date=2026-03-12")
        assert refused.status_code == 409, refused.text
        assert "tier 3 of 4 (75%)" in refused.text
        forced = client.post("/api/v1/compute?date=2026-03-12&force=true")
        assert forced.status_code == 200, forced.text
        assert "tier 3 of 4" in forced.json()["forced"]
