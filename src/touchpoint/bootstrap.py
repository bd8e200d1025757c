"""The composition root: Settings in, services with their adapters chosen out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.providers.registry import build_providers
from touchpoint.config import Settings
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import Clock, SystemClock
from touchpoint.identity.model import IdentityPolicy
from touchpoint.identity.service import IdentityEnv
from touchpoint.indicators import IndicatorEnv
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.ingest import ImportEnv, analytical_layouts
from touchpoint.ingest.collector.limits import CollectorLimits
from touchpoint.ingest.collector.service import CollectorEnv
from touchpoint.ingest.collector.timing import TimeWindow
from touchpoint.ingest.ports import EventLog
from touchpoint.journeys.service import JourneyEnv
from touchpoint.segments.layout import SEGMENT_MEMBERS
from touchpoint.store import AnalyticalStore, OperationalStore
from touchpoint.tags.layout import TAG_BITMAPS, TAG_VALUES
from touchpoint.tags.service import TagEnv


def _engine_backend(settings: Settings) -> Any:
    if settings.engine == "duckdb":
        from touchpoint.store.backends.duckdb import DuckDBBackend

        return DuckDBBackend()
    raise ValueError(f"unknown analytical engine {settings.engine!r}")


def _event_log(settings: Settings, ops: OperationalStore) -> EventLog:
    if settings.event_log == "nats":
        from touchpoint.store.backends.nats_log import NatsEventLog

        return NatsEventLog(settings.nats_url, dedupe_window=timedelta(days=settings.collector_dedupe_days))
    from touchpoint.store.operational.event_log import SqlEventLog

    return SqlEventLog(ops)


@dataclass
class Container:
    """Everything an entry point needs, built once from Settings."""

    settings: Settings
    clock: Clock
    calendar: TradingCalendar
    ops: OperationalStore
    analytics: AnalyticalStore
    log: EventLog
    _closed: bool = field(default=False, init=False)
    _channels: ChannelEnv | None = field(default=None, init=False)
    _http: httpx.Client | None = field(default=None, init=False)

    @property
    def import_env(self) -> ImportEnv:
        """What the import use cases write to."""
        return ImportEnv(
            ops=self.ops,
            analytics=self.analytics,
            clock=self.clock,
            calendar=self.calendar,
            rejects_dir=self.settings.rejects_dir,
        )

    @property
    def collector_env(self) -> CollectorEnv:
        """What the collector writes to, with its limits from settings."""
        s = self.settings
        return CollectorEnv(
            log=self.log,
            ops=self.ops,
            clock=self.clock,
            window=TimeWindow(
                max_age=timedelta(days=s.collector_max_age_days),
                max_future=timedelta(minutes=s.collector_max_future_minutes),
            ),
            limits=CollectorLimits(
                max_body=s.collector_max_body_mb << 20,
                max_inflated=s.collector_max_inflated_mb << 20,
                max_events=s.collector_max_events,
                max_values=s.collector_max_values,
                max_properties=s.collector_max_properties,
                max_depth=s.collector_max_depth,
                max_value_chars=s.collector_max_value_chars,
                concurrent_batches=s.collector_concurrent_batches,
            ),
            write_keys=frozenset(s.collector_write_keys),
        )

    @property
    def identity_env(self) -> IdentityEnv:
        """What the One ID use cases read and write."""
        policy = IdentityPolicy(
            default_mode=self.settings.identity_mode,
            modes=self.settings.identity_project_modes,
            shared_after=self.settings.identity_shared_device_logins,
        )
        return IdentityEnv(ops=self.ops, clock=self.clock, policy=policy)

    @property
    def indicator_env(self) -> IndicatorEnv:
        """What the indicator use cases read and write."""
        return IndicatorEnv(
            ops=self.ops,
            analytics=self.analytics,
            clock=self.clock,
            calendar=self.calendar,
            identity=self.identity_env,
        )

    @property
    def tag_env(self) -> TagEnv:
        """What the tag use cases read and write."""
        return TagEnv(indicators=self.indicator_env)

    @property
    def journey_env(self) -> JourneyEnv:
        """What the journey use cases and the runtime read and write."""
        return JourneyEnv(tags=self.tag_env, log=self.log, channels=self.channel_env)

    @property
    def channel_env(self) -> ChannelEnv:
        """Providers (built once: they keep access tokens, connections and rate buckets), policies, stores."""
        if self._channels is None:
            self._http = httpx.Client(timeout=10)
            self._channels = ChannelEnv(
                tags=self.tag_env,
                log=self.log,
                policy=self.settings.channel_policy,
                providers=build_providers(self.settings.channels, self._http, self.clock),
                public_url=self.settings.public_url,
                lease_seconds=self.settings.dispatch_lease_seconds,
                receipt_tokens={
                    channel: str(config["receipt_token"])
                    for channel, config in self.settings.channels.items()
                    if config.get("receipt_token")
                },
            )
        return self._channels

    def close(self) -> None:
        """Release database connections and the event log."""
        if not self._closed:
            closer = getattr(self.log, "close", None)
            if closer is not None:
                closer()
            if self._http is not None:
                self._http.close()
            self.analytics.close()
            self.ops.dispose()
            self._closed = True


def build(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Container:
    """Wire the stores and services for `settings`; upgrade the operational schema unless told not to."""
    settings.home.mkdir(parents=True, exist_ok=True)
    ops = OperationalStore(settings.operational_url)
    if migrate:
        ops.upgrade()
    layouts = [*analytical_layouts(), INDICATOR_VALUES, TAG_VALUES, TAG_BITMAPS, SEGMENT_MEMBERS]
    clock = clock or SystemClock()
    analytics = AnalyticalStore(settings.analytical_dir, layouts, _engine_backend(settings), clock=clock)
    calendar = TradingCalendar(settings.timezone, settings.exchange, settings.extra_holidays)
    return Container(
        settings=settings,
        clock=clock,
        calendar=calendar,
        ops=ops,
        analytics=analytics,
        log=_event_log(settings, ops),
    )


def describe_deployment(container: Container) -> dict[str, Any]:
    """Where the stores are and which schema version the operational store is at."""
    settings = container.settings
    return {
        "home": str(settings.home),
        "config_file": str(settings.config_file) if settings.config_file.exists() else None,
        "operational_store": {
            "url": container.ops.display_url,
            "dialect": container.ops.dialect,
            "revision": container.ops.current_revision(),
        },
        "analytical_store": {"path": str(settings.analytical_dir), "engine": settings.engine},
        "event_log": settings.event_log,
        "timezone": settings.timezone,
        "calendar": {
            "exchange": settings.exchange,
            "holidays_recorded_until": container.calendar.recorded_until.isoformat(),
        },
    }
