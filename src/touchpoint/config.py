"""Settings: one TOML file in the data directory plus `TOUCHPOINT_*` environment variables.

Built once by the entry point and passed down; nothing reads the environment at import time.
Precedence, highest first: explicit arguments, environment, `<home>/touchpoint.toml`, defaults.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_HOME = Path("touchpoint-data")
BANNED_WORDS = (
    "保本",
    "保收益",
    "保证收益",
    "稳赚",
    "稳赚不赔",
    "无风险",
    "零风险",
    "承诺",
    "保证",
    "有保障",
    "高收益",
    "业绩优良",
    "名列前茅",
    "位居前列",
    "最有价值",
    "首只",
    "最好",
    "最强",
    "唯一",
)
DISCLOSURES = ("投资有风险", "市场有风险")
MAX_LENGTHS = {
    "sms": 300,
    "push": 200,
    "wechat": 200,
    "wecom": 2048,
    "email": 100_000,
    "inbox": 2000,
    "webhook": 10_000,
    "log": 10_000,
}


class FrequencyCap(BaseModel):
    """At most this many marketing messages per customer per Beijing day and per week (None: no cap)."""

    model_config = ConfigDict(extra="forbid")

    per_day: int | None = Field(default=None, ge=0)
    per_week: int | None = Field(default=None, ge=0)


class ChannelPolicy(BaseModel):
    """The send-time rules and content rules (DOMAIN.md §3); defaults where no regulation sets a number."""

    model_config = ConfigDict(extra="forbid")

    quiet_start: time = Field(default=time(21, 0), description="marketing quiet hours begin (Beijing time)")
    quiet_end: time = Field(default=time(8, 0), description="and end")
    caps_all_channels: FrequencyCap = Field(
        default_factory=lambda: FrequencyCap(per_day=1, per_week=3),
        description="marketing touches per customer across every channel",
    )
    caps_per_channel: dict[str, FrequencyCap] = Field(default_factory=dict)
    banned_words: list[str] = Field(default_factory=lambda: list(BANNED_WORDS))
    disclosures: list[str] = Field(
        default_factory=lambda: list(DISCLOSURES),
        description="one of these must appear in any template that names a product",
    )
    max_lengths: dict[str, int] = Field(default_factory=lambda: dict(MAX_LENGTHS))
    risk_test_valid_days: int = Field(default=730, ge=1, description="a risk assessment expires after this")
    suitability_rule_version: str = "CSRC-2017-适当性匹配-v1"


PiiKind = Literal["name", "phone", "id_number", "email", "address"]
DEFAULT_PII_ATTRIBUTES: dict[str, PiiKind] = {
    "name": "name",
    "phone": "phone",
    "mobile": "phone",
    "id_number": "id_number",
    "email": "email",
    "address": "address",
}
"""The attributes that hold personal data in the canonical tables and SDK profiles, by kind
(governance/masking.py masks them for callers without `pii:view`)."""


class AccountPolicy(BaseModel):
    """Sign-in rules: password strength, lock-out after failures, session lifetime (issue 15)."""

    model_config = ConfigDict(extra="forbid")

    password_min_length: int = Field(default=10, ge=8, le=128)
    lockout_failures: int = Field(default=5, ge=1, description="failed sign-ins in a row that lock a user")
    lockout_minutes: int = Field(default=15, ge=1, description="how long a lock lasts")
    session_idle_minutes: int = Field(default=120, ge=1, description="a session unused this long ends")
    session_max_hours: int = Field(default=12, ge=1, description="a session ends this long after sign-in")
    cookie_secure: bool = Field(default=False, description="send the session cookie over HTTPS only")


CONFIG_FILE_NAME = "touchpoint.toml"


class Settings(BaseSettings):
    """Everything a deployment can configure."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore")

    home: Path = Field(default=DEFAULT_HOME, description="data directory holding the embedded stores")
    database_url: str | None = Field(
        default=None, description="operational store; SQLite file in the data directory when unset"
    )
    database_pool_size: int = Field(
        default=5, ge=1, le=200, description="PostgreSQL: connections each process keeps open"
    )
    database_max_overflow: int = Field(
        default=10, ge=0, le=200, description="PostgreSQL: connections a process may open beyond the pool"
    )
    engine: Literal["duckdb", "spark"] = Field(default="duckdb", description="analytical engine")
    duckdb_memory_limit: str | None = Field(
        default=None,
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="engine = duckdb: the memory each process's DuckDB may use before it spills to "
        "<home>/.duckdb-spill (e.g. \"4GB\"); default DuckDB's own, 80 % of the machine's memory",
    )
    spark_master: str = Field(default="local[*]", description="Spark master URL for engine = spark")
    spark_config: dict[str, str] = Field(
        default_factory=dict, description="Spark settings for engine = spark (spark.local.dir, memory…)"
    )
    warehouse_map: Path | None = Field(
        default=None,
        description="file mapping a data warehouse's (Hive metastore's) tables to the canonical tables, read "
        "by `touchpoint warehouse sync` through Spark (spark_master, spark_config); default "
        "<home>/warehouse.toml",
    )
    timezone: str = Field(default="Asia/Shanghai", description="brokerage time zone for business rules")
    exchange: str = Field(default="XSHG", description="exchange calendar for trading days")
    extra_holidays: list[date] = Field(
        default_factory=list, description="exchange holidays beyond those exchange-calendars records"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: int = Field(default=2048, description="largest import file the API accepts")
    event_log: Literal["sql", "nats"] = Field(default="sql", description="event log backend")
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server for event_log = nats")
    nats_stream: str = Field(
        default="TOUCHPOINT_EVENTS",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="JetStream stream of the event log: one per deployment sharing a NATS server",
    )
    collector_max_body_mb: int = Field(default=8, description="largest request body the collector reads")
    collector_max_inflated_mb: int = Field(default=32, description="largest decompressed payload")
    # One set of collector limits, the same for parsing and storing (ingest/collector/limits.py).
    collector_max_events: int = Field(default=1_000, ge=1, description="events in one request")
    collector_max_values: int = Field(
        default=200_000, ge=1_000, description="JSON values in one request, counted before it is parsed"
    )
    collector_max_properties: int = Field(
        default=1_000, ge=1, description="members of any object or array in one event (its properties…)"
    )
    collector_max_depth: int = Field(
        default=32, ge=3, le=250, description="levels of objects and arrays in one event (the event is 1)"
    )
    collector_max_value_chars: int = Field(default=65_536, ge=1, description="characters in one string value")
    collector_concurrent_batches: int = Field(
        default=4, ge=1, description="requests a collector process decodes and stores at once"
    )
    collector_max_age_days: int = Field(default=30, description="older events are quarantined")
    collector_max_future_minutes: int = Field(default=60, description="events further ahead are quarantined")
    collector_dedupe_days: int = Field(default=7, description="how long resent events are recognised")
    event_log_retention_days: int = Field(
        default=7, description="processed events older than this leave the event log (they stay in Parquet)"
    )
    collector_require_keys: bool = Field(
        default=True,
        description="accept events only with a live ingestion key of their source (`collector key`)",
    )
    collector_cors_origins: list[str] = Field(
        default_factory=lambda: ["*"],
        description="sites whose pages may post events to the collector from a browser (CORS); '*' any",
    )
    identity_mode: Literal["one_to_one", "many_to_one"] = Field(
        default="many_to_one",
        description="how anonymous ids bind to logins: every device of a customer (many_to_one) or its first",
    )
    identity_shared_device_logins: int = Field(
        default=3,
        ge=2,
        le=1000,
        description="a device seen with this many customers is shared (stays anonymous)",
    )
    identity_project_modes: dict[str, Literal["one_to_one", "many_to_one"]] = Field(default_factory=dict)
    worker_interval_seconds: float = Field(
        default=5.0, description="background compaction and identity cadence"
    )
    # Each worker job runs in its own thread on its own cadence (seconds between the starts of two runs).
    worker_consumers_seconds: float = Field(
        default=1.0, gt=0, description="One ID, compaction and journey event routing"
    )
    worker_timers_seconds: float = Field(default=1.0, gt=0, description="journey admissions and due steps")
    worker_dispatch_seconds: float = Field(default=1.0, gt=0, description="due sends and other effects")
    worker_compute_seconds: float = Field(default=60.0, gt=0, description="check whether computing is due")
    worker_segments_seconds: float = Field(default=60.0, gt=0, description="check for due segment refreshes")
    worker_moments_seconds: float = Field(
        default=30.0, gt=0, description="due MOT rule evaluations and advisor-task escalations"
    )
    task_claim_hours: float = Field(
        default=4.0, gt=0, description="a task in a branch queue unclaimed this long escalates to the manager"
    )
    worker_housekeeping_seconds: float = Field(
        default=300.0, gt=0, description="forget old dedupe keys and trim the event log"
    )
    preview_cache_mb: int = Field(
        default=2048,
        ge=16,
        description="memory a process keeps per snapshot date it previews segments on (two dates at most) "
        "for the indicator columns rules test, held by uid range: 2048 MB is 25 columns at 10M customers, "
        "two at 100M; past it the columns used least recently are read again when named (condition results "
        "take up to a quarter as much again)",
    )
    compute_range_rows: int | None = Field(
        default=None,
        ge=1_000,
        description="customers whose tags are labelled at a time by a computation (memory grows with it); "
        "default 500,000",
    )
    compute_refresh_hours: float = Field(
        default=24.0,
        gt=0,
        description="recompute indicators and tags at least this often (events keep arriving)",
    )
    compute_retry_minutes: float = Field(
        default=15.0, gt=0, description="wait this long before retrying a failed scheduled computation"
    )

    channels: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="a provider per channel: [channels.sms] provider = 'http_sms', url = …, signature = …",
    )
    channel_policy: ChannelPolicy = Field(default_factory=ChannelPolicy)
    journey_routing_partitions: int = Field(
        default=1,
        ge=1,
        le=64,
        description="journey routing split by customer into this many partitions, each routed by one "
        "worker at a time: several workers route at once",
    )
    journey_routing_source: Literal["log", "routed"] = Field(
        default="log",
        description="what routing partitions read: the whole event log, or (event_log = nats) the routed "
        "stream, where One ID's republisher puts each linked event on its customer's subject and each "
        "partition reads only its own; partitions must then be a power of two",
    )
    dispatch_lease_seconds: float = Field(
        default=60.0,
        ge=1,
        description="a dispatcher's claim on journey effects; longer than twice a provider's time-out",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="base of tracked links and unsubscribe links"
    )
    accounts: AccountPolicy = Field(default_factory=AccountPolicy)
    pii_attributes: dict[str, PiiKind] = Field(
        default_factory=lambda: dict(DEFAULT_PII_ATTRIBUTES),
        description="attributes holding personal data, by kind (name, phone, id_number, email, address)",
    )

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _routed_routing_needs_nats(self) -> Settings:
        if self.journey_routing_source == "routed":
            if self.event_log != "nats":
                raise ValueError("journey_routing_source = 'routed' needs event_log = 'nats'")
            partitions = self.journey_routing_partitions
            if partitions & (partitions - 1):
                raise ValueError(
                    f"journey_routing_partitions = {partitions}: the routed stream needs a power of two"
                    " (1, 2, 4, 8, 16, 32 or 64)"
                )
        return self

    @property
    def config_file(self) -> Path:
        """Where this deployment's TOML file lives."""
        return self.home / CONFIG_FILE_NAME

    @property
    def analytical_dir(self) -> Path:
        """Root of the Parquet analytical store."""
        return self.home / "analytical"

    @property
    def warehouse_map_file(self) -> Path:
        """The warehouse mapping file: `warehouse_map`, or warehouse.toml in the data directory."""
        return self.warehouse_map or self.home / "warehouse.toml"

    @property
    def rejects_dir(self) -> Path:
        """Where imports write the rows they skipped."""
        return self.home / "rejects"

    @property
    def operational_url(self) -> str:
        """The SQLAlchemy URL of the operational store."""
        return self.database_url or f"sqlite:///{self.home / 'touchpoint.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments beat the environment, which beats the TOML file in the data directory."""
        home = _home_from(init_settings(), env_settings())
        toml = TomlConfigSettingsSource(settings_cls, toml_file=home / CONFIG_FILE_NAME)
        return (init_settings, env_settings, toml)


def _home_from(init_values: dict[str, Any], env_values: dict[str, Any]) -> Path:
    raw = init_values.get("home") or env_values.get("home") or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


def load_settings(home: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once for an entry point; `home` (e.g. from `--home`) beats TOUCHPOINT_HOME."""
    values = dict(overrides)
    if home is not None:
        values["home"] = home
    return Settings(**values)
