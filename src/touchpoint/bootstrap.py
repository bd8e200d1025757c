"""The composition root: Settings in, services with their adapters chosen out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from touchpoint.channels.channel_policy import ChannelPolicyRead, PolicyCache, channel_policy_kind
from touchpoint.channels.providers.base import Provider
from touchpoint.channels.providers.log import LogConfig, LogProvider
from touchpoint.channels.providers.registry import build_providers
from touchpoint.config import AccountPolicy, ChannelPolicy, PiiKind, Settings
from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import Clock, SystemClock
from touchpoint.core.ratelimit import TokenBucket
from touchpoint.governance.approvals import Handler
from touchpoint.governance.registry import Registry
from touchpoint.identity.model import IdentityPolicy
from touchpoint.indicators.layout import INDICATOR_VALUES
from touchpoint.ingest import analytical_layouts
from touchpoint.ingest.collector.limits import CollectorLimits
from touchpoint.ingest.collector.timing import TimeWindow
from touchpoint.ingest.ports import EventLog, RoutedLog
from touchpoint.ingest.warehouse import WarehouseSource
from touchpoint.segments.layout import SEGMENT_MEMBERS
from touchpoint.store import AnalyticalStore, OperationalStore
from touchpoint.tags.layout import TAG_BITMAPS, TAG_VALUES


def _engine_backend(settings: Settings) -> Any:
    if settings.engine == "duckdb":
        from touchpoint.store.backends.duckdb import DuckDBBackend

        spill = settings.home / ".duckdb-spill" if settings.duckdb_memory_limit else None
        return DuckDBBackend(memory_limit=settings.duckdb_memory_limit, spill_directory=spill)
    if settings.engine == "spark":
        from touchpoint.store.backends.spark import SparkBackend

        return SparkBackend(settings.spark_master, settings.spark_config)
    raise ValueError(f"unknown analytical engine {settings.engine!r}")


def _event_log(settings: Settings, ops: OperationalStore) -> EventLog:
    if settings.event_log == "nats":
        from touchpoint.store.backends.nats_log import NatsEventLog

        return NatsEventLog(
            settings.nats_url,
            dedupe_window=timedelta(days=settings.collector_dedupe_days),
            ops=ops,
            stream=settings.nats_stream,
        )
    from touchpoint.store.operational.event_log import SqlEventLog

    return SqlEventLog(ops)


def _routed_log(log: EventLog) -> RoutedLog | None:
    """The routed stream beside a NATS event log (read to route back to the log after routing from it,
    written only with journey_routing_source = "routed"); none beside the SQL log."""
    from touchpoint.store.backends.nats_log import NatsEventLog

    if not isinstance(log, NatsEventLog):
        return None
    from touchpoint.store.backends.nats_routed import NatsRoutedLog

    return NatsRoutedLog(log)


@dataclass
class Container:
    """Everything an entry point needs, built once from Settings: one flat, typed object.

    Each domain states what it reads as a protocol (`IdentityEnv`, `IndicatorEnv`, `TagEnv`, `ChannelEnv`,
    `JourneyEnv`, `ImportEnv`, `CollectorEnv`); the container provides them all and is passed down as is.
    """

    settings: Settings
    clock: Clock
    calendar: TradingCalendar
    ops: OperationalStore
    analytics: AnalyticalStore
    log: EventLog
    identity_policy: IdentityPolicy
    settings_channel_policy: ChannelPolicy
    """The settings' [channel_policy]: in effect until the registry holds channel_policy/default."""
    public_url: str
    receipt_tokens: dict[str, str]
    lease_seconds: float
    routing_partitions: int
    routed: RoutedLog | None
    """The routed stream beside a NATS event log, on its connection (journeys/routing.py)."""
    routing_source: str
    rejects_dir: Path
    collector_window: TimeWindow
    collector_limits: CollectorLimits
    account_policy: AccountPolicy
    pii_attributes: dict[str, PiiKind]
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    ingest_buckets: dict[int, TokenBucket] = field(default_factory=dict)
    _providers: dict[str, Provider] | None = field(default=None, repr=False)
    _http: httpx.Client | None = field(default=None, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)
    _policy: PolicyCache = field(default_factory=PolicyCache, init=False, repr=False)

    @property
    def channel_policy(self) -> ChannelPolicy:
        """The policy every send and content check uses: the registry's channel_policy/default when it
        exists, else the settings' (its version re-checked every few seconds: channels/channel_policy.py)."""
        return self.effective_channel_policy().policy

    def effective_channel_policy(self) -> ChannelPolicyRead:
        """The effective channel policy with its source and version."""
        return self._policy.read(self.ops, self.settings_channel_policy)

    @property
    def providers(self) -> dict[str, Provider]:
        """The configured provider of each channel, built on first use (they keep access tokens and
        connections; most commands never send)."""
        if self._providers is None:
            self._http = httpx.Client(timeout=10)
            self._providers = build_providers(self.settings.channels, self._http, self.clock)
        return self._providers

    @property
    def registry(self) -> Registry:
        """The one definitions registry, every kind registered in the order apply writes them."""
        # Imported here: the domain services pull in pandas, ibis and the channel stack, which would slow
        # the start of every command that builds a container and never touches a definition.
        from touchpoint.channels.service import template_kind
        from touchpoint.indicators.service import indicator_kind
        from touchpoint.journeys.service import journey_kind, segments_in_use
        from touchpoint.moments.service import rule_kind
        from touchpoint.segments.service import segment_kind
        from touchpoint.tags.service import indicator_dependents, tag_kind

        return Registry(
            ops=self.ops,
            clock=self.clock,
            kinds=[
                indicator_kind(self, lambda name: indicator_dependents(env=self, indicator=name)),
                tag_kind(self),
                segment_kind(self, lambda name: name in segments_in_use(env=self)),
                template_kind(self),
                channel_policy_kind(ops=self.ops, clock=self.clock, on_change=self._policy.forget),
                rule_kind(self),
                journey_kind(self),
            ],
        )

    @property
    def approval_handlers(self) -> dict[str, Handler]:
        """What applies each kind of approved request."""
        from touchpoint.channels.service import activation_handler  # imported late, as in `registry`
        from touchpoint.journeys.service import publication_handler

        registry = self.registry
        return {
            "definitions.apply": registry.handler,
            "segment.change": registry.handler,
            "journey.publish": publication_handler(self),
            "template.activate": activation_handler(self),
            "segment.export": lambda payload, maker: lambda connection: {"granted": maker.user},
        }

    def warehouse(self) -> WarehouseSource:
        """The data warehouse's tables through Spark's catalog (the engine's session when engine = spark;
        else a session of its own from spark_master and spark_config, which name the metastore)."""
        from touchpoint.store.backends.hive import SparkWarehouse
        from touchpoint.store.backends.spark import spark_session

        settings = self.settings
        return SparkWarehouse(lambda: spark_session(settings.spark_master, settings.spark_config))

    def recording(self, *, ops: OperationalStore, clock: Clock, log: EventLog) -> Container:
        """The same settings on other stores and clock, every provider replaced by one that records (a
        simulation applies every rule a real send would, and sends nothing)."""
        recorders: dict[str, Provider] = {channel: LogProvider(LogConfig()) for channel in self.providers}
        return replace(self, ops=ops, clock=clock, log=log, buckets={}, _providers=recorders, _http=None)

    def close(self) -> None:
        """Release database connections, the analytical engine's connections and the event log."""
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
    ops = OperationalStore(
        settings.operational_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    if migrate:
        ops.upgrade()
    layouts = [*analytical_layouts(), INDICATOR_VALUES, TAG_VALUES, TAG_BITMAPS, SEGMENT_MEMBERS]
    clock = clock or SystemClock()
    analytics = AnalyticalStore(
        settings.analytical_dir,
        layouts,
        _engine_backend(settings),
        clock=clock,
        derived_budget_bytes=settings.preview_cache_mb << 20,
    )
    calendar = TradingCalendar(settings.timezone, settings.exchange, settings.extra_holidays)
    s = settings
    event_log = _event_log(settings, ops)
    return Container(
        settings=settings,
        clock=clock,
        calendar=calendar,
        ops=ops,
        analytics=analytics,
        log=event_log,
        identity_policy=IdentityPolicy(
            default_mode=s.identity_mode,
            modes=s.identity_project_modes,
            shared_after=s.identity_shared_device_logins,
        ),
        settings_channel_policy=s.channel_policy,
        public_url=s.public_url,
        receipt_tokens={
            channel: str(config["receipt_token"])
            for channel, config in s.channels.items()
            if config.get("receipt_token")
        },
        lease_seconds=s.dispatch_lease_seconds,
        routing_partitions=s.journey_routing_partitions,
        routed=_routed_log(event_log),
        routing_source=s.journey_routing_source,
        rejects_dir=s.rejects_dir,
        collector_window=TimeWindow(
            max_age=timedelta(days=s.collector_max_age_days),
            max_future=timedelta(minutes=s.collector_max_future_minutes),
        ),
        collector_limits=CollectorLimits(
            max_body=s.collector_max_body_mb << 20,
            max_inflated=s.collector_max_inflated_mb << 20,
            max_events=s.collector_max_events,
            max_values=s.collector_max_values,
            max_properties=s.collector_max_properties,
            max_depth=s.collector_max_depth,
            max_value_chars=s.collector_max_value_chars,
            concurrent_batches=s.collector_concurrent_batches,
        ),
        account_policy=s.accounts,
        pii_attributes=s.pii_attributes,
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
