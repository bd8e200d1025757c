"""Versioned definitions, computation runs, model metrics, imported tag values.

Revision ID: 0003_definitions
Revises: 0002_collector_identity
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import JSONText, UTCDateTime

revision = "0003_definitions"
down_revision = "0002_collector_identity"
branch_labels = None
depends_on = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the definition and computation tables."""
    op.create_table(
        "definitions",
        sa.Column("id", _SERIAL, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", JSONText(), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_definitions"),
    )
    op.create_index(
        "ix_definitions_kind_name_version", "definitions", ["kind", "name", "version"], unique=True
    )
    op.create_table(
        "compute_runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("stats", JSONText(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_compute_runs"),
    )
    op.create_index("ix_compute_runs_business_date", "compute_runs", ["business_date"])
    op.create_table(
        "model_metrics",
        sa.Column("id", _SERIAL, autoincrement=True),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("trained_at", UTCDateTime(), nullable=False),
        sa.Column("metrics", JSONText(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_metrics"),
    )
    op.create_index("ix_model_metrics_tag", "model_metrics", ["tag"])
    op.create_table(
        "tag_imports",
        sa.Column("tag", sa.String(128), nullable=False),
        sa.Column("customer_no", sa.String(64), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tag", "customer_no", name="pk_tag_imports"),
    )


def downgrade() -> None:
    """Drop them."""
    for table in ("tag_imports", "model_metrics", "compute_runs", "definitions"):
        op.drop_table(table)
