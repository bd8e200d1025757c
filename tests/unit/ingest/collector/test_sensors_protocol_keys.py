"""Sensors protocol keys (`$is_login_id`, `$identity_*`, `$token`, `$lib*`) are read as what they are and
never become customer attributes: what the real Sensors Python SDK sends leaves a profile of the customer's
own values only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sensorsanalytics
from hypothesis import example, given
from hypothesis import strategies as st

from touchpoint.bootstrap import Container
from touchpoint.identity.service import show
from touchpoint.ingest.collector import sensors
from touchpoint.ingest.collector.model import Batch
from touchpoint.ingest.collector.service import collect
from touchpoint.ingest.collector.timing import TimeWindow
from touchpoint.worker.loop import run_pass

RECEIVED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class Capture:
    """A Sensors SDK consumer that keeps each message instead of sending it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, message: str) -> None:
        """Keep one message as the SDK serialised it."""
        self.messages.append(json.loads(message))

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Nothing to release."""


def _sdk_messages(at: datetime) -> list[dict[str, Any]]:
    capture = Capture()
    sa = sensorsanalytics.SensorsAnalytics(capture)
    identity = sensorsanalytics.SensorsAnalyticsIdentity
    sa.track("C001", "fund_subscribe", {"amount": 1000}, is_login_id=True)
    sa.profile_set("C001", {"risk_level": "C3"}, is_login_id=True)
    sa.profile_increment("C001", {"trade_count": 2}, is_login_id=True)
    sa.profile_increment("C001", {"trade_count": 1}, is_login_id=True)
    sa.profile_append("C001", {"held_codes": ["600519"]}, is_login_id=True)
    sa.profile_set_once("C001", {"first_channel": "app"}, is_login_id=True)
    sa.profile_set_by_id(
        {"city": "上海"},
        identity("$identity_login_id", "C001"),
        identity("$identity_mobile", "13800000000"),
    )
    # A client that also names its library and token in the properties, as the JS and mobile SDKs may.
    sa.profile_set(
        "C001",
        {"$lib": "js", "$lib_version": "1.26.0", "$lib_method": "code", "$token": "tk"},
        is_login_id=True,
    )
    # The SDK stamps its own wall clock; the test's clock is virtual.
    for message in capture.messages:
        message["time"] = int(at.timestamp() * 1000)
    return capture.messages


def test_profile_from_the_real_sdk_holds_only_customer_attributes(container: Container) -> None:
    messages = _sdk_messages(container.clock.now())
    result = collect(env=container, batch=Batch(source="sensors", project="default", messages=messages))
    assert (result.accepted, result.quarantined) == (len(messages), 0)
    run_pass(container)
    shown = show(env=container, value="C001")
    # Worked out by hand from the calls above: set, 2 + 1, one append, set-once, the bind's own set.
    assert shown["profile"] == {
        "risk_level": "C3",
        "trade_count": 3,
        "held_codes": ["600519"],
        "first_channel": "app",
        "city": "上海",
    }
    assert {(i["id_type"], i["id_value"]) for i in shown["identifiers"]} == {
        ("customer_no", "C001"),
        ("phone", "13800000000"),
    }


def test_event_properties_drop_the_login_flag_and_keep_the_library(container: Container) -> None:
    messages = _sdk_messages(container.clock.now())[:1]
    collect(env=container, batch=Batch(source="sensors", project="default", messages=messages))
    records = container.log.read_after(0, 10)
    assert len(records) == 1
    body = records[0].payload
    assert body["properties"] == {"$lib": "python", "$lib_version": "1.11.0", "amount": 1000}
    assert body["ids"]["is_login"] is True


# ---- the rule over any mix of keys (pure) ---------------------------------------------------------------

PROTOCOL_KEYS = ["$is_login_id", "$token", "$identity_mobile", "$identity_login_id", "$identity_cookie_id"]
LIBRARY_KEYS = ["$lib", "$lib_version", "$lib_method", "$lib_detail", "$lib_plugin_version"]
CUSTOMER_KEYS = ["risk_level", "city", "$city", "$name", "lib", "identity", "is_login", "token_count"]
PROFILE_OPS = ["profile_set", "profile_set_once", "profile_increment", "profile_append", "profile_unset"]
VALUES = st.one_of(st.booleans(), st.integers(-5, 5), st.text("ab上", max_size=4))


def _is_protocol(key: str) -> bool:
    return key in ("$is_login_id", "$token") or key.startswith("$identity_")


def _is_library(key: str) -> bool:
    return key.startswith("$lib")


def _normalised(kind: str, properties: dict[str, Any], identities: dict[str, str]) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": kind,
        "distinct_id": "C9",
        "time": int(RECEIVED.timestamp() * 1000),
        "properties": dict(properties),
    }
    if kind == "track":
        message["event"] = "view"
    if identities:
        message["identities"] = dict(identities)
    batch = Batch(source="sensors", project="default", messages=[message])
    return sensors.normalise(message, batch, RECEIVED, TimeWindow()).payload


@given(
    kind=st.sampled_from(["track", *PROFILE_OPS]),
    properties=st.dictionaries(st.sampled_from(PROTOCOL_KEYS + LIBRARY_KEYS + CUSTOMER_KEYS), VALUES),
    identities=st.dictionaries(
        st.sampled_from(["$identity_mobile", "$identity_email"]), st.text("ab", min_size=1)
    ),
)
@example(kind="profile_set", properties={"$is_login_id": True, "risk_level": "C3"}, identities={})
@example(kind="profile_unset", properties={"$is_login_id": True, "$lib": True}, identities={})
@example(
    kind="track", properties={"$identity_mobile": "1", "$lib": "js"}, identities={"$identity_mobile": "2"}
)
def test_protocol_keys_never_reach_a_profile_or_event_properties(
    kind: str, properties: dict[str, Any], identities: dict[str, str]
) -> None:
    body = _normalised(kind, properties, identities)
    customer = {k: v for k, v in properties.items() if not _is_protocol(k) and not _is_library(k)}
    library = {k: v for k, v in properties.items() if _is_library(k)}
    if kind == "track":
        assert body["profile"] is None
        assert body["properties"] == {**customer, **library}
    else:
        assert body["profile"] == {"op": kind, "values": customer}
        assert body["properties"] == library
    # `$identity_*` properties are identity hints; the top-level `identities` map wins where both name a key.
    named = {k: v for k, v in properties.items() if k.startswith("$identity_")}
    assert body["ids"]["identities"] == {**named, **identities}
    assert body["ids"]["is_login"] is (properties.get("$is_login_id") is True)
