"""A small demo brokerage with the default library computed, shared by the tests of one module."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from touchpoint.bootstrap import Container, build
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.demo import DemoParams
from touchpoint.demo.runs import ensure_demo, ensure_demo_tags
from touchpoint.governance import SYSTEM

DEMO_END = date(2026, 3, 31)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """800 customers over 60 days ending 2026-03-31, library installed and computed for the last date."""
    home = tmp_path_factory.mktemp("demo")
    container = build(load_settings(home), clock=VirtualClock(datetime(2026, 3, 31, 12, tzinfo=UTC)))
    params = DemoParams(customers=800, days=60, seed=11, end_date=DEMO_END)
    ensure_demo(env=container, principal=SYSTEM, params=params)
    ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
    yield container
    container.close()
