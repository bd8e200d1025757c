"""Journey runs and the outbox partitioned by customer on PostgreSQL.

At ten million customers a journey leaves ten million runs and as many effects; on PostgreSQL both tables
become hash-partitioned by customer number into JOURNEY_PARTITIONS partitions, so each partition's indexes
stay small, vacuum works partition by partition, and workers claiming due runs or effects spread over them.
PostgreSQL requires a partitioned table's primary key and unique constraints to hold the partition key:
the primary keys become (id, customer_no), a run's active key (journey|customer) is unique with its
customer, and an effect's (run, node, step) with its customer. The two unique keys hold as before, since an
active key and a run each belong to one customer; an id alone is no longer unique in the database, but ids
are random and made by the application. SQLite gets the same keys, unpartitioned.

Upgrading copies each table's rows into the partitioned one, in the migration's transaction; the keys and
indexes are built after the copy, and the table is analysed (autovacuum never analyses a partitioned
table's parent, whose statistics the planner uses).

Revision ID: 0014_journey_partitions
Revises: 0013_identity_value_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_journey_partitions"
down_revision = "0013_identity_value_index"
branch_labels = None
depends_on = None

JOURNEY_PARTITIONS = 16

RUNS_INDEXES = {
    "ix_journey_runs_wake_at": ["wake_at"],
    "ix_journey_runs_wait_event_customer_no": ["wait_event", "customer_no"],
    "ix_journey_runs_customer_no": ["customer_no"],
    "ix_journey_runs_journey_entered_at": ["journey", "entered_at"],
}
OUTBOX_INDEXES = {
    "ix_journey_outbox_status_next_attempt_at": ["status", "next_attempt_at"],
    "ix_journey_outbox_status_priority_next_attempt_at": ["status", "priority", "next_attempt_at"],
    "ix_journey_outbox_journey_node": ["journey", "node"],
}
# (table, old unique constraint, its columns, new unique constraint, its columns, indexes)
TABLES = (
    (
        "journey_runs",
        "uq_journey_runs_active_key",
        ["active_key"],
        "uq_journey_runs_active_key_customer_no",
        ["active_key", "customer_no"],
        RUNS_INDEXES,
    ),
    (
        "journey_outbox",
        "uq_journey_outbox_run_id_node_step",
        ["run_id", "node", "step"],
        "uq_journey_outbox_run_id_node_step_customer_no",
        ["run_id", "node", "step", "customer_no"],
        OUTBOX_INDEXES,
    ),
)


def upgrade() -> None:
    """Key runs and effects by customer too; on PostgreSQL, partition both tables by customer hash."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, old_unique, _, new_unique, unique_columns, indexes in TABLES:
        if postgres:
            _rebuild(table, ["id", "customer_no"], (new_unique, unique_columns), indexes, partitions=True)
        else:
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.drop_constraint(old_unique, type_="unique")
                batch.create_unique_constraint(new_unique, unique_columns)
                batch.drop_constraint(f"pk_{table}", type_="primary")
                batch.create_primary_key(f"pk_{table}", ["id", "customer_no"])


def downgrade() -> None:
    """Back to plain tables keyed by id alone."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, old_unique, old_columns, new_unique, _, indexes in TABLES:
        if postgres:
            _rebuild(table, ["id"], (old_unique, old_columns), indexes, partitions=False)
        else:
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.drop_constraint(new_unique, type_="unique")
                batch.create_unique_constraint(old_unique, old_columns)
                batch.drop_constraint(f"pk_{table}", type_="primary")
                batch.create_primary_key(f"pk_{table}", ["id"])


def _rebuild(
    table: str,
    key: list[str],
    unique: tuple[str, list[str]],
    indexes: dict[str, list[str]],
    *,
    partitions: bool,
) -> None:
    """Recreate `table` with the given keys (partitioned by customer hash or not) and copy its rows."""
    old = f"{table}_before_0014"
    op.rename_table(table, old)
    bind = op.get_bind()
    # The names of the old table's constraints and indexes are freed for the new one.
    keys_of = (
        "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u')"
    )
    for name in list(bind.execute(sa.text(keys_of), {"t": old}).scalars()):
        op.execute(sa.text(f'ALTER TABLE "{old}" DROP CONSTRAINT "{name}"'))
    indexes_of = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :t"
    for name in list(bind.execute(sa.text(indexes_of), {"t": old}).scalars()):
        op.execute(sa.text(f'DROP INDEX "{name}"'))
    partitioned = " PARTITION BY HASH (customer_no)" if partitions else ""
    op.execute(sa.text(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS){partitioned}'))
    if partitions:
        for remainder in range(JOURNEY_PARTITIONS):
            op.execute(
                sa.text(
                    f'CREATE TABLE "{table}_p{remainder:02d}" PARTITION OF "{table}" '
                    f"FOR VALUES WITH (MODULUS {JOURNEY_PARTITIONS}, REMAINDER {remainder})"
                )
            )
    op.execute(sa.text(f'INSERT INTO "{table}" SELECT * FROM "{old}"'))
    op.drop_table(old)
    op.create_primary_key(f"pk_{table}", table, key)
    op.create_unique_constraint(unique[0], table, unique[1])
    for name, columns in indexes.items():
        op.create_index(name, table, columns)
    op.execute(sa.text(f'ANALYZE "{table}"'))
