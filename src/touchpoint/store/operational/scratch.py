"""Short-lived sets a query joins against, kept in the database rather than inlined as values."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Column, Connection, MetaData, String, Table, insert

BATCH = 5_000


@contextmanager
def customer_set(connection: Connection, numbers: Iterable[str]) -> Iterator[Table]:
    """A temporary table of customer numbers for the caller's transaction (a branch may hold a hundred
    thousand customers: too many for an IN list of bound values), dropped afterwards."""
    table = Table(
        f"tmp_customers_{uuid.uuid4().hex[:12]}",
        MetaData(),
        Column("customer_no", String(64), primary_key=True),
        prefixes=["TEMPORARY"],
    )
    table.create(connection)
    try:
        values = iter(dict.fromkeys(numbers))
        while chunk := list(itertools.islice(values, BATCH)):
            connection.execute(insert(table), [{"customer_no": n} for n in chunk])
        yield table
    finally:
        table.drop(connection)


@contextmanager
def maybe_customer_set(connection: Connection, numbers: Iterable[str] | None) -> Iterator[Table | None]:
    """`customer_set` of the numbers, or None when there is no list (everyone)."""
    if numbers is None:
        yield None
        return
    with customer_set(connection, numbers) as table:
        yield table
