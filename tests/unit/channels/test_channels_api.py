"""The channels API's contracts: typed bodies and answers, do-not-disturb bounded, and no server error on
hostile input — every route is posted wrong types, huge numbers, empty strings, objects where scalars are
expected, NUL bytes and unknown ids, and must answer below 500 in the one error shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from support import api_client
from touchpoint.api.routes import channels as channels_routes
from touchpoint.bootstrap import Container, build
from touchpoint.channels import audience
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.ingest.service import ImportOptions, import_arrow

API = "/api/v1"
TOKEN = "receipt-token-0123456789"
CHANNELS = {
    "sms": {
        "provider": "http_sms",
        "url": "http://127.0.0.1:9/sms",
        "signature": "券商",
        "receipt_token": TOKEN,
    },
    "push": {"provider": "http_push", "url": "http://127.0.0.1:9/push", "receipt_token": TOKEN},
    "wechat": {"provider": "wechat_mp", "appid": "wx1", "secret": "s", "receipt_token": TOKEN},
}
TEMPLATE = {
    "title": "对账单",
    "channel": "push",
    "classification": "service",
    "subject": "三月对账单",
    "body": "{{ customer.name }}，您的三月对账单已生成。",
}
# Values that are wrong for nearly every field, each in its own way.
HOSTILE: list[Any] = [
    None,
    "",
    " ",
    "\x00",
    "a\x00b",
    "²",
    "x" * 5_000,
    "'; drop table x; --",
    -1,
    0,
    10**30,
    -(10**30),
    1e308,
    True,
    [],
    [1, "a", None],
    {},
    {"a": {"b": [1, {"c": None}]}},
]
# Template texts that try to exhaust memory or the parser.
HOSTILE_TEMPLATES = [
    "{{ 'x'.zfill(1000000000) }}",
    "{% set a = 'x' * 100000 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c ~ c }}",
    "{{ '%999999999s' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 1" + "0" * 5_000 + " }}",
    "{{ " + "(" * 3_000 + "1" + ")" * 3_000 + " }}",
    "{{ customer.name ",
    "{{ x|nosuchfilter }}",
]
BAD_CUSTOMER_NOS = ["%00", "a%00b", "x" * 100, "%C2%B2", "'; drop table x; --", "nobody"]
BAD_NAMES = ["UPPER", "a" * 100, "%00", "x-y", "nobody"]


@pytest.fixture
def client(tmp_path: Path, database_url: str, clock: VirtualClock) -> Iterator[TestClient]:
    settings = load_settings(tmp_path / "home", database_url=database_url, channels=CHANNELS)
    container = build(settings, clock=clock)
    customers = pa.table({"customer_no": ["A1"], "name": ["张三"], "consent_marketing": [True]})
    import_arrow(
        env=container,
        principal=SYSTEM,
        table="customers",
        data=customers,
        options=ImportOptions(business_date=date(2026, 3, 2)),
        source_name="customers",
    )
    with api_client(container) as test_client:
        assert test_client.put(f"{API}/templates/statement", json=TEMPLATE).status_code == 200
        yield test_client
    container.close()


def _no_server_error(response: Response) -> None:
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) >= {"code", "message", "details"}, where
        assert all(set(d) == {"loc", "msg"} for d in error["details"]), where


def _mutations(valid: dict[str, Any]) -> Iterator[Any]:
    """Each field of a valid body replaced by each hostile value; hostile whole bodies; an unknown field."""
    for field in valid:
        for value in HOSTILE:
            yield {**valid, field: value}
    yield from HOSTILE
    yield {**valid, "unknown": 1}


BODIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "save": ("PUT", "/templates/statement", TEMPLATE),
    "preview": ("POST", "/templates/statement/preview", {"customer_no": "A1", "payload": {}, "version": 1}),
    "consent": ("POST", "/customers/A1/consent", {"channel": "sms", "granted": False, "source": "api"}),
    "dnd one": ("PUT", "/do-not-disturb/A1", {"reason": "投诉", "days": 30}),
    "dnd many": ("POST", "/do-not-disturb", {"reason": "投诉", "days": 30, "customers": ["A1", "A2"]}),
}


@pytest.mark.parametrize("route", sorted(BODIES))
def test_no_hostile_body_makes_a_server_error(client: TestClient, route: str) -> None:
    method, path, valid = BODIES[route]
    assert client.request(method, API + path, json=valid).status_code == 200
    for body in _mutations(valid):
        _no_server_error(client.request(method, API + path, json=body))
    _no_server_error(client.request(method, API + path, content=b"{not json"))
    _no_server_error(
        client.request(method, API + path, content=b"\xff\xfe", headers={"content-type": "text/plain"})
    )


def test_no_hostile_template_text_makes_a_server_error(client: TestClient) -> None:
    for text in HOSTILE_TEMPLATES:
        for place in ("body", "subject", "url"):
            saved = client.put(f"{API}/templates/hostile", json={**TEMPLATE, place: text})
            _no_server_error(saved)
            for action in ("check", "activate"):
                _no_server_error(client.post(f"{API}/templates/hostile/{action}"))
            _no_server_error(client.post(f"{API}/templates/hostile/preview", json={"customer_no": "A1"}))
    refused = client.put(f"{API}/templates/hostile", json={**TEMPLATE, "body": "{{ 'x'.zfill(1000000000) }}"})
    assert refused.status_code == 200  # saved as a draft, its fault named
    assert refused.json()["faults"]
    assert client.post(f"{API}/templates/hostile/activate").status_code == 400
    preview = client.post(f"{API}/templates/hostile/preview", json={"customer_no": "A1"})
    assert preview.status_code == 400
    assert "a padded text longer than 200000 characters" in preview.json()["error"]["message"]


def test_no_hostile_path_or_query_makes_a_server_error(client: TestClient) -> None:
    requests: list[tuple[str, str]] = []
    for customer in BAD_CUSTOMER_NOS:
        requests += [
            ("GET", f"{API}/customers/{customer}/consent"),
            ("GET", f"{API}/customers/{customer}/messages"),
            ("DELETE", f"{API}/do-not-disturb/{customer}"),
            ("GET", f"{API}/inbox/{customer}"),
            ("POST", f"{API}/inbox/{customer}/{customer}/read"),
        ]
    for name in BAD_NAMES:
        requests.append(("GET", f"{API}/templates/{name}/versions"))
        for action in ("", "/check", "/activate", "/retire"):
            requests.append(("GET" if not action else "POST", f"{API}/templates/{name}{action}"))
    for number in ("-1", "0", "x", "1e3", str(10**30), "%00"):
        requests += [
            ("GET", f"{API}/templates/statement?version={number}"),
            ("POST", f"{API}/templates/statement/check?version={number}"),
            ("POST", f"{API}/templates/statement/activate?version={number}"),
            ("GET", f"{API}/customers/A1/messages?limit={number}"),
            ("GET", f"{API}/inbox/A1?limit={number}&unread_only={number}"),
            ("GET", f"{API}/channels/report?days={number}"),
            ("GET", f"{API}/channels/health?days={number}"),
            ("GET", f"{API}/consents?limit={number}&offset={number}&granted={number}"),
        ]
    for word in ("%00", "%C2%B2", "x" * 300, "'; drop table x; --"):
        requests += [
            ("GET", f"{API}/channels/report?journey={word}"),
            ("GET", f"{API}/consents?channel={word}"),
            ("GET", f"/t/{word}"),
            ("GET", f"/u/{word}"),
            ("GET", f"{API}/channels/wechat/receipts?signature={word}&timestamp={word}&nonce=n&echostr=e"),
            ("POST", f"{API}/channels/wechat/receipts?signature={word}&timestamp={word}&nonce={word}"),
            ("POST", f"{API}/channels/{word}/receipts?token={TOKEN}"),
        ]
    for method, url in requests:
        _no_server_error(client.request(method, url))


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_no_hostile_receipt_makes_a_server_error(client: TestClient, channel: str) -> None:
    url = f"{API}/channels/{channel}/receipts?token={TOKEN}"
    raw = [b"", b"{", b"\x00", b"\xff\xfe", b"<xml><a>", b"<xml>" * 10_000, b"a=1&b=%00", b"[" * 5_000]
    for body in raw + [json.dumps(value).encode() for value in HOSTILE]:
        _no_server_error(client.post(url, content=body))
    items = [{"biz_id": v, "status": v, "report_time": v, "phone": v, "content": v} for v in HOSTILE]
    _no_server_error(client.post(url, json=items))
    _no_server_error(client.post(url, json={"receipts": items}))


def test_do_not_disturb_days_are_bounded_and_named(client: TestClient, clock: VirtualClock) -> None:
    for days in (10**12, 3_651, 0, 10**400):
        answer = client.put(f"{API}/do-not-disturb/A1", json={"reason": "投诉", "days": days})
        assert answer.status_code == 422, days
        [detail] = answer.json()["error"]["details"]
        assert detail["loc"] == ["body", "days"]
        many = client.post(
            f"{API}/do-not-disturb", json={"reason": "投诉", "days": days, "customers": ["A1"]}
        )
        assert (many.status_code, many.json()["error"]["details"][0]["loc"]) == (422, ["body", "days"])
    kept = client.put(f"{API}/do-not-disturb/A1", json={"reason": "投诉", "days": 3_650})
    assert kept.status_code == 200
    assert kept.json()["until"] == (clock.now() + timedelta(days=3_650)).isoformat()
    assert [e["customer_no"] for e in client.get(f"{API}/do-not-disturb").json()] == ["A1"]


def test_the_use_case_bounds_days_too(container: Container) -> None:
    with pytest.raises(ValidationError, match="days must be between 1 and 3650"):
        audience.add_do_not_disturb(env=container, principal=SYSTEM, customer_no="A1", reason="r", days=10**9)


def _typed(schema: dict[str, Any]) -> bool:
    """A schema that names a model (or a list of models, or an optional model), not a free-form object."""
    if "anyOf" in schema:
        kinds = schema["anyOf"]
        return all(_typed(k) or k == {"type": "null"} for k in kinds) and any(_typed(k) for k in kinds)
    return "$ref" in schema or ("items" in schema and "$ref" in schema["items"])


def test_every_route_declares_its_models_and_errors(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    channel_paths = {API + r.path for r in channels_routes.router.routes} | {
        r.path for r in channels_routes.public_links.routes
    }
    assert len(channel_paths) == 22
    for path in channel_paths:
        for method, operation in spec["paths"][path].items():
            where = f"{method.upper()} {path}"
            answers = operation["responses"]
            json_ok = answers.get("200", {}).get("content", {}).get("application/json")
            if json_ok is not None:
                assert _typed(json_ok["schema"]), where
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and "receipts" not in path:
                assert _typed(body["schema"]), where
            errors = {s for s in answers if s.startswith(("4", "5"))}
            assert errors, where
            for status in errors:
                assert answers[status]["content"]["application/json"]["schema"]["$ref"].endswith(
                    ("/ErrorBody", "/HTTPValidationError")
                ), where


def test_bodies_and_answers_are_the_models(client: TestClient) -> None:
    saved = client.put(f"{API}/templates/statement", json={**TEMPLATE, "name": "other"})
    assert saved.status_code == 400
    assert saved.json()["error"]["details"] == [
        {"loc": ["body", "name"], "msg": "the path names the template 'statement'"}
    ]
    assert client.put(f"{API}/templates/statement", json={**TEMPLATE, "name": "statement"}).status_code == 200
    listed = client.get(f"{API}/templates").json()
    assert [(t["name"], t["status"], t["latest_version"]) for t in listed] == [
        ("statement", "draft", 1)
    ]  # the same body is the same version
    preview = client.post(f"{API}/templates/statement/preview", json={"customer_no": "A1"}).json()
    assert preview["body"] == "张三，您的三月对账单已生成。"
    assert preview["policies"]["outcome"] in ("would send", "skipped", "delayed")
    consent = client.post(f"{API}/customers/A1/consent", json={"channel": "fax", "granted": True})
    assert (consent.status_code, consent.json()["error"]["details"][0]["loc"]) == (422, ["body", "channel"])


def _refused(response: Response, *fields: str) -> None:
    """A 422 in the one error shape whose details name exactly these body fields."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert all(set(d) == {"loc", "msg"} for d in error["details"])
    assert sorted(d["loc"] for d in error["details"]) == sorted(["body", f] for f in fields)


@pytest.mark.parametrize("granted", [0, 1, "true"])
def test_flags_are_true_or_false_not_numbers(client: TestClient, granted: Any) -> None:
    consent = client.post(f"{API}/customers/A1/consent", json={"channel": "sms", "granted": granted})
    _refused(consent, "granted")
    assert client.get(f"{API}/customers/A1/consent").json()["history"] == []  # nothing recorded


@pytest.mark.parametrize(
    ("flags", "fields"),
    [
        ({"track_links": 0}, ["track_links"]),
        ({"track_links": "false"}, ["track_links"]),
        ({"urgent": 1}, ["urgent"]),
        ({"urgent": "true"}, ["urgent"]),
        ({"urgent": 1, "track_links": 0}, ["urgent", "track_links"]),
    ],
)
def test_template_flags_are_true_or_false_not_numbers(
    client: TestClient, flags: dict[str, Any], fields: list[str]
) -> None:
    _refused(client.put(f"{API}/templates/flags", json={**TEMPLATE, **flags}), *fields)
    assert client.get(f"{API}/templates/flags").status_code == 404  # nothing saved
    _refused(client.put(f"{API}/templates/statement", json={**TEMPLATE, **flags}), *fields)
    listed = client.get(f"{API}/templates").json()
    assert [(t["name"], t["latest_version"]) for t in listed] == [("statement", 1)]  # no new version
    statement = client.get(f"{API}/templates/statement").json()
    assert (statement["urgent"], statement["track_links"]) == (False, True)


def test_consent_and_do_not_disturb_changes_are_audited_under_the_signed_in_user(client: TestClient) -> None:
    me = client.get(f"{API}/auth/me").json()["username"]
    assert (
        client.post(f"{API}/customers/A1/consent", json={"channel": "sms", "granted": False}).status_code
        == 200
    )
    assert client.put(f"{API}/do-not-disturb/A1", json={"reason": "投诉"}).status_code == 200
    assert client.delete(f"{API}/do-not-disturb/A1").status_code == 200
    trail = client.get(f"{API}/audit", params={"kind": "customer", "target": "A1"}).json()
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("do_not_disturb.remove", me),
        ("do_not_disturb.add", me),
        ("consent.withdraw", me),
    ]
    assert trail[0]["before"]["reason"] == "投诉"


def test_a_draft_is_checked_and_previewed_without_being_saved(client: TestClient) -> None:
    """The editor checks and previews what is typed: the answer is of the draft, and nothing is stored."""
    assert client.put(f"{API}/templates/statement", json=TEMPLATE).status_code == 200
    draft = {**TEMPLATE, "body": "{{ customer.name }}，稳赚不赔的对账单已生成。"}
    checked = client.post(f"{API}/templates/statement/check", json=draft).json()
    assert not checked["ok"]
    assert any(f.startswith("body: banned word") for f in checked["faults"]), checked
    assert client.post(f"{API}/templates/statement/check").json()["ok"]  # the saved version is clean
    asked = {"customer_no": "A1", "draft": draft}
    shown = client.post(f"{API}/templates/statement/preview", json=asked).json()
    assert shown["body"] == "张三，稳赚不赔的对账单已生成。"
    assert shown["faults"] == checked["faults"]
    saved = client.post(f"{API}/templates/statement/preview", json={"customer_no": "A1"}).json()
    assert saved["body"] == "张三，您的三月对账单已生成。"
    # A template not yet saved can be checked and previewed under the name it will get.
    new = client.post(f"{API}/templates/unsaved/preview", json={"customer_no": "A1", "draft": draft})
    assert new.status_code == 200, new.text
    assert [t["name"] for t in client.get(f"{API}/templates").json()] == ["statement"]
    assert [v["version"] for v in client.get(f"{API}/templates/statement/versions").json()] == [1]
    both = client.post(
        f"{API}/templates/statement/preview", json={"customer_no": "A1", "draft": draft, "version": 1}
    )
    assert both.status_code == 422
    both = client.post(f"{API}/templates/statement/check", params={"version": 1}, json=draft)
    assert both.status_code == 400
