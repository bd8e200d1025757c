"""Moments of truth and advisor tasks: MOT evaluations and firings, advisor service tasks, and the outbox of
events the system derives (mot_*, advisor_task_completed).

Revision ID: 0012_moments_tasks
Revises: 0011_approvals
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import JSONText, UTCDateTime

revision = "0012_moments_tasks"
down_revision = "0011_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create mot_evaluations, mot_firings, advisor_tasks and derived_events."""
    op.create_table(
        "advisor_tasks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source_key", sa.String(length=160), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("journey", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("node", sa.String(length=64), nullable=True),
        sa.Column("customer_no", sa.String(length=64), nullable=False),
        sa.Column("branch_id", sa.String(length=64), nullable=True),
        sa.Column("advisor_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("talking_points", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("facts", JSONText(), nullable=False),
        sa.Column("suitability", JSONText(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("escalated_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("follow_up_on", sa.Date(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("completed_by", sa.String(length=128), nullable=True),
        sa.Column("notice_status", sa.String(length=16), nullable=True),
        sa.Column("notice_at", UTCDateTime(), nullable=True),
        sa.Column("notice_attempts", sa.Integer(), nullable=False),
        sa.Column("notice_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=("pk_advisor_tasks")),
        sa.UniqueConstraint("source_key", name=("uq_advisor_tasks_source_key")),
    )
    op.create_index(
        "ix_advisor_tasks_advisor_id_status", "advisor_tasks", ["advisor_id", "status"], unique=False
    )
    op.create_index(
        "ix_advisor_tasks_branch_id_status", "advisor_tasks", ["branch_id", "status"], unique=False
    )
    op.create_index(
        "ix_advisor_tasks_customer_no_created_at",
        "advisor_tasks",
        ["customer_no", "created_at"],
        unique=False,
    )
    op.create_index("ix_advisor_tasks_rule_created_at", "advisor_tasks", ["rule", "created_at"], unique=False)
    op.create_index("ix_advisor_tasks_status_due_at", "advisor_tasks", ["status", "due_at"], unique=False)
    op.create_index(
        "ix_advisor_tasks_notice_status_notice_at",
        "advisor_tasks",
        ["notice_status", "notice_at"],
        unique=False,
    )
    op.create_table(
        "derived_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("payload", JSONText(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("forwarded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=("pk_derived_events")),
        sa.UniqueConstraint("event_key", name=("uq_derived_events_event_key")),
    )
    op.create_index("ix_derived_events_forwarded_id", "derived_events", ["forwarded", "id"], unique=False)
    op.create_table(
        "mot_evaluations",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=32), nullable=False),
        sa.Column("evaluated_at", UTCDateTime(), nullable=False),
        sa.Column("imports_seen", UTCDateTime(), nullable=True),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("rule", "slot", name=("pk_mot_evaluations")),
    )
    op.create_table(
        "mot_firings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("customer_no", sa.String(length=64), nullable=False),
        sa.Column("occurrence", sa.String(length=128), nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=False),
        sa.Column("facts", JSONText(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=("pk_mot_firings")),
    )
    op.create_index(
        "ix_mot_firings_customer_no_fired_at", "mot_firings", ["customer_no", "fired_at"], unique=False
    )
    op.create_index(
        "ix_mot_firings_rule_customer_no_occurrence",
        "mot_firings",
        ["rule", "customer_no", "occurrence"],
        unique=True,
    )
    op.create_index("ix_mot_firings_rule_fired_at", "mot_firings", ["rule", "fired_at"], unique=False)


def downgrade() -> None:
    """Drop the four tables."""
    for table in ("mot_firings", "mot_evaluations", "derived_events", "advisor_tasks"):
        op.drop_table(table)
