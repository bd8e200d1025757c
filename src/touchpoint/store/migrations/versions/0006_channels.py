"""Channels: message templates' lifecycle, every send with its evidence, message events waiting to enter the
event log, receipts that came before their send was committed, consent records, the do-not-disturb list,
frequency counters, the in-app inbox and tracked links.

Revision ID: 0006_channels
Revises: 0005_journeys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import JSONText, UTCDateTime

revision = "0006_channels"
down_revision = "0005_journeys"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the channel tables; journey effects carry their journey's priority (who wins a capped slot)."""
    with op.batch_alter_table("journey_outbox") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    op.create_index(
        "ix_journey_outbox_status_priority_next_attempt_at",
        "journey_outbox",
        ["status", "priority", "next_attempt_at"],
    )
    op.create_table(
        "channel_templates",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("active_version", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_channel_templates"),
    )
    op.create_table(
        "channel_sends",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("journey", sa.String(64), nullable=True),
        sa.Column("node", sa.String(64), nullable=True),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("product", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evidence", JSONText(), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_sends"),
    )
    op.create_index(
        "ix_channel_sends_channel_provider_message_id", "channel_sends", ["channel", "provider_message_id"]
    )
    op.create_index("ix_channel_sends_customer_no_created_at", "channel_sends", ["customer_no", "created_at"])
    op.create_index("ix_channel_sends_journey_node", "channel_sends", ["journey", "node"])
    op.create_table(
        "channel_events",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("send_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("payload", JSONText(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("forwarded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_events"),
    )
    op.create_index("ix_channel_events_forwarded_id", "channel_events", ["forwarded", "id"])
    op.create_index("ix_channel_events_send_id_event", "channel_events", ["send_id", "event"], unique=True)
    op.create_table(
        "channel_receipts",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_receipts"),
    )
    op.create_index("ix_channel_receipts_received_at", "channel_receipts", ["received_at"])
    op.create_table(
        "channel_consents",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_consents"),
    )
    op.create_index(
        "ix_channel_consents_customer_no_channel_at", "channel_consents", ["customer_no", "channel", "at"]
    )
    op.create_table(
        "channel_dnd",
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_no", name="pk_channel_dnd"),
    )
    op.create_table(
        "channel_counters",
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_no", "scope", "period", name="pk_channel_counters"),
    )
    op.create_table(
        "channel_inbox",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_channel_inbox"),
    )
    op.create_index("ix_channel_inbox_customer_no_created_at", "channel_inbox", ["customer_no", "created_at"])
    op.create_table(
        "channel_links",
        sa.Column("code", sa.String(24), nullable=False),
        sa.Column("send_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_channel_links"),
    )
    op.create_index("ix_channel_links_send_id", "channel_links", ["send_id"])


def downgrade() -> None:
    """Drop the channel tables."""
    for table in (
        "channel_links",
        "channel_inbox",
        "channel_counters",
        "channel_dnd",
        "channel_consents",
        "channel_receipts",
        "channel_events",
        "channel_sends",
        "channel_templates",
    ):
        op.drop_table(table)
    op.drop_index("ix_journey_outbox_status_priority_next_attempt_at", "journey_outbox")
    with op.batch_alter_table("journey_outbox") as batch:
        batch.drop_column("priority")
