"""The real Sensors, Segment and PostHog Python clients against the running collector."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import sensorsanalytics
from posthog import Posthog
from segment.analytics.client import Client as SegmentClient

from touchpoint.analytics.events import events_between
from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM
from touchpoint.identity import repo as identity_repo
from touchpoint.identity.model import Identifier
from touchpoint.identity.service import show
from touchpoint.indicators.model import IndicatorDef, Window
from touchpoint.indicators.service import compute_indicators
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.ingest.collector.service import replay_sensors_log
from touchpoint.ingest.collector.stats import collector_stats
from touchpoint.tags.customer360 import customer_view
from touchpoint.worker.loop import run_pass


def _events(container: Container) -> list[dict]:  # type: ignore[type-arg]
    run_pass(container)
    return container.analytics.table("events").to_pyarrow().to_pylist()


def _same_person(container: Container, anonymous: str, login: str) -> bool:
    with container.ops.begin() as connection:
        a = identity_repo.uid_of(connection, Identifier("anonymous_id", anonymous))
        b = identity_repo.uid_of(connection, Identifier("customer_no", login))
    return a is not None and a == b


def test_sensors_python_sdk_story(container: Container, live_server: str, keys: dict[str, str]) -> None:
    url = f"{live_server}/sa?project=default&token={keys['sensors']}"
    sa = sensorsanalytics.SensorsAnalytics(sensorsanalytics.DefaultConsumer(url))
    sa.track("dev-1", "fund_detail_view", {"fund_code": "000001", "price": 1.5, "tags": ["A", "B"]})
    sa.track_signup("C001", "dev-1")
    sa.track("C001", "fund_subscribe", {"amount": 1000}, is_login_id=True)
    sa.profile_set("C001", {"risk_level": "C3"}, is_login_id=True)
    sa.profile_increment("C001", {"trade_count": 2}, is_login_id=True)
    sa.profile_append("C001", {"held_codes": ["600519"]}, is_login_id=True)
    batch = sensorsanalytics.SensorsAnalytics(sensorsanalytics.BatchConsumer(url, max_size=3))
    for i in range(4):
        batch.track("dev-9", "content_view", {"article_id": f"a{i}"})
    batch.close()
    debug = sensorsanalytics.SensorsAnalytics(sensorsanalytics.DebugConsumer(url, write_data=False))
    debug.track("dev-1", "never_stored", {})

    events = _events(container)
    names = sorted(e["event"] for e in events)
    assert names == ["$SignUp", *["content_view"] * 4, "fund_detail_view", "fund_subscribe"]
    view = next(e for e in events if e["event"] == "fund_detail_view")
    assert view["distinct_id"] == "dev-1"
    assert '"tags":["A","B"]' in view["properties"]
    assert _same_person(container, "dev-1", "C001")
    profile = show(env=container, value="C001")["profile"]
    assert profile["risk_level"] == "C3"
    assert profile["trade_count"] == 2
    assert profile["held_codes"] == ["600519"]


def test_segment_python_sdk_story_and_resent_batches(
    container: Container, live_server: str, keys: dict[str, str]
) -> None:
    client = SegmentClient(write_key=keys["segment"], host=live_server, sync_mode=True)
    client.track(
        anonymous_id="anon-7", event="Quote Viewed", properties={"symbol": "600519"}, message_id="m1"
    )
    client.identify(user_id="C007", anonymous_id="anon-7", traits={"risk_level": "C4"}, message_id="m2")
    client.track(user_id="C007", event="Order Completed", properties={"qty": 100}, message_id="m3")
    client.track(user_id="C007", event="Order Completed", properties={"qty": 100}, message_id="m3")  # resend
    client.page(anonymous_id="anon-7", category="Market", name="Quote", message_id="m4")

    events = _events(container)
    assert sorted(e["event"] for e in events) == ["$pageview", "Order Completed", "Quote Viewed"]
    assert _same_person(container, "anon-7", "C007")
    assert show(env=container, value="C007")["profile"]["risk_level"] == "C4"
    stats = collector_stats(log=container.log, ops=container.ops, clock=container.clock)
    assert stats["duplicates"]["segment"] == 1


def test_posthog_python_sdk_story(container: Container, live_server: str, keys: dict[str, str]) -> None:
    client = Posthog(keys["posthog"], host=live_server, sync_mode=True)
    client.capture(
        "app_open",
        distinct_id="ph-anon",
        properties={"os": "iOS"},
        uuid="00000000-0000-4000-8000-000000000001",
    )
    client.capture(
        "app_open",
        distinct_id="ph-anon",
        properties={"os": "iOS"},
        uuid="00000000-0000-4000-8000-000000000001",
    )
    client.alias("ph-anon", "C042")
    client.set(distinct_id="C042", properties={"risk_level": "C2"})
    client.shutdown()

    events = _events(container)
    opens = [e for e in events if e["event"] == "app_open"]
    assert len(opens) == 1
    assert opens[0]["source"] == "posthog"
    assert _same_person(container, "ph-anon", "C042")
    assert show(env=container, value="C042")["profile"]["risk_level"] == "C2"
    assert (
        pc.sum(pc.equal(container.analytics.table("events").to_pyarrow()["event"], "app_open")).as_py() == 1
    )


def test_sensors_logging_consumer_files_replay_through_the_collector(
    container: Container, tmp_path: Path
) -> None:
    prefix = str(tmp_path / "sa.log")
    consumer = sensorsanalytics.LoggingConsumer(prefix)
    sa = sensorsanalytics.SensorsAnalytics(consumer)
    sa.track("dev-5", "content_view", {"topic": "打新"})
    sa.track_signup("C005", "dev-5")
    sa.profile_set("C005", {"city": "上海"}, is_login_id=True)
    sa.close()
    files = list(tmp_path.glob("sa.log*"))
    assert len(files) == 1
    with files[0].open("ab") as handle:
        handle.write(b"not json at all\n")
    with files[0].open("rb") as handle:
        result = replay_sensors_log(env=container, lines=handle, project="default", historical=False)
    assert (result.accepted, result.quarantined) == (3, 1)
    assert sorted(e["event"] for e in _events(container)) == ["$SignUp", "content_view"]
    assert _same_person(container, "dev-5", "C005")
    assert show(env=container, value="C005")["profile"]["city"] == "上海"


def test_an_id_seen_anonymous_then_as_login_counts_each_event_once(
    container: Container, live_server: str, keys: dict[str, str]
) -> None:
    """Sensors track(X, is_login_id=False) then X as a login; PostHog capture("PH7") then $identify PH7: the
    person holds one identifier, and each event counts once in analytics, indicators and the 360° view."""
    sa = sensorsanalytics.SensorsAnalytics(
        sensorsanalytics.DefaultConsumer(f"{live_server}/sa?project=default&token={keys['sensors']}")
    )
    sa.track("S7", "content_view", {"topic": "基金"}, is_login_id=False)
    sa.track("S7", "content_view", {"topic": "打新"}, is_login_id=False)
    ph = Posthog(keys["posthog"], host=live_server, sync_mode=True)
    for topic in ("基金", "打新"):
        ph.capture("content_view", distinct_id="PH7", properties={"topic": topic})
    ph.flush()
    run_pass(container)  # both values are known as anonymous ids before they log in
    sa.track("S7", "content_view", {"topic": "两融"}, is_login_id=True)
    sa.track("S7", "content_view", {"topic": "港股"}, is_login_id=True)
    ph.capture("$identify", distinct_id="PH7", properties={"$anon_distinct_id": "PH7"})
    ph.capture("content_view", distinct_id="PH7", properties={"topic": "两融"})
    ph.shutdown()
    run_pass(container)
    import_arrow(
        env=container,
        principal=SYSTEM,
        table="customers",
        data=pa.table({"customer_no": ["S7", "PH7"], "name": ["卢伟", "叶园"]}),
        options=ImportOptions(business_date=container.calendar.business_date(container.clock.now())),
        source_name="customers",
    )
    run_pass(container)

    day = container.calendar.business_date(container.clock.now())
    frame = events_between(container, ["content_view"], day, day).to_pandas()
    assert frame.groupby("person").size().to_dict() == {"S7": 4, "PH7": 3}
    views = IndicatorDef(
        name="content_view_30d",
        title="近30日资讯阅读次数",
        source="events",
        event="content_view",
        aggregation="count",
        window=Window(kind="days", n=30),
    )
    computed = compute_indicators(env=container, day=day, definitions=[views]).to_pylist()
    assert {r["customer_no"]: r["content_view_30d"] for r in computed} == {"S7": 4, "PH7": 3}
    for customer, count in (("S7", 4), ("PH7", 3)):
        view = customer_view(env=container, principal=SYSTEM, customer_no=customer)
        assert [i["id_value"] for i in view["identities"]] == [customer]
        assert [e["event"] for e in view["events"] if e["event"] != "$identify"] == ["content_view"] * count


def test_the_360_view_shows_events_from_the_sdks_through_one_id(
    container: Container, live_server: str, keys: dict[str, str]
) -> None:
    """Segment events before the login (anonymousId only) and after it both appear on the customer's page."""
    import_arrow(
        env=container,
        principal=SYSTEM,
        table="customers",
        data=pa.table({"customer_no": ["C008"], "name": ["王芳"]}),
        options=ImportOptions(business_date=container.calendar.business_date(container.clock.now())),
        source_name="customers",
    )
    client = SegmentClient(write_key=keys["segment"], host=live_server, sync_mode=True)
    client.track(anonymous_id="anon-8", event="Quote Viewed", properties={"symbol": "600519"})
    client.identify(user_id="C008", anonymous_id="anon-8")
    client.track(user_id="C008", event="Order Completed", properties={"qty": 100})
    client.track(anonymous_id="someone-else", event="Quote Viewed", properties={"symbol": "000001"})
    run_pass(container)
    view = customer_view(env=container, principal=SYSTEM, customer_no="C008")
    assert sorted(e["event"] for e in view["events"]) == ["Order Completed", "Quote Viewed"]
    assert {e["distinct_id"] for e in view["events"]} == {"anon-8", "C008"}
