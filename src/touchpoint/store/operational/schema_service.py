"""Tables of moments of truth (MOT) and advisor service tasks, on the operational store's one metadata.

Kept apart from schema.py so that neither file grows past a reader's patience; schema.py imports this module,
so `metadata` always holds both (Alembic compares it with the migrations).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Integer, String, Table, Text

from touchpoint.store.operational.schema import metadata
from touchpoint.store.operational.types import JSONText, UTCDateTime

mot_evaluations = Table(
    "mot_evaluations",
    metadata,
    # One row per rule and evaluation slot (`2026-10-09T10:00`): a slot is evaluated once, however many
    # workers race for it; `imports_seen` is the newest import the evaluation read, so that a later import
    # on the same day makes a condition rule look again.
    Column("rule", String(64), primary_key=True),
    Column("slot", String(32), primary_key=True),
    Column("evaluated_at", UTCDateTime, nullable=False),
    Column("imports_seen", UTCDateTime, nullable=True),
    Column("fired", Integer, nullable=False),
    Column("error", Text, nullable=True),
)

mot_firings = Table(
    "mot_firings",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("customer_no", String(64), nullable=False),
    Column("occurrence", String(128), nullable=False),
    Column("classification", String(16), nullable=False),
    Column("facts", JSONText, nullable=False),
    Column("fired_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=True),
    Column("task_id", String(32), nullable=True),
    # One firing per customer per occurrence (per IPO, per expiry stage, per plan default …), whoever races.
    Index(None, "rule", "customer_no", "occurrence", unique=True),
    Index(None, "rule", "fired_at"),
    Index(None, "customer_no", "fired_at"),
)

advisor_tasks = Table(
    "advisor_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    # What made it: `mot:<firing id>` or `run:<run id>:<node>:<step>` — unique, so a retried step or a
    # re-evaluated rule never makes a second task.
    Column("source_key", String(160), nullable=False, unique=True),
    Column("source", String(16), nullable=False),
    Column("rule", String(64), nullable=True),
    Column("journey", String(64), nullable=True),
    Column("run_id", String(32), nullable=True),
    Column("node", String(64), nullable=True),
    Column("customer_no", String(64), nullable=False),
    Column("branch_id", String(64), nullable=True),
    Column("advisor_id", String(64), nullable=True),
    Column("title", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("talking_points", Text, nullable=False),
    Column("priority", String(8), nullable=False),
    Column("facts", JSONText, nullable=False),
    Column("suitability", JSONText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(128), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("escalated_at", UTCDateTime, nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("note", Text, nullable=True),
    Column("follow_up_on", Date, nullable=True),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("completed_by", String(128), nullable=True),
    # The advisor's WeCom notice of an urgent task: pending → sending (claimed until `notice_at`) → sent or
    # failed; a pending notice is next tried at `notice_at`.
    Column("notice_status", String(16), nullable=True),
    Column("notice_at", UTCDateTime, nullable=True),
    Column("notice_attempts", Integer, nullable=False, default=0),
    Column("notice_error", Text, nullable=True),
    Index(None, "status", "due_at"),
    Index(None, "notice_status", "notice_at"),
    Index(None, "advisor_id", "status"),
    Index(None, "branch_id", "status"),
    Index(None, "customer_no", "created_at"),
    Index(None, "rule", "created_at"),
)

derived_events = Table(
    "derived_events",
    metadata,
    # Events the system itself makes (`mot_*`, `advisor_task_completed`), written in the transaction that
    # decided them and forwarded to the event log afterwards under their dedupe key (a transactional outbox).
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_key", String(200), nullable=False, unique=True),
    Column("payload", JSONText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("forwarded", Boolean, nullable=False),
    Index(None, "forwarded", "id"),
)
