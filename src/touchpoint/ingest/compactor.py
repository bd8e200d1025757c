"""The compactor: moves events from the log into the analytical store's daily partitions (Beijing dates)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.clock import Clock
from touchpoint.ingest.model import EVENTS
from touchpoint.ingest.ports import EventLog, LogRecord
from touchpoint.store import AnalyticalStore, OperationalStore
from touchpoint.store.operational import dead_letters
from touchpoint.store.operational.consumers import isolate_poison, retry_dead_letters
from touchpoint.store.operational.offsets import get_offset, set_offset

CONSUMER = "compactor"
BATCH = 100_000


@dataclass(frozen=True)
class Compaction:
    """What one compaction pass moved: records consumed, events written, and records that became dead
    letters (consumed, not written)."""

    records: int
    events: int
    up_to_offset: int
    dead: int = 0


def compact(
    *,
    log: EventLog,
    ops: OperationalStore,
    analytics: AnalyticalStore,
    clock: Clock,
    calendar: TradingCalendar,
    limit: int = BATCH,
) -> Compaction:
    """Write the next records after the compactor's offset to Parquet, then commit the offset.

    Rows are upserted by event_id, so a crash between the write and the commit repeats nothing. Only the
    partitions written are searched for an earlier row of an id: the collector drops a re-sent event within
    its dedupe window, so an id repeats only when this very batch is written again after a crash, onto the
    same days (scanning every day's ids on each pass would cost seconds a year into live traffic).

    A record that cannot be turned into a row becomes a dead letter, committed with the offset; writing
    the files is not isolated (a failure there is the disk's, not a record's, and is raised).
    """
    retry_dead_letters(
        ops=ops,
        consumer=CONSUMER,
        apply=lambda _connection, records: _write(analytics, _rows_table(records, calendar)),
        now=clock.now,
    )
    with ops.begin() as connection:
        after = get_offset(connection, CONSUMER)
    records = log.read_after(after, limit)
    if not records:
        return Compaction(records=0, events=0, up_to_offset=after)
    tables, poisoned = _convert_isolated(records, calendar)
    events = sum(t.num_rows for t in tables)
    _write(analytics, pa.concat_tables(tables) if len(tables) > 1 else tables[0] if tables else None)
    last = records[-1].offset
    with ops.begin() as connection:
        for record, error in poisoned:
            dead_letters.add(connection, consumer=CONSUMER, record=record, error=error, now=clock.now())
        set_offset(connection, CONSUMER, last, clock.now())
    return Compaction(records=len(records), events=events, up_to_offset=last, dead=len(poisoned))


def _convert_isolated(
    records: list[LogRecord], calendar: TradingCalendar
) -> tuple[list[pa.Table], list[tuple[LogRecord, str]]]:
    """The records as Arrow tables, in one piece when every record converts; else halved down to the
    records that do not, returned with their errors."""
    try:
        return [_rows_table(records, calendar)], []
    except Exception as exc:
        failure = exc
    tables: list[pa.Table] = []
    poisoned: list[tuple[LogRecord, str]] = []
    isolate_poison(
        records,
        lambda chunk: tables.append(_rows_table(chunk, calendar)),
        lambda record, error: poisoned.append((record, dead_letters.describe_error(error))),
        failure,
    )
    return tables, poisoned


def _rows_table(records: Sequence[LogRecord], calendar: TradingCalendar) -> pa.Table:
    rows = [row for row in (_event_row(r) for r in records) if row is not None]
    return _to_arrow(rows, calendar)


def _write(analytics: AnalyticalStore, table: pa.Table | None) -> None:
    if table is not None and table.num_rows:
        analytics.upsert(EVENTS.name, table, within_partitions=True)


def _event_row(record: LogRecord) -> dict[str, Any] | None:
    body = record.payload
    if not body.get("event"):
        return None  # profile operations and identity calls are not behaviour
    ids = body.get("ids") or {}
    return {
        "event_id": body["event_id"],
        "event": body["event"],
        "distinct_id": body.get("distinct_id"),
        "customer_no": ids.get("customer_no"),
        "login_id": _text(ids.get("login_id")),
        "anonymous_id": _text(ids.get("anonymous_id")),
        "time": datetime.fromtimestamp(body["time"] / 1000, tz=UTC),
        "properties": orjson.dumps(body.get("properties") or {}).decode(),
        "source": body.get("source"),
        "project": body.get("project"),
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _to_arrow(rows: list[dict[str, Any]], calendar: TradingCalendar) -> pa.Table:
    schema = EVENTS.arrow_schema()
    table = pa.Table.from_pylist(rows, schema=schema)
    local = pc.local_timestamp(table["time"].cast(pa.timestamp("us", tz=str(calendar.tz))))
    return table.append_column("dt", pc.cast(local, pa.date32()))


def consumer_lag(*, log: EventLog, ops: OperationalStore, clock: Clock, consumer: str) -> dict[str, Any]:
    """Records not yet processed by `consumer`, and the age in seconds of the oldest of them."""
    with ops.begin() as connection:
        committed = get_offset(connection, consumer)
    pending = log.read_after(committed, 1)
    seconds = (clock.now() - pending[0].received_at).total_seconds() if pending else 0.0
    return {
        "committed": committed,
        "records": max(log.head() - committed, 0) if pending else 0,
        "seconds": round(max(seconds, 0.0), 3),
    }
