"""Foundation: import runs, audit log, meta values.

Revision ID: 0001_foundation
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import JSONText, UTCDateTime

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the foundation tables."""
    op.create_table(
        "import_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=True),
        sa.Column("options", JSONText(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_imported", sa.BigInteger(), nullable=False),
        sa.Column("rows_rejected", sa.BigInteger(), nullable=False),
        sa.Column("report", JSONText(), nullable=True),
        sa.Column("reject_file", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_import_runs"),
    )
    op.create_index("ix_import_runs_table_name_source_sha256", "import_runs", ["table_name", "source_sha256"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(64), nullable=False),
        sa.Column("target_id", sa.String(256), nullable=False),
        sa.Column("before", JSONText(), nullable=True),
        sa.Column("after", JSONText(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_target_type_target_id", "audit_log", ["target_type", "target_id"])
    op.create_table(
        "meta_values",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", JSONText(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta_values"),
    )


def downgrade() -> None:
    """Drop the foundation tables."""
    op.drop_table("meta_values")
    op.drop_index("ix_audit_log_target_type_target_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_import_runs_table_name_source_sha256", table_name="import_runs")
    op.drop_table("import_runs")
