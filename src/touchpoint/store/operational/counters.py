"""Counters that concurrent writers raise atomically: up to a limit (frequency caps), or by any amount (the
collector's counts)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from touchpoint.store.operational.schema import channel_counters, collector_counters


def bump_below(connection: Connection, *, customer_no: str, scope: str, period: str, limit: int) -> bool:
    """Add one to the counter if it is below `limit`; False (and nothing changed) when it is not.

    One INSERT … ON CONFLICT DO UPDATE … WHERE count < limit: the row lock the update takes makes concurrent
    dispatchers queue on the same counter, and each sees the others' committed count, so none overshoots.
    """
    if limit <= 0:
        return False
    values = {"customer_no": customer_no, "scope": scope, "period": period, "limit": limit}
    return connection.execute(_bump_statement(connection.dialect.name), values).first() is not None


@cache
def _bump_statement(dialect_name: str) -> Any:
    """The upsert, built once per dialect (building it costs ten times running it)."""
    dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
    table = channel_counters
    statement = dialect.insert(table).values(
        customer_no=bindparam("customer_no"), scope=bindparam("scope"), period=bindparam("period"), count=1
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c.customer_no, table.c.scope, table.c.period],
        set_={"count": table.c.count + 1},
        where=table.c.count < bindparam("limit"),
    ).returning(table.c.count)


def counter_value(connection: Connection, *, customer_no: str, scope: str, period: str) -> int:
    """The counter's value (0 when it was never raised)."""
    query = select(func.coalesce(func.max(channel_counters.c.count), 0)).where(
        channel_counters.c.customer_no == customer_no,
        channel_counters.c.scope == scope,
        channel_counters.c.period == period,
    )
    return int(connection.execute(query).scalar_one())


def give_back(connection: Connection, *, customer_no: str, scope: str, period: str) -> None:
    """Take one off the counter (a send it counted did not go out), never below zero."""
    table = channel_counters
    connection.execute(
        update(table)
        .where(
            table.c.customer_no == customer_no,
            table.c.scope == scope,
            table.c.period == period,
            table.c.count > 0,
        )
        .values(count=table.c.count - 1)
    )


def add_counts(connection: Connection, counts: dict[str, int]) -> None:
    """Add to named collector counters, creating them: one INSERT … ON CONFLICT DO UPDATE per name, so two
    collector processes creating the same counter at once both succeed (an UPDATE, then an INSERT when
    nothing was updated, made the second one's whole write fail)."""
    if counts:
        rows = [{"name": name, "delta": delta} for name, delta in sorted(counts.items())]
        connection.execute(_add_statement(connection.dialect.name), rows)


@cache
def _add_statement(dialect_name: str) -> Any:
    dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
    table = collector_counters
    statement = dialect.insert(table).values(name=bindparam("name"), value=bindparam("delta"))
    return statement.on_conflict_do_update(
        index_elements=[table.c.name], set_={"value": table.c.value + statement.excluded.value}
    )
