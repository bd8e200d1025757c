"""Collector event log, quarantine and counters; One ID graph and profiles.

Revision ID: 0002_collector_identity
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import JSONText, UTCDateTime

revision = "0002_collector_identity"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the collector and identity tables."""
    op.create_table(
        "event_log",
        sa.Column("offset", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("payload", JSONText(), nullable=False),
        sa.PrimaryKeyConstraint("offset", name="pk_event_log"),
    )
    op.create_table(
        "event_dedupe",
        sa.Column("key", sa.String(320), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_event_dedupe"),
    )
    op.create_index("ix_event_dedupe_seen_at", "event_dedupe", ["seen_at"])
    op.create_table(
        "consumer_offsets",
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name="pk_consumer_offsets"),
    )
    op.create_table(
        "event_quarantine",
        sa.Column("id", _SERIAL, autoincrement=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_quarantine"),
    )
    op.create_index("ix_event_quarantine_reason", "event_quarantine", ["reason"])
    op.create_table(
        "collector_counters",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_collector_counters"),
    )
    op.create_table(
        "persons",
        sa.Column("uid", _SERIAL, autoincrement=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uid", name="pk_persons"),
    )
    op.create_table(
        "identity_links",
        sa.Column("id_type", sa.String(64), nullable=False),
        sa.Column("id_value", sa.String(255), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_type", "id_value", name="pk_identity_links"),
    )
    op.create_index("ix_identity_links_uid", "identity_links", ["uid"])
    op.create_table(
        "identity_log",
        sa.Column("id", _SERIAL, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("from_uid", sa.BigInteger(), nullable=True),
        sa.Column("ids", JSONText(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("undone_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_identity_log"),
    )
    op.create_index("ix_identity_log_uid", "identity_log", ["uid"])
    op.create_table(
        "profile_attributes",
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", JSONText(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("uid", "key", name="pk_profile_attributes"),
    )


def downgrade() -> None:
    """Drop the collector and identity tables."""
    for table in (
        "profile_attributes",
        "identity_log",
        "identity_links",
        "persons",
        "collector_counters",
        "event_quarantine",
        "consumer_offsets",
        "event_dedupe",
        "event_log",
    ):
        op.drop_table(table)
