"""Maker-checker approvals: requests held back until a second person decides, and the per-action switches.

Revision ID: 0011_approvals
Revises: 0010_governance
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import JSONText, UTCDateTime

revision = "0011_approvals"
down_revision = "0010_governance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the approvals and approval_policies tables."""
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(256), nullable=False),
        sa.Column("summary", sa.String(512), nullable=False),
        sa.Column("payload", JSONText(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("maker", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checker", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("result", JSONText(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_status_created_at", "approvals", ["status", "created_at"])
    op.create_table(
        "approval_policies",
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("action", name="pk_approval_policies"),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_approvals_status_created_at", table_name="approvals")
    op.drop_table("approvals")
    op.drop_table("approval_policies")
