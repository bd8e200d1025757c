"""Indicator use cases: define (versioned, audited), list, delete, and compute a snapshot for a date."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import date
from typing import Any, Protocol, cast

import ibis
import orjson
import pyarrow as pa
from sqlalchemy import Connection

from touchpoint.core.calendar import TradingCalendar
from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.core.progress import StageProgress
from touchpoint.governance import Principal
from touchpoint.governance.registry import (
    Bundle,
    DefinitionKind,
    parse_named,
    remove_definition,
    write_definition,
)
from touchpoint.identity.service import IdentityEnv, id_tables, link_business_ids
from touchpoint.indicators.compile import ROLL_CALL, finish_indicators, indicator_passes, window_bounds
from touchpoint.indicators.model import IndicatorDef
from touchpoint.indicators.validate import check_indicator
from touchpoint.ingest import TABLES
from touchpoint.ingest.model import Kind
from touchpoint.store import AnalyticalStore
from touchpoint.store.analytical.streamed import StagedResult, Staging
from touchpoint.store.operational import definitions as store

KIND = "indicator"


class IndicatorEnv(IdentityEnv, Protocol):
    """What indicator use cases read and write: One ID's, the analytical store and the trading calendar."""

    analytics: AnalyticalStore
    calendar: TradingCalendar


def list_indicators(*, env: IndicatorEnv) -> dict[str, IndicatorDef]:
    """Every current indicator definition by name."""
    with env.ops.begin() as connection:
        bodies = store.current(connection, KIND)
    return {name: IndicatorDef.model_validate(body) for name, body in sorted(bodies.items())}


def get_indicator(*, env: IndicatorEnv, name: str) -> IndicatorDef:
    """One indicator, or NotFoundError."""
    found = list_indicators(env=env).get(name)
    if found is None:
        raise NotFoundError(f"no indicator named {name!r}")
    return found


_EVENT_NAMES: dict[tuple[object, ...], frozenset[str]] = {}


def known_events(analytics: AnalyticalStore) -> set[str]:
    """Event names present in the analytical store (empty when no events yet).

    Remembered per set of event files: saving a library or checking rules asks many times, and scanning
    every event each time would cost a full pass over the largest table.
    """
    partitions = analytics.partitions("events")
    if not partitions:
        return set()
    key = (str(analytics.root), *((p.dt, p.file) for p in partitions))
    if key not in _EVENT_NAMES:
        events = analytics.table("events")
        _EVENT_NAMES.clear()  # only the newest file set is worth keeping
        _EVENT_NAMES[key] = frozenset(events.select("event").distinct().to_pyarrow()["event"].to_pylist())
    return set(_EVENT_NAMES[key])


PROPERTY_SAMPLE_ROWS = 50_000
"""How many of the newest events are read to learn their property names (a bounded look, not a scan)."""


def known_fields(env: IndicatorEnv) -> dict[str, Any]:
    """What rules and indicators can name: the customer attributes (columns of the customers snapshot), the
    events collected or imported so far, and the property names seen on each event among the newest ones
    (for the console's pickers)."""
    attributes: list[str] = []
    if env.analytics.partitions("customers"):
        columns = env.analytics.table("customers").columns
        attributes = [c for c in columns if c not in ("customer_no", "dt", "attributes")]
    spec = TABLES["customers"]
    named = set(spec.column_names)
    kinds = {a: spec.column(a).kind.value if a in named else Kind.STRING.value for a in attributes}
    return {
        "attributes": attributes,
        "attribute_kinds": kinds,
        "events": sorted(known_events(env.analytics)),
        "event_properties": _event_properties(env.analytics),
    }


def _event_properties(analytics: AnalyticalStore) -> dict[str, list[str]]:
    seen: dict[str, set[str]] = {}
    read = 0
    for partition in reversed(analytics.partitions("events")):  # newest days first, until enough rows
        table = analytics.read_partition("events", partition.dt)
        if table is None:
            continue
        for event, text in zip(table["event"].to_pylist(), table["properties"].to_pylist(), strict=True):
            try:
                properties = orjson.loads(text or "{}")
            except orjson.JSONDecodeError:
                continue
            if isinstance(properties, dict):
                seen.setdefault(event, set()).update(properties)
        read += table.num_rows
        if read >= PROPERTY_SAMPLE_ROWS:
            break
    return {event: sorted(names) for event, names in sorted(seen.items())}


def save_indicator(*, env: IndicatorEnv, principal: Principal, definition: IndicatorDef) -> int:
    """Create or update an indicator (a new version); returns the version."""
    check_indicator_in(env, definition, {})
    with env.ops.begin() as connection:
        return write_indicator(connection, env=env, principal=principal, definition=definition)


def check_indicator_in(env: IndicatorEnv, definition: IndicatorDef, bundle: Bundle) -> None:
    """Check an indicator against the live ones and those of the same bundle."""
    others = {**list_indicators(env=env), **bundle.get(KIND, {})}
    check_indicator(definition, known_events(env.analytics), others)


def write_indicator(
    connection: Connection, *, env: IndicatorEnv, principal: Principal, definition: IndicatorDef
) -> int:
    """Store a checked indicator in the caller's transaction; returns the version."""
    body = definition.model_dump(mode="json", exclude_defaults=False)
    return write_definition(
        connection, clock=env.clock, principal=principal, kind=KIND, name=definition.name, body=body
    )


def parse_indicator(name: str, body: Any) -> IndicatorDef:
    """An indicator from a mapping (its name from where it is stored), faults named."""
    return parse_named(IndicatorDef, "indicator", name, body)


def indicator_kind(env: IndicatorEnv, dependents: Callable[[str], Sequence[str]]) -> DefinitionKind:
    """Indicators as a kind of the definitions registry (`dependents` names what reads one)."""

    def delete(principal: Principal, name: str) -> None:
        delete_indicator(env=env, principal=principal, name=name, dependents=dependents(name))

    return DefinitionKind(
        name=KIND,
        parse=parse_indicator,
        dump=lambda d: cast(IndicatorDef, d).model_dump(mode="json", exclude_defaults=False),
        check=lambda d, bundle: check_indicator_in(env, cast(IndicatorDef, d), bundle),
        write=lambda c, p, d: write_indicator(c, env=env, principal=p, definition=cast(IndicatorDef, d)),
        delete=delete,
        read="indicator:read",
    )


def delete_indicator(
    *, env: IndicatorEnv, principal: Principal, name: str, dependents: Sequence[str]
) -> None:
    """Delete an indicator nothing depends on."""
    if dependents:
        raise ValidationError(
            f"indicator {name!r} is read by {', '.join(sorted(dependents))}; delete those first"
        )
    with env.ops.begin() as connection:
        remove_definition(connection, clock=env.clock, principal=principal, kind=KIND, name=name)


def compute_indicators(
    *, env: IndicatorEnv, day: date, definitions: Sequence[IndicatorDef], sample: int | None = None
) -> pa.Table:
    """Every indicator for every customer of the snapshot on or before `day`: (uid, customer_no, …) by uid.

    With `sample`, only that many customers chosen at random (a dry run of new definitions). The whole
    result is read into this process: the daily computation reads `stage_indicators` range by range.
    """
    with env.analytics.staging() as staging:
        return stage_indicators(
            env=env, day=day, definitions=definitions, staging=staging, sample=sample
        ).read()


def stage_indicators(
    *,
    env: IndicatorEnv,
    day: date,
    definitions: Sequence[IndicatorDef],
    staging: Staging,
    sample: int | None = None,
    attributes: Collection[str] | None = (),
    progress: StageProgress | None = None,
) -> StagedResult:
    """Every indicator for every customer, written by the engine to `staging` in uid order.

    The columns are uid, customer_no, the indicators, then the customers snapshot's `attributes` (None:
    every one) that no indicator shadows. Each pass is staged by the engine on its own (no engine holds
    every source's groups at once) and the passes are joined there too: no row reaches this process.
    """
    customers_dates = [p.dt for p in env.analytics.partitions("customers")]
    snapshot = max((d for d in customers_dates if d <= day), default=None)
    if snapshot is None:
        raise ValidationError(f"no customers snapshot on or before {day}; import customers first")
    population, uids, aliases = _population(env, snapshot)
    if sample is not None:
        population = population.order_by(ibis.random()).limit(sample)
    read = {d.source for d in definitions if d.source != "derived"}
    sources: dict[str, Any] = {s: env.analytics.table(s) for s in read}
    for listed, roll_call in ROLL_CALL.items():
        if listed in read and roll_call not in sources and env.analytics.partitions(roll_call):
            sources[roll_call] = env.analytics.table(roll_call)
    held: dict[str, list[date]] = {s: [p.dt for p in env.analytics.partitions(s)] for s in read}
    bounds = {
        d.name: window_bounds(d.window, d.source, day, env.calendar, held[d.source])
        for d in definitions
        if d.window is not None
    }
    passes = indicator_passes(
        definitions, day=day, sources=sources, id_map=ibis.memtable(aliases), bounds=bounds
    )
    report = progress or (lambda _stage, _done, _total: None)
    staged = []
    for k, found in enumerate(passes):
        report("indicators", k, len(passes) + 1)
        staged.append(staging.write(f"pass{k}", found).table())
    raw = side_by_side(population.join(ibis.memtable(uids), "customer_no"), staged)
    finished = finish_indicators(definitions, raw=raw, bounds=bounds)
    with_attributes = _beside_attributes(env.analytics, finished, snapshot, attributes)
    report("indicators", len(passes), len(passes) + 1)
    result = staging.write("indicators", with_attributes, order_by="uid")
    report("indicators", len(passes) + 1, len(passes) + 1)
    return result


def side_by_side(customers: Any, found: Sequence[Any]) -> Any:
    """`customers` (a table with `customer_no`) with every column of each table in `found` (at most one row
    per customer, by `customer_no`) beside its customer; no value where a table does not list the
    customer."""
    for part in found:
        joined = customers.left_join(part, "customer_no")
        customers = joined.select(
            *(joined[c] for c in customers.columns),
            *(joined[c] for c in part.columns if c != "customer_no"),
        )
    return customers


def _beside_attributes(
    analytics: AnalyticalStore, indicators: Any, snapshot: date, wanted: Collection[str] | None
) -> Any:
    """`indicators` with the snapshot's attributes named by `wanted` (None: all), typed as the layout says;
    a column the layout names reads as no values where the snapshot's file lacks it, as in a whole read.
    An indicator and an attribute of one name is the indicator."""
    in_file = analytics.partition_columns("customers", snapshot) or []
    fixed = {f.name: f.type for f in analytics.layout("customers").schema}
    names = [
        c
        for c in dict.fromkeys([*fixed, *in_file])
        if c not in indicators.columns and c != "attributes" and (wanted is None or c in wanted)
    ]
    if not names:
        return indicators
    customers = analytics.table("customers")
    snap = customers.filter(customers.dt == snapshot)
    columns = {
        c: (snap[c] if c in in_file else ibis.null()).cast(ibis.dtype(fixed[c])) if c in fixed else snap[c]
        for c in names
    }
    attributes = snap.select("customer_no", **columns)
    return side_by_side(indicators, [attributes])


def event_id_map(env: IndicatorEnv) -> pa.Table:
    """(id_value, person_uid, customer_no), one row per identifier value, for resolving events' distinct
    ids to people (see indicators.compile.resolve_customers)."""
    return id_tables(env=env)[1]


def _population(env: IndicatorEnv, snapshot: date) -> tuple[Any, pa.Table, pa.Table]:
    """The snapshot's customers, every one linked to a uid, with One ID's lookup tables."""
    customers = env.analytics.table("customers")
    population = customers.filter(customers.dt == snapshot).select("customer_no")
    uids, aliases = id_tables(env=env)
    missing = population.anti_join(ibis.memtable(uids), "customer_no").to_pyarrow()
    if missing.num_rows:
        link_business_ids(env=env, customers=missing.to_pylist())
        uids, aliases = id_tables(env=env)
    return population, uids, aliases


def dependencies_of(definition: IndicatorDef) -> list[str]:
    """What an indicator reads, for lineage: `source.column` items and the event."""
    if definition.source == "derived":
        return [f"indicator:{name}" for name in definition.inputs()]
    items = [f"{definition.source}.{definition.column}"] if definition.column else [definition.source]
    items += [
        f"{definition.source}.{f.column or 'properties.' + str(f.property)}" for f in definition.filters
    ]
    if definition.event:
        items.append(f"event:{definition.event}")
    return items
