"""Faults of issue 14 in the tagging, segments, insight and import routes, each as a request that once
answered 500 or a wrong header, on a small demo brokerage."""

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from support import api_client
from touchpoint.api.routes.imports import upload_name
from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo, ensure_demo_tags
from touchpoint.governance import SYSTEM

RULE = {"tag": "age_band", "in": ["30岁以下", "30-39岁", "40-49岁", "50-59岁", "60-64岁", "65岁及以上"]}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("contract")
    container = build(
        load_settings(home, database_url=f"sqlite:///{home / 'ops.db'}"),
        clock=VirtualClock(datetime(2026, 3, 31, 1, tzinfo=UTC)),
    )
    params = DemoParams(customers=60, days=5, seed=5, end_date=date(2026, 3, 31))
    ensure_demo(env=container, principal=SYSTEM, params=params)
    ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
    with api_client(container, raise_server_exceptions=False) as test_client:
        saved = test_client.put("/api/v1/segments/everyone", json={"rule": RULE})
        assert saved.status_code == 200, saved.text
        yield test_client
    container.close()


def test_insight_with_an_unknown_indicator_is_refused_naming_it(client: TestClient) -> None:
    answer = client.get("/api/v1/segments/everyone/insight", params={"indicators": "no_such_indicator"})
    assert answer.status_code == 400, answer.text
    assert "no_such_indicator" in answer.json()["error"]["message"]
    known = client.get("/api/v1/segments/everyone/insight", params={"indicators": "total_assets"})
    assert known.status_code == 200, known.text
    assert known.json()["indicators"][0]["indicator"] == "total_assets"


@pytest.mark.parametrize("filename", [".", "..", "", "a/../..", "x\x00y.csv", "客" * 300 + ".csv"])
def test_an_upload_of_any_name_is_imported_or_refused_never_a_server_error(
    client: TestClient, filename: str
) -> None:
    body = b"customer_no,value\n"
    answer = client.post("/api/v1/import/customers", files={"file": (filename, body, "text/csv")})
    assert answer.status_code < 500, answer.text
    assert "error" in answer.json() or "rows_imported" in answer.json()


def test_upload_names_stay_inside_the_upload_folder() -> None:
    assert upload_name("..", None) == "upload.csv"
    assert upload_name(".", "parquet") == "upload.parquet"
    assert upload_name("../../etc/passwd", None) == "passwd"
    assert upload_name("C:\\temp\\客户.csv", None) == "客户.csv"
    assert upload_name("a\x00b.csv", None) == "ab.csv"
    long = upload_name("客" * 300 + ".csv", None)
    assert long.endswith(".csv")
    assert len(long.encode()) <= 255


def test_a_405_lists_every_method_of_the_path(client: TestClient) -> None:
    answer = client.patch("/api/v1/tags/age_band")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "DELETE, GET, PUT"
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_relative_days_are_read_as_the_cli_reads_them(client: TestClient) -> None:
    value = "30岁以下"
    today = client.get("/api/v1/tags/age_band/members", params={"value": value, "date": "today"})
    assert today.status_code == 200, today.text
    assert today.json()["business_date"] == "2026-03-31"
    back = client.get("/api/v1/tags/age_band/members", params={"value": value, "date": "-30d"})
    assert back.status_code == 404  # no snapshot as old as 2026-03-01
    late = client.get("/api/v1/tags/age_band/members", params={"value": value, "date": "9999-12-31"})
    assert late.status_code == 422  # after 2100: refused by the published pattern, naming the parameter
    assert late.json()["error"]["details"][0]["loc"] == ["query", "date"]
    wrong = client.get("/api/v1/tags/age_band/members", params={"value": value, "date": "soon"})
    assert wrong.status_code == 422


def test_a_lookalike_without_top_or_min_score_is_refused_at_once(client: TestClient) -> None:
    answer = client.post("/api/v1/segments/everyone/lookalike", json={"target": "x"})
    assert answer.status_code == 400
    unknown = client.post("/api/v1/segments/nobody/lookalike", json={"top": 5})
    assert unknown.status_code == 404


def test_a_segment_body_is_a_typed_rule(client: TestClient) -> None:
    answer = client.put("/api/v1/segments/bad", json={"rule": {"nonsense": 1}})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["loc"][:2] == ["body", "rule"]


@pytest.mark.parametrize("path", ["/api/v1/segments/from_bytes/upload", "/api/v1/tags/age_band/upload"])
def test_an_uploaded_list_that_is_no_text_is_refused(client: TestClient, path: str) -> None:
    answer = client.post(path, files={"file": ("list.csv", b"customer_no\n\xff\xfe\xff\x00\x81", "text/csv")})
    assert answer.status_code == 400, answer.text
    assert "neither UTF-8 nor GBK" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    "document", ["indicators: 5\n", "tags: [1, 2]\n", "other: []\n", "- a\n- b\n", "null\n"]
)
def test_a_definitions_document_of_the_wrong_outline_is_refused(client: TestClient, document: str) -> None:
    for path in ("/api/v1/definitions/import", "/api/v1/definitions/dry-run"):
        answer = client.post(path, content=document, headers={"content-type": "application/yaml"})
        assert answer.status_code == 400, (path, answer.text)
        assert "definitions file is a mapping" in answer.json()["error"]["message"]
