"""Uploaded customer lists and segment refresh runs.

Revision ID: 0004_segments
Revises: 0003_definitions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import UTCDateTime

revision = "0004_segments"
down_revision = "0003_definitions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the list and run tables."""
    op.create_table(
        "segment_lists",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_segment_lists"),
    )
    op.create_table(
        "segment_list_members",
        sa.Column("list_id", sa.String(32), nullable=False),
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("list_id", "customer_no", name="pk_segment_list_members"),
    )
    op.create_table(
        "segment_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("segment", sa.String(128), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retry_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_segment_runs"),
    )
    op.create_index("ix_segment_runs_segment_started_at", "segment_runs", ["segment", "started_at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_segment_runs_segment_started_at", table_name="segment_runs")
    for table in ("segment_runs", "segment_list_members", "segment_lists"):
        op.drop_table(table)
