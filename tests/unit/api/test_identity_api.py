"""One ID over HTTP: show, detach (unmerge) with its separation, allow again, and the errors."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from support import api_client
from touchpoint.bootstrap import Container
from touchpoint.identity.graph import Graph
from touchpoint.identity.model import Identifier

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with container.ops.begin() as connection:
        graph = Graph(connection, now=NOW, source="test")
        graph.bind(Identifier("anonymous_id", "kiosk-7"), Identifier("customer_no", "C1"), "many_to_one")
    with api_client(container, username="ops.lee") as test_client:
        yield test_client


def test_unmerge_then_allow_over_http(client: TestClient) -> None:
    shown = client.get("/api/v1/identity/C1").json()
    assert {i["id_value"] for i in shown["identifiers"]} == {"C1", "kiosk-7"}
    detached = client.post("/api/v1/identity/kiosk-7/unmerge", params={"reason": "branch kiosk"})
    assert detached.status_code == 200, detached.text
    assert detached.json()["moved"] == ["anonymous_id:kiosk-7"]
    shown = client.get("/api/v1/identity/C1").json()
    assert [i["id_value"] for i in shown["identifiers"]] == ["C1"]
    assert shown["separations"][0] | {"at": None} == {
        "left": "anonymous_id:kiosk-7",
        "right": "customer_no:C1",
        "by": "ops.lee",
        "at": None,
    }
    again = client.post("/api/v1/identity/kiosk-7/unmerge")
    assert again.status_code == 400
    assert "nothing to detach" in again.text
    refused = client.post("/api/v1/identity/C1/unmerge")
    assert refused.status_code == 400
    assert "name the identifier" in refused.text
    allowed = client.post("/api/v1/identity/kiosk-7/allow", params={"other": "C1"})
    assert allowed.status_code == 200
    assert allowed.json()["lifted"] == 1
    assert client.get("/api/v1/identity/C1").json()["separations"] == []
    missing = client.post("/api/v1/identity/nobody/unmerge")
    assert missing.status_code == 404
