"""docs/openapi.json is the contract the console generates its types from: it must be what the code serves."""

import json
from pathlib import Path

from touchpoint.api.openapi import openapi_document, render

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_checked_in_document_is_what_the_code_serves() -> None:
    served = render(openapi_document())
    kept = CONTRACT.read_text(encoding="utf-8") if CONTRACT.exists() else ""
    assert served == kept, (
        "docs/openapi.json and the API's routes disagree: run `make openapi` and commit docs/openapi.json "
        "(review the diff: the console's TypeScript types are generated from it)"
    )


def test_rendering_is_stable() -> None:
    document = openapi_document()
    assert render(document) == render(json.loads(render(document)))
    assert render(document).endswith("}\n")


def test_owned_routes_document_their_answers() -> None:
    """The routes of tagging, segments, insight, identity, imports, status and health answer typed bodies and
    say which error statuses they can answer."""
    paths = openapi_document()["paths"]
    owned = [
        ("get", "/api/v1/tags/{name}", "404"),
        ("put", "/api/v1/tags/{name}", "400"),
        ("get", "/api/v1/segments/{name}", "404"),
        ("get", "/api/v1/segments/{name}/insight", "400"),
        ("get", "/api/v1/identity/{value}", "404"),
        ("post", "/api/v1/import/{table}", "400"),
        ("get", "/api/v1/jobs/{job_id}", "404"),
    ]
    for method, path, status in owned:
        operation = paths[path][method]
        assert status in operation["responses"], (method, path)
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in schema, (method, path, schema)  # a named model, not a free-form object
    for path in ("/api/v1/tags/{name}", "/api/v1/indicators/{name}", "/api/v1/segments/{name}"):
        request = paths[path]["put"]["requestBody"]["content"]["application/json"]["schema"]
        assert "$ref" in request, (path, request)  # a named model, not a free-form object
