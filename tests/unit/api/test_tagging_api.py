"""Indicators, tags, dry runs, computation, members and the 360° view over HTTP, as the console uses them."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from support import api_client
from touchpoint.bootstrap import Container

CUSTOMERS = b"customer_no,risk_level,consent_marketing\nC1,C2,true\nC2,C4,false\nC3,C5,true\n"
ASSETS = b"customer_no,date,total_assets\nC1,2026-02-27,8000\nC2,2026-02-27,800000\nC3,2026-02-27,9000000\n"
TOTAL = {
    "title": "总资产",
    "source": "assets",
    "aggregation": "sum",
    "column": "total_assets",
    "window": {"kind": "snapshot"},
}
TIER = {
    "title": "资产等级",
    "category": "资产/资产等级",
    "kind": "rule",
    "params": {"rich": 6_000_000},
    "rules": [
        {"when": {"indicator": "total_assets", "op": ">=", "value": {"param": "rich"}}, "value": "高净值"}
    ],
    "default": "其他",
}


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with api_client(container) as test_client:
        for table, body in (("customers", CUSTOMERS), ("assets", ASSETS)):
            response = test_client.post(
                f"/api/v1/import/{table}?date=2026-02-27", files={"file": (f"{table}.csv", body, "text/csv")}
            )
            assert response.status_code == 200, response.text
        yield test_client


def test_define_dry_run_compute_and_inspect(client: TestClient) -> None:
    assert client.put("/api/v1/indicators/total_assets", json=TOTAL).status_code == 200
    dry = client.post("/api/v1/tags/tier/dry-run?sample=10", json=TIER).json()
    assert dry["sample"] == 3
    assert dry["tags"]["tier"]["distribution"] == {"高净值": 1, "其他": 2}
    assert client.get("/api/v1/tags").json() == []  # a dry run saves nothing
    assert client.put("/api/v1/tags/tier", json=TIER).json()["version"] == 1

    computed = client.post("/api/v1/compute").json()
    assert (computed["business_date"], computed["customers"]) == ("2026-02-27", 3)
    detail = client.get("/api/v1/tags/tier").json()
    assert detail["coverage"] == 1.0
    assert {d["value"]: d["count"] for d in detail["distribution"]} == {"高净值": 1, "其他": 2}
    tree = client.get("/api/v1/tags/tree").json()
    assert tree[0]["name"] == "资产"
    assert tree[0]["children"][0]["tags"][0]["name"] == "tier"
    members = client.get("/api/v1/tags/tier/members", params={"value": "高净值"}).json()
    assert members["customers"] == ["C3"]
    view = client.get("/api/v1/customers/C3").json()
    assert view["tags"]["values"]["tier"] == "高净值"
    assert view["indicators"]["values"]["total_assets"] == 9_000_000


def test_faults_answer_400_with_the_reason(client: TestClient) -> None:
    bad = TOTAL | {"column": "total_asset"}
    response = client.put("/api/v1/indicators/total_assets", json=bad)
    assert response.status_code == 400
    assert "unknown column 'total_asset' of assets" in response.text
    response = client.put("/api/v1/tags/tier", json=TIER)
    assert response.status_code == 400
    assert "unknown indicator(s) total_assets" in response.text
    assert client.get("/api/v1/tags/nope").status_code == 404


def test_an_indicator_a_tag_reads_cannot_be_deleted(client: TestClient) -> None:
    client.put("/api/v1/indicators/total_assets", json=TOTAL)
    client.put("/api/v1/tags/tier", json=TIER)
    response = client.delete("/api/v1/indicators/total_assets")
    assert response.status_code == 400
    assert "read by tag tier" in response.text
    assert client.delete("/api/v1/tags/tier").status_code == 200
    assert client.delete("/api/v1/indicators/total_assets").status_code == 200


def test_yaml_export_plan_and_apply(client: TestClient) -> None:
    client.put("/api/v1/indicators/total_assets", json=TOTAL)
    client.put("/api/v1/tags/tier", json=TIER)
    exported = client.get("/api/v1/definitions/export").text
    changed = exported.replace("rich: 6000000", "rich: 1000000")
    headers = {"Content-Type": "application/yaml"}
    plan = client.post("/api/v1/definitions/import", content=changed, headers=headers).json()
    assert plan["applied"] is False
    assert {"kind": "tag", "name": "tier", "action": "update"} in plan["plan"]
    client.post("/api/v1/definitions/import?apply=true", content=changed, headers=headers)
    dry = client.post("/api/v1/definitions/dry-run", content=changed, headers=headers).json()
    assert dry["tags"]["tier"]["distribution"] == {"高净值": 1, "其他": 2}
    assert client.get("/api/v1/tags").json()[0]["params"]["rich"] == 1_000_000


def test_imported_tag_upload(client: TestClient) -> None:
    vip = {"title": "VIP", "category": "价值", "kind": "imported", "values": ["VIP"]}
    assert client.put("/api/v1/tags/vip", json=vip).status_code == 200
    body = "customer_no,value\nC1,VIP\nC7,VIP\n".encode("gbk")
    answer = client.post("/api/v1/tags/vip/upload", files={"file": ("vip.csv", body, "text/csv")}).json()
    assert (answer["rows"], answer["unknown_customers"]) == (2, ["C7"])
