"""Dead letters: an event-log record a consumer (One ID, compaction, journeys, …) could not process is kept
with the consumer's name, its offset, the error and the record, and the consumer moves past it.

Revision ID: 0008_dead_letters
Revises: 0007_identity_corrections
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import JSONText, UTCDateTime

revision = "0008_dead_letters"
down_revision = "0007_identity_corrections"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the dead-letter table."""
    op.create_table(
        "dead_letters",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=True),
        sa.Column("record", JSONText(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retried_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
        sa.UniqueConstraint("consumer", "offset", name="uq_dead_letters_consumer_offset"),
    )
    op.create_index("ix_dead_letters_status_consumer", "dead_letters", ["status", "consumer"])


def downgrade() -> None:
    """Drop the dead-letter table."""
    op.drop_table("dead_letters")
