"""Effect leases: a dispatcher claims journey effects for a while (`lease_until`) under its own id
(`claimed_by`) and commits, calls the providers with no transaction open, then records each outcome only if
the claim is still its own. An effect whose lease ran out (its dispatcher died) is claimed again.

Revision ID: 0009_effect_leases
Revises: 0008_dead_letters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from touchpoint.store.operational.types import UTCDateTime

revision = "0009_effect_leases"
down_revision = "0008_dead_letters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the claim's holder and expiry to the journey outbox."""
    with op.batch_alter_table("journey_outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(32), nullable=True))
        batch.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Drop the claim columns (effects in flight are then claimable at once)."""
    with op.batch_alter_table("journey_outbox") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
