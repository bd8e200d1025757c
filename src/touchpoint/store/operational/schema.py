"""Tables of the operational store. Alembic migrations under store/migrations create exactly these."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from touchpoint.store.operational.types import JSONText, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

import_runs = Table(
    "import_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("table_name", String(64), nullable=False),
    Column("source_name", Text, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("business_date", Date, nullable=True),
    Column("options", JSONText, nullable=False),
    Column("status", String(32), nullable=False),
    Column("rows_read", BigInteger, nullable=False, default=0),
    Column("rows_imported", BigInteger, nullable=False, default=0),
    Column("rows_rejected", BigInteger, nullable=False, default=0),
    Column("report", JSONText, nullable=True),
    Column("reject_file", Text, nullable=True),
    Column("actor", String(128), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Index(None, "table_name", "source_sha256"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(64), nullable=False),
    Column("target_id", String(256), nullable=False),
    Column("before", JSONText, nullable=True),
    Column("after", JSONText, nullable=True),
    # The hash chain (governance/audit.py): `seq` counts from 1 without gaps, `hash` covers the entry and the
    # previous entry's hash, so an edited, removed or reordered entry breaks the chain where it happened.
    Column("seq", BigInteger, nullable=True),
    Column("source", String(128), nullable=True),
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=True),
    Index(None, "target_type", "target_id"),
    Index(None, "seq", unique=True),
    Index(None, "actor", "at"),
)

audit_head = Table(
    "audit_head",
    metadata,
    # One row: the newest entry's position and hash. Appending updates it first, which takes its row lock
    # on PostgreSQL (SQLite serialises writers anyway), so two appenders cannot fork the chain.
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# ---- users, sessions, API tokens, roles, ingestion keys (governance/) ------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("roles", JSONText, nullable=False),
    Column("branches", JSONText, nullable=False),
    Column("advisor_id", String(64), nullable=True),
    Column("disabled", Boolean, nullable=False),
    Column("must_change_password", Boolean, nullable=False),
    Column("failed_attempts", Integer, nullable=False),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("password_changed_at", UTCDateTime, nullable=False),
    Column("last_sign_in_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    # The cookie holds the session's secret; only its SHA-256 is kept: a copy of the database signs no one in.
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("source", String(128), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index(None, "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, nullable=False),
    Column("name", String(128), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index(None, "user_id"),
)

roles = Table(
    "roles",
    metadata,
    # Only roles an admin created or edited; a built-in role without a row has its catalogue permissions.
    Column("name", String(64), primary_key=True),
    Column("title", String(128), nullable=False),
    Column("permissions", JSONText, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(128), nullable=False),
)

ingest_keys = Table(
    "ingest_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("source", String(16), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("rate_per_second", Integer, nullable=False),
    Column("burst", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

approvals = Table(
    "approvals",
    metadata,
    # A change held back until a second person (not its maker) approves it: what it does (`action`, its
    # `target`), the payload that is applied on approval, the diff the checker reads, and the decision.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(64), nullable=False),
    Column("target", String(256), nullable=False),
    Column("summary", String(512), nullable=False),
    Column("payload", JSONText, nullable=False),
    Column("diff", Text, nullable=False),
    Column("maker", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("checker", String(128), nullable=True),
    Column("reason", Text, nullable=True),
    Column("result", JSONText, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime, nullable=True),
    Index(None, "status", "created_at"),
)

approval_policies = Table(
    "approval_policies",
    metadata,
    # Only actions an admin switched; an action without a row has the default of its catalogue entry.
    Column("action", String(64), primary_key=True),
    Column("required", Boolean, nullable=False),
    Column("threshold", Integer, nullable=True),
    Column("updated_by", String(128), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

meta_values = Table(
    "meta_values",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", JSONText, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# ---- collector and event log (issue: collector and One ID) ----------------------------------------------

event_log = Table(
    "event_log",
    metadata,
    Column("offset", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("payload", JSONText, nullable=False),
)

event_dedupe = Table(
    "event_dedupe",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
    Index(None, "seen_at"),
)

consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("offset", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

event_quarantine = Table(
    "event_quarantine",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("source", String(32), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Index(None, "reason"),
)

collector_counters = Table(
    "collector_counters",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# A log record a consumer could not process: kept with its error, so the consumer moves past it.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("consumer", String(64), nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("event_id", Text, nullable=True),
    Column("received_at", UTCDateTime, nullable=True),
    Column("record", JSONText, nullable=False),
    Column("error", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | retrying | resolved
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("retried_at", UTCDateTime, nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    UniqueConstraint("consumer", "offset"),
    Index(None, "status", "consumer"),
)

# ---- One ID ---------------------------------------------------------------------------------------------

persons = Table(
    "persons",
    metadata,
    Column("uid", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime, nullable=False),
)

identity_links = Table(
    "identity_links",
    metadata,
    Column("id_type", String(64), primary_key=True),
    Column("id_value", String(255), primary_key=True),
    Column("uid", BigInteger, nullable=False),
    Column("linked_at", UTCDateTime, nullable=False),
    Index(None, "uid"),
    Index(None, "id_value"),  # events' identifiers are looked up by value, whatever their type
)

identity_log = Table(
    "identity_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(16), nullable=False),
    Column("uid", BigInteger, nullable=True),
    Column("from_uid", BigInteger, nullable=True),
    Column("ids", JSONText, nullable=False),
    Column("source", String(64), nullable=False),
    Column("reason", Text, nullable=True),
    Column("undone_by", BigInteger, nullable=True),
    Index(None, "uid"),
)

identity_separations = Table(
    "identity_separations",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("left_label", String(330), nullable=False),
    Column("right_label", String(330), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=True),
    Column("lifted_at", UTCDateTime, nullable=True),
    Column("lifted_by", String(128), nullable=True),
    Index(None, "left_label"),
    Index(None, "right_label"),
)
"""Pairs of identifiers an operator separated: never linked again until the separation is lifted."""

identity_sightings = Table(
    "identity_sightings",
    metadata,
    Column("id_type", String(64), primary_key=True),
    Column("id_value", String(255), primary_key=True),
    Column("login", String(255), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)
"""Which logins each device-like identifier was seen with: a device seen with many is shared."""

identity_shared = Table(
    "identity_shared",
    metadata,
    Column("id_type", String(64), primary_key=True),
    Column("id_value", String(255), primary_key=True),
    Column("marked_at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
)
"""Shared devices (a branch kiosk): they link to no customer, and their events stay anonymous."""

profile_attributes = Table(
    "profile_attributes",
    metadata,
    Column("uid", BigInteger, primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", JSONText, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("source", String(32), nullable=False),
)

# ---- definitions, computation runs, models (indicators and tags) ----------------------------------------

definitions = Table(
    "definitions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", JSONText, nullable=True),
    Column("actor", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "kind", "name", "version", unique=True),
)

compute_runs = Table(
    "compute_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("stats", JSONText, nullable=True),
    Column("error", Text, nullable=True),
    Index(None, "business_date"),
)

model_metrics = Table(
    "model_metrics",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("tag", String(128), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("trained_at", UTCDateTime, nullable=False),
    Column("metrics", JSONText, nullable=False),
    Index(None, "tag"),
)

tag_imports = Table(
    "tag_imports",
    metadata,
    Column("tag", String(128), primary_key=True),
    Column("customer_no", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("uploaded_at", UTCDateTime, nullable=False),
)

segment_lists = Table(
    "segment_lists",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

segment_list_members = Table(
    "segment_list_members",
    metadata,
    Column("list_id", String(32), primary_key=True),
    Column("customer_no", String(64), primary_key=True),
)

segment_runs = Table(
    "segment_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("segment", String(128), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("size", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("retry_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Index(None, "segment", "started_at"),
)

journeys = Table(
    "journeys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=True),
    Column("published_at", UTCDateTime, nullable=True),
    Column("admitted_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

JOURNEY_PARTITION_BY = "HASH (customer_no)"
"""Journey runs and effects are hash-partitioned by customer on PostgreSQL (migration 0014 creates the
partitions): their keys hold the customer number, as PostgreSQL requires of a partitioned table's keys."""

PARTITION_TABLE = re.compile(r"(journey_runs|journey_outbox)_p\d{2}")


def declared_name(name: str | None, type_: str, _parent: Any) -> bool:
    """Alembic's `include_name`: False for a partition, which PostgreSQL lists as a table of its own but the
    schema declares as part of its partitioned table."""
    return not (type_ == "table" and name is not None and PARTITION_TABLE.fullmatch(name))


journey_runs = Table(
    "journey_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("journey", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("customer_no", String(64), primary_key=True),
    Column("node", String(64), nullable=True),
    Column("step", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("wake_at", UTCDateTime, nullable=True),
    Column("wait_event", String(128), nullable=True),
    Column("holdout", Boolean, nullable=False),
    Column("context", JSONText, nullable=False),
    Column("active_key", String(200), nullable=True),
    Column("entered_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("end_reason", String(32), nullable=True),
    # Only active runs have a wake-at, so due runs are one range scan in wake-at order.
    Index(None, "wake_at"),
    Index(None, "wait_event", "customer_no"),
    Index(None, "customer_no"),
    Index(None, "journey", "entered_at"),
    # One active run per journey and customer (the key is `journey|customer`, so unique by itself).
    UniqueConstraint("active_key", "customer_no"),
    postgresql_partition_by=JOURNEY_PARTITION_BY,
)

journey_steps = Table(
    "journey_steps",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False),
    Column("journey", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("node", String(64), nullable=False),
    Column("step", Integer, nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("detail", Text, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "run_id"),
    Index(None, "journey", "version", "node"),
)

journey_outbox = Table(
    "journey_outbox",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("run_id", String(32), nullable=False),
    Column("journey", String(64), nullable=False),
    Column("node", String(64), nullable=False),
    Column("step", Integer, nullable=False),
    Column("customer_no", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("payload", JSONText, nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    # A dispatcher's claim: who holds the effect and until when (it calls providers outside any transaction).
    Column("claimed_by", String(32), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    # One effect per run, node and step (a run belongs to one customer, so unique by itself).
    UniqueConstraint("run_id", "node", "step", "customer_no"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "status", "priority", "next_attempt_at"),
    Index(None, "journey", "node"),
    postgresql_partition_by=JOURNEY_PARTITION_BY,
)

journey_attempts = Table(
    "journey_attempts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("outbox_id", String(32), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("detail", Text, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "outbox_id"),
)

channel_log = Table(
    "channel_log",
    metadata,
    Column("outbox_id", String(32), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("customer_no", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

journey_inbox = Table(
    "journey_inbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("customer_no", String(64), nullable=False),
    Column("event", String(128), nullable=False),
    Column("time", UTCDateTime, nullable=False),
    Column("properties", JSONText, nullable=False),
    Index(None, "customer_no", "event", "time"),
)

# ---- channels: templates, sends, receipts, consent, caps, inbox, links -----------------------------------

channel_templates = Table(
    "channel_templates",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("active_version", Integer, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

channel_sends = Table(
    "channel_sends",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("customer_no", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("template", String(64), nullable=False),
    Column("template_version", Integer, nullable=False),
    Column("journey", String(64), nullable=True),
    Column("node", String(64), nullable=True),
    Column("variant", String(64), nullable=True),
    Column("marketing", Boolean, nullable=False),
    Column("product", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("evidence", JSONText, nullable=False),
    Column("provider_message_id", String(128), nullable=True),
    Column("content", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "channel", "provider_message_id"),
    Index(None, "customer_no", "created_at"),
    Index(None, "journey", "node"),
)

channel_events = Table(
    "channel_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("send_id", String(32), nullable=False),
    Column("event", String(64), nullable=False),
    Column("payload", JSONText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("forwarded", Boolean, nullable=False),
    Index(None, "forwarded", "id"),
    Index(None, "send_id", "event", unique=True),  # an outcome of a message counts once, whoever races
)

channel_receipts = Table(
    "channel_receipts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("provider_message_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index(None, "received_at"),
)

channel_consents = Table(
    "channel_consents",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("customer_no", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("source", String(64), nullable=False),
    Column("detail", Text, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "customer_no", "channel", "at"),
)

channel_dnd = Table(
    "channel_dnd",
    metadata,
    Column("customer_no", String(64), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("until", UTCDateTime, nullable=True),
    Column("added_by", String(128), nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
)

channel_counters = Table(
    "channel_counters",
    metadata,
    Column("customer_no", String(64), primary_key=True),
    Column("scope", String(32), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
)

channel_inbox = Table(
    "channel_inbox",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("customer_no", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("url", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime, nullable=True),
    Index(None, "customer_no", "created_at"),
)

channel_links = Table(
    "channel_links",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("send_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "send_id"),
)

# The MOT and advisor-task tables join the same metadata (imported last: that module imports `metadata`).
from touchpoint.store.operational import schema_service  # noqa: E402,F401
