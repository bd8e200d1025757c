"""An index on identity links by value alone: routing looks events' identifiers up by value, whatever their
type, and the primary key (type, value) cannot serve that — every routing batch scanned the whole graph.

Revision ID: 0013_identity_value_index
Revises: 0012_moments_tasks
"""

from __future__ import annotations

from alembic import op

revision = "0013_identity_value_index"
down_revision = "0012_moments_tasks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index identity_links.id_value."""
    op.create_index("ix_identity_links_id_value", "identity_links", ["id_value"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_identity_links_id_value", table_name="identity_links")
