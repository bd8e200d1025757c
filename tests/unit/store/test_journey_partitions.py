"""Journey runs and effects partitioned by customer on PostgreSQL (migration 0014): the keys still allow one
active run per journey and customer and one effect per run step, on both stores; on PostgreSQL the rows
spread over the hash partitions, and runs in flight before the upgrade are all there after it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from support import postgres_schema_url
from touchpoint.journeys.engine import Run
from touchpoint.journeys.repo import insert_runs, save_run
from touchpoint.store.operational.db import OperationalStore, _alembic_config
from touchpoint.store.operational.schema import journey_outbox, journey_runs

AT = datetime(2026, 3, 2, 1, tzinfo=UTC)
# Runs are inserted with COPY on PostgreSQL, whose violation reaches the caller as the driver's error.
DUPLICATE = IntegrityError
POSTGRES_ENV = "TOUCHPOINT_TEST_POSTGRES_URL"
PARTITIONS = 16

pytestmark = pytest.mark.usefixtures("migrations_run_in_full")


def _run(run_id: str, customer: str, status: str = "waiting") -> Run:
    return Run(
        id=run_id,
        journey="j",
        version=1,
        customer_no=customer,
        node="n",
        step=0,
        status=status,
        entered_at=AT,
    )


def _effect(effect_id: str, run_id: str, customer: str, step: int = 0) -> dict[str, object]:
    return {
        "id": effect_id,
        "run_id": run_id,
        "journey": "j",
        "node": "n",
        "step": step,
        "customer_no": customer,
        "kind": "send",
        "payload": {},
        "status": "pending",
        "attempts": 0,
        "created_at": AT,
    }


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema of the test PostgreSQL database."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    yield from postgres_schema_url(base)


@pytest.fixture
def ops(database_url: str) -> OperationalStore:
    store = OperationalStore(database_url)
    store.upgrade()
    return store


def test_one_active_run_per_journey_and_customer(ops: OperationalStore) -> None:
    with ops.begin() as connection:
        insert_runs(connection, [_run("r1", "C1"), _run("r2", "C2")], AT)
    with pytest.raises(DUPLICATE), ops.begin() as connection:
        insert_runs(connection, [_run("r3", "C1")], AT)
    with ops.begin() as connection:
        # Ending the run frees the customer to enter again.
        save_run(connection, _run("r1", "C1", status="completed"), AT)
        insert_runs(connection, [_run("r3", "C1")], AT)
        statuses = dict(connection.execute(sa.select(journey_runs.c.id, journey_runs.c.status)).all())
    assert statuses == {"r1": "completed", "r2": "waiting", "r3": "waiting"}


def test_one_effect_per_run_step(ops: OperationalStore) -> None:
    with ops.begin() as connection:
        connection.execute(
            sa.insert(journey_outbox), [_effect("e1", "r1", "C1"), _effect("e2", "r1", "C1", 1)]
        )
    with pytest.raises(IntegrityError), ops.begin() as connection:
        connection.execute(sa.insert(journey_outbox), [_effect("e3", "r1", "C1")])


@pytest.mark.postgres
def test_runs_and_effects_spread_over_the_hash_partitions(postgres_url: str) -> None:
    store = OperationalStore(postgres_url)
    store.upgrade()
    customers = [f"C{i:05d}" for i in range(400)]
    with store.begin() as connection:
        insert_runs(connection, [_run(f"r{i}", c) for i, c in enumerate(customers)], AT)
        connection.execute(
            sa.insert(journey_outbox), [_effect(f"e{i}", f"r{i}", c) for i, c in enumerate(customers)]
        )
    with store.engine.connect() as connection:
        for table in ("journey_runs", "journey_outbox"):
            strategy = connection.execute(
                sa.text("SELECT partstrat FROM pg_partitioned_table WHERE partrelid = CAST(:t AS regclass)"),
                {"t": table},
            ).scalar_one()
            assert strategy == "h"
            counts = connection.execute(
                sa.text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")
            ).all()
            assert len(counts) == PARTITIONS  # 400 customers reach every one of 16 partitions
            assert sum(n for _, n in counts) == 400
            assert max(n for _, n in counts) < 60  # about 25 each
    store.dispose()


@pytest.mark.postgres
def test_runs_and_effects_in_flight_survive_the_upgrade(postgres_url: str) -> None:
    store = OperationalStore(postgres_url)
    with store.engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0013_identity_value_index")
        connection.execute(
            sa.text(
                "INSERT INTO journey_runs (id, journey, version, customer_no, node, step, status, holdout, "
                "context, active_key, entered_at, updated_at) VALUES (:id, 'j', 1, :c, 'n', 0, 'active', "
                "false, '{}', :key, :at, :at)"
            ),
            [
                {"id": f"r{i}", "c": f"C{i}", "key": f"j|C{i}", "at": AT.replace(tzinfo=None)}
                for i in range(50)
            ],
        )
        connection.execute(
            sa.text(
                "INSERT INTO journey_outbox (id, run_id, journey, node, step, customer_no, kind, payload, "
                "status, attempts, created_at) VALUES (:id, :run, 'j', 'n', 0, :c, 'send', '{}', 'pending', "
                "0, :at)"
            ),
            [{"id": f"e{i}", "run": f"r{i}", "c": f"C{i}", "at": AT.replace(tzinfo=None)} for i in range(50)],
        )
    store.upgrade()
    with store.engine.connect() as connection:
        runs = connection.execute(
            sa.text("SELECT count(*), count(DISTINCT tableoid) FROM journey_runs")
        ).one()
        effects = connection.execute(sa.text("SELECT count(*) FROM journey_outbox WHERE status = 'pending'"))
        assert runs[0] == 50
        assert runs[1] > 1  # spread over partitions
        assert effects.scalar_one() == 50
    with pytest.raises(DUPLICATE), store.begin() as connection:
        insert_runs(connection, [_run("again", "C7")], AT)  # C7's run is still active after the upgrade
    store.dispose()


def test_the_partitioning_downgrades_with_its_rows(database_url: str) -> None:
    store = OperationalStore(database_url)
    store.upgrade()
    with store.begin() as connection:
        insert_runs(connection, [_run("r1", "C1"), _run("r2", "C2")], AT)
        connection.execute(sa.insert(journey_outbox), [_effect("e1", "r1", "C1")])
    with store.engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0013_identity_value_index")
    with store.engine.connect() as connection:
        runs = connection.execute(sa.text("SELECT id FROM journey_runs ORDER BY id")).scalars().all()
        effects = connection.execute(sa.text("SELECT count(*) FROM journey_outbox")).scalar_one()
        keys = sa.inspect(connection).get_pk_constraint("journey_runs")["constrained_columns"]
    assert (runs, effects, keys) == (["r1", "r2"], 1, ["id"])
    store.upgrade()  # and up again
    assert store.current_revision() == store.head_revision()
    store.dispose()
