"""The demo installs its sample journeys once, valid and live, and the worker admits the dormant segment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo, ensure_demo_journeys, ensure_demo_tags
from touchpoint.governance import SYSTEM
from touchpoint.journeys.service import list_journeys, statistics
from touchpoint.segments.service import current_members
from touchpoint.worker.loop import run_pass


def test_demo_journeys_are_published_once_and_run(tmp_path: Path) -> None:
    container = build(
        load_settings(tmp_path / "home"), clock=VirtualClock(datetime(2026, 3, 31, 8, tzinfo=UTC))
    )
    try:
        ensure_demo(
            env=container.import_env,
            principal=SYSTEM,
            params=DemoParams(customers=300, days=20, seed=2, end_date=date(2026, 3, 31)),
        )
        ensure_demo_tags(env=container.tag_env, principal=SYSTEM)
        env = container.journey_env
        assert ensure_demo_journeys(env=env, principal=SYSTEM) == ["dormant_wakeup", "ipo_payment_reminder"]
        assert ensure_demo_journeys(env=env, principal=SYSTEM) == []
        assert {(j["name"], j["status"]) for j in list_journeys(env=env)} == {
            ("dormant_wakeup", "live"),
            ("ipo_payment_reminder", "live"),
        }
        run_pass(container)
        _, dormant = current_members(env=container.tag_env, name="dormant_customers")
        stats = statistics(env=env, name="dormant_wakeup")
        assert stats["nodes"][0]["entered"] == len(dormant) > 0
    finally:
        container.close()
