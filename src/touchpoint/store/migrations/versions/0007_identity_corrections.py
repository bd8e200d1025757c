"""One ID corrections: separations an operator made (never re-merged until lifted), the logins each device
was seen with, and the devices found to be shared; an index for unmerge's search of the merge log.

Revision ID: 0007_identity_corrections
Revises: 0006_channels
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import UTCDateTime

revision = "0007_identity_corrections"
down_revision = "0006_channels"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the separation, sighting and shared-device tables."""
    op.create_table(
        "identity_separations",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("left_label", sa.String(330), nullable=False),
        sa.Column("right_label", sa.String(330), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_identity_separations"),
    )
    op.create_index("ix_identity_separations_left_label", "identity_separations", ["left_label"])
    op.create_index("ix_identity_separations_right_label", "identity_separations", ["right_label"])
    op.create_table(
        "identity_sightings",
        sa.Column("id_type", sa.String(64), nullable=False),
        sa.Column("id_value", sa.String(255), nullable=False),
        sa.Column("login", sa.String(255), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_type", "id_value", "login", name="pk_identity_sightings"),
    )
    op.create_table(
        "identity_shared",
        sa.Column("id_type", sa.String(64), nullable=False),
        sa.Column("id_value", sa.String(255), nullable=False),
        sa.Column("marked_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id_type", "id_value", name="pk_identity_shared"),
    )


def downgrade() -> None:
    """Drop the One ID correction tables."""
    for table in ("identity_shared", "identity_sightings", "identity_separations"):
        op.drop_table(table)
