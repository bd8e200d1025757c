"""Journeys: their lifecycle, per-customer runs (state and timers), step history, the events runs may wait
for, the outbox of effects, its attempts, and the log channel's record.

Revision ID: 0005_journeys
Revises: 0004_segments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import JSONText, UTCDateTime

revision = "0005_journeys"
down_revision = "0004_segments"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the journey tables."""
    op.create_table(
        "journeys",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("admitted_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_journeys"),
    )
    op.create_table(
        "journey_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("journey", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("wake_at", UTCDateTime(), nullable=True),
        sa.Column("wait_event", sa.String(128), nullable=True),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("context", JSONText(), nullable=False),
        sa.Column("active_key", sa.String(200), nullable=True),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_journey_runs"),
        sa.UniqueConstraint("active_key", name="uq_journey_runs_active_key"),
    )
    op.create_index("ix_journey_runs_wake_at", "journey_runs", ["wake_at"])
    op.create_index("ix_journey_runs_wait_event_customer_no", "journey_runs", ["wait_event", "customer_no"])
    op.create_index("ix_journey_runs_customer_no", "journey_runs", ["customer_no"])
    op.create_index("ix_journey_runs_journey_entered_at", "journey_runs", ["journey", "entered_at"])
    op.create_table(
        "journey_steps",
        sa.Column("id", SERIAL, nullable=False, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("journey", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journey_steps"),
    )
    op.create_index("ix_journey_steps_run_id", "journey_steps", ["run_id"])
    op.create_index("ix_journey_steps_journey_version_node", "journey_steps", ["journey", "version", "node"])
    op.create_table(
        "journey_outbox",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("journey", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", JSONText(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_journey_outbox"),
        sa.UniqueConstraint("run_id", "node", "step", name="uq_journey_outbox_run_id_node_step"),
    )
    op.create_index(
        "ix_journey_outbox_status_next_attempt_at", "journey_outbox", ["status", "next_attempt_at"]
    )
    op.create_index("ix_journey_outbox_journey_node", "journey_outbox", ["journey", "node"])
    op.create_table(
        "journey_attempts",
        sa.Column("id", SERIAL, nullable=False, autoincrement=True),
        sa.Column("outbox_id", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journey_attempts"),
    )
    op.create_index("ix_journey_attempts_outbox_id", "journey_attempts", ["outbox_id"])
    op.create_table(
        "journey_inbox",
        sa.Column("id", SERIAL, nullable=False, autoincrement=True),
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.Column("event", sa.String(128), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("properties", JSONText(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journey_inbox"),
    )
    op.create_index(
        "ix_journey_inbox_customer_no_event_time", "journey_inbox", ["customer_no", "event", "time"]
    )
    op.create_table(
        "channel_log",
        sa.Column("outbox_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("outbox_id", name="pk_channel_log"),
    )


def downgrade() -> None:
    """Drop them."""
    for table in (
        "channel_log",
        "journey_attempts",
        "journey_outbox",
        "journey_steps",
        "journey_runs",
        "journeys",
    ):
        op.drop_table(table)
