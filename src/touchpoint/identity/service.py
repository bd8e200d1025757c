"""One ID use cases: apply the event log to the graph, link business identifiers, show, unmerge."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection

from touchpoint.config import PiiKind
from touchpoint.core.clock import Clock
from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.identity import repo
from touchpoint.identity.binding import apply_steps, bind_pairs
from touchpoint.identity.bulk import link_customers
from touchpoint.identity.graph import Graph
from touchpoint.identity.model import RESOLUTION_ORDER, Identifier, IdentityPolicy
from touchpoint.identity.observe import Observation, imported_pairs, observe
from touchpoint.identity.profiles import apply_operation
from touchpoint.identity.replay import Step
from touchpoint.ingest.ports import EventLog, LogRecord
from touchpoint.store import AnalyticalStore, OperationalStore
from touchpoint.store.operational.consumers import consume_isolated
from touchpoint.store.operational.meta import get_value, set_value
from touchpoint.store.operational.offsets import lock_offset

CONSUMER = "identity"
MAX_IDENTIFIER_CHARS = 255  # identity_links.id_value
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class IdentityEnv(Protocol):
    """What the identity use cases read: the composition root's container provides it (and every other
    domain's environment), so that one flat, typed object is passed down."""

    ops: OperationalStore
    clock: Clock
    identity_policy: IdentityPolicy
    pii_attributes: dict[str, PiiKind]


def process_log(*, env: IdentityEnv, log: EventLog, limit: int = 2000) -> int:
    """Apply the next events of the log to the graph and profiles; offset and effects commit together. An
    event that cannot be applied becomes a dead letter and the offset moves past it; returns the events
    consumed (and dead letters retried)."""

    def apply(connection: Connection, records: Sequence[LogRecord]) -> None:
        apply_events(connection, records, env.identity_policy, env.clock.now())

    consumed = consume_isolated(
        ops=env.ops,
        consumer=CONSUMER,
        # Locked: two workers never apply the same events (a merge logged twice, a sighting counted twice).
        position=lambda connection: lock_offset(connection, CONSUMER, env.clock.now()),
        read=lambda after: log.read_after(after, limit),
        apply=apply,
        now=env.clock.now,
    )
    return consumed.records + consumed.retried


def apply_events(
    connection: Connection, records: Sequence[LogRecord], policy: IdentityPolicy, now: datetime
) -> None:
    """Apply events in order with the outcome of `apply_event` on each: a run of events that only bind
    anonymous ids to logins and name their subject goes through the bulk binder as one batch; an event that
    also binds a group, unbinds or changes a profile is applied on its own, after the run before it."""
    run: list[Step] = []
    for record in records:
        steps = _plain_steps(record.payload, policy)
        if steps is not None:
            run += steps
            continue
        if run:
            apply_steps(connection, run, now=now, shared_after=policy.shared_after)
            run = []
        apply_event(connection, record, policy, now)
    if run:
        apply_steps(connection, run, now=now, shared_after=policy.shared_after)


def _plain_steps(body: dict[str, Any], policy: IdentityPolicy) -> list[Step] | None:
    """The graph calls `apply_event` makes for an event, as steps — None for an event that binds a group,
    unbinds or carries a profile operation (it is applied on its own). A malformed identifier is refused
    here as there."""
    obs = observe(body)
    _refuse_malformed_identifiers(obs)
    if obs.group or obs.unbind or body.get("profile"):
        return None
    source = str(body.get("source", "event"))
    mode = policy.mode(str(body.get("project", "default")))
    steps = [Step("bind", anonymous, login, mode, source) for anonymous, login in obs.pairs]
    if obs.subject is not None:
        steps.append(Step("loose" if obs.subject_is_loose else "ensure", obs.subject, source=source))
    return steps


def apply_event(
    connection: Connection, record: LogRecord, policy: IdentityPolicy, now: datetime
) -> int | None:
    """Link what one event says about identity, then apply its profile operation; returns its uid."""
    body = record.payload
    graph = Graph(
        connection, now=now, source=str(body.get("source", "event")), shared_after=policy.shared_after
    )
    mode = policy.mode(str(body.get("project", "default")))
    obs = observe(body)
    _refuse_malformed_identifiers(obs)
    for anonymous, login in obs.pairs:
        graph.bind(anonymous, login, mode)
    if obs.group:
        graph.bind_all(obs.group, mode)
    for ident in obs.unbind:
        graph.unbind(ident)
    uid = _subject_uid(graph, obs.subject, obs.subject_is_loose)
    profile = body.get("profile")
    if uid is not None and profile:
        _apply_profile(connection, uid, profile, str(body.get("source")), now)
    return uid


def _refuse_malformed_identifiers(obs: Observation) -> None:
    """An identifier with a control character or longer than an identifier column can never be stored on
    every database alike (PostgreSQL refuses NUL and 256 characters): the event is refused whole, so it
    becomes a dead letter rather than a person on one database and an error on the other."""
    named = [obs.subject] if obs.subject else []
    named += [i for pair in obs.pairs for i in pair] + obs.group + obs.unbind
    for ident in named:
        if len(ident.value) > MAX_IDENTIFIER_CHARS:
            raise ValidationError(
                f"identifier {ident.id_type} is {len(ident.value):,} characters long"
                f" (at most {MAX_IDENTIFIER_CHARS})"
            )
        if _CONTROL.search(ident.value):
            raise ValidationError(f"identifier {ident.id_type} contains a control character")


def _subject_uid(graph: Graph, subject: Identifier | None, loose: bool) -> int | None:
    if subject is None:
        return None
    return graph.resolve_loose(subject.value) if loose else graph.ensure(subject)


def _apply_profile(
    connection: Connection, uid: int, profile: dict[str, Any], source: str, now: datetime
) -> None:
    current = repo.profile(connection, uid)
    change = apply_operation(
        current, str(profile.get("op")), profile.get("values") or {}, profile.get("once") or {}
    )
    if change.delete_all:
        repo.delete_profile(connection, uid)
        return
    repo.write_profile(connection, uid, change.writes, change.removes, source, now)


def set_profile_values(
    connection: Connection, *, customer_no: str, values: dict[str, Any], source: str, now: datetime
) -> bool:
    """Set profile attributes of a customer (in the caller's transaction); False when One ID does not know
    the customer number."""
    uid = repo.uid_of(connection, Identifier("customer_no", customer_no))
    if uid is None:
        return False
    _apply_profile(connection, uid, {"op": "profile_set", "values": values}, source, now)
    return True


def link_business_ids(
    *, env: IdentityEnv, customers: list[dict[str, Any]], id_columns: dict[str, str] | None = None
) -> int:
    """Give every customer number a uid and link its phone and WeChat openid to it; returns links made."""
    columns = id_columns or {"phone": "phone", "wechat_openid": "wechat_openid"}
    with env.ops.begin() as connection:
        linked = link_customers(connection, customers, columns, env.clock.now())
    _after_bulk(env, linked)
    return linked


BULK_STATISTICS_ROWS = 10_000
"""Links written at once after which the graph's statistics are refreshed (see `repo.refresh_statistics`)."""


def _after_bulk(env: IdentityEnv, linked: int) -> None:
    if linked >= BULK_STATISTICS_ROWS:
        with env.ops.begin() as connection:
            repo.refresh_statistics(connection)


def resolve(*, env: IdentityEnv, value: str, id_type: str | None = None) -> int | None:
    """The uid an identifier resolves to (any type when `id_type` is None)."""
    with env.ops.begin() as connection:
        return find(connection, value, id_type)


def customer_numbers(connection: Connection, values: list[str]) -> dict[str, str]:
    """The customer number behind each identifier value that One ID links to a customer (batch lookup, in
    the caller's transaction)."""
    return repo.customers_of_values(connection, sorted(set(values)))


def attributed(connection: Connection, events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Each normalised log event with the customer number One ID links it to, by its customer number, login
    id or distinct id in that order (events of no known customer left out); one lookup for the batch."""
    owners = customer_numbers(connection, [v for e in events for v in _event_ids(e)])
    found = []
    for event in events:
        customer = next((owners[v] for v in _event_ids(event) if v in owners), None)
        if customer is not None:
            found.append((event, customer))
    return found


def _event_ids(event: dict[str, Any]) -> list[str]:
    """The values an event names its sender by, in the order they are trusted. Total: a malformed event (one
    One ID dead-lettered, read again by a later consumer) names no one instead of failing that consumer."""
    ids = event.get("ids")
    ids = ids if isinstance(ids, dict) else {}
    values = [ids.get("customer_no"), ids.get("login_id"), event.get("distinct_id")]
    return [str(v) for v in values if v and isinstance(v, str | int)]


def find(connection: Connection, value: str, id_type: str | None) -> int | None:
    """The uid of a value of the given type, or of any type (customer number first) when None."""
    if id_type is not None:
        return repo.uid_of(connection, Identifier(id_type, value))
    for candidate in ("customer_no", "anonymous_id", "phone", "wechat_openid", "fund_account", "email"):
        uid = repo.uid_of(connection, Identifier(candidate, value))
        if uid is not None:
            return uid
    return None


def show(*, env: IdentityEnv, value: str, id_type: str | None = None) -> dict[str, Any]:
    """The uid an identifier resolves to, every identifier linked to it, and the merge-log entries."""
    with env.ops.begin() as connection:
        uid = find(connection, value, id_type)
        if uid is None:
            raise NotFoundError(f"no customer is known by {value!r}")
        ids = repo.ids_of(connection, uid)
        entries = repo.log_entries(connection, [uid])
        profile = repo.profile(connection, uid)
        separations = repo.separations_of(connection, ids)
        shared = [i.label() for i in ids if repo.is_shared(connection, i)]
    return {
        "uid": uid,
        "identifiers": [{"id_type": i.id_type, "id_value": i.value} for i in ids],
        "profile": profile,
        "log": [_entry(e) for e in entries],
        "separations": [
            {
                "left": r["left_label"],
                "right": r["right_label"],
                "by": r["actor"],
                "at": r["created_at"].isoformat(),
            }
            for r in separations
        ],
        "shared": shared,
    }


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "at": entry["at"].isoformat()}


CUSTOMERS_SYNCED = "identity.customers_snapshot"


def sync_customers(*, env: IdentityEnv, analytics: AnalyticalStore) -> int:
    """Link the identifiers of the latest customers snapshot once per new snapshot; returns rows linked."""
    partitions = analytics.partitions("customers")
    if not partitions:
        return 0
    latest = partitions[-1]
    marker = {"dt": latest.dt.isoformat(), "file": latest.file}
    with env.ops.begin() as connection:
        if get_value(connection, CUSTOMERS_SYNCED) == marker:
            return 0
    snapshot = analytics.read_partition("customers", latest.dt)
    rows = [] if snapshot is None else snapshot.select(_CUSTOMER_ID_COLUMNS).to_pylist()
    linked = link_business_ids(env=env, customers=rows)
    with env.ops.begin() as connection:
        set_value(connection, CUSTOMERS_SYNCED, marker, now=env.clock.now())
    return linked


_CUSTOMER_ID_COLUMNS = ["customer_no", "phone", "wechat_openid"]


EVENTS_SYNCED = "identity.imported_event_partitions"


IMPORT_BATCH_PAIRS = 50_000
"""Pairs of imported history bound in one transaction: the partitions are gathered, in order, until they
hold this many (one day of a brokerage's history holds a few thousand)."""


def sync_imported_events(*, env: IdentityEnv, analytics: AnalyticalStore) -> int:
    """Link the anonymous and login ids that imported history carries (new or rewritten partitions only).

    Partitions are bound in order, each one's pairs sorted, through the bulk binder — several partitions to a
    transaction, which also records them as done."""
    with env.ops.begin() as connection:
        done: dict[str, str] = get_value(connection, EVENTS_SYNCED) or {}
    pending = [p for p in analytics.partitions("events") if done.get(p.dt.isoformat()) != p.file]
    linked = 0
    batch: list[tuple[Identifier, Identifier]] = []
    anonymous, logins = _Interned("anonymous_id"), _Interned("customer_no")
    for index, partition in enumerate(pending):
        pairs = imported_pairs(analytics.read_partition("events", partition.dt))
        batch += [(anonymous[a], logins[b]) for a, b in pairs]
        done[partition.dt.isoformat()] = partition.file
        linked += len(pairs)
        if len(batch) >= IMPORT_BATCH_PAIRS or index == len(pending) - 1:
            _bind_imported(env, batch, done)
            batch = []
    _after_bulk(env, linked)
    return linked


class _Interned(dict[str, Identifier]):
    """Identifiers of one type by value, each made once: history names the same ids day after day."""

    def __init__(self, id_type: str) -> None:
        super().__init__()
        self.id_type = id_type

    def __missing__(self, value: str) -> Identifier:
        ident = self[value] = Identifier(self.id_type, value)
        return ident


def _bind_imported(
    env: IdentityEnv, pairs: list[tuple[Identifier, Identifier]], done: dict[str, str]
) -> None:
    """Bind pairs of imported history and record the partitions they came from as done, in one transaction."""
    now = env.clock.now()
    policy = env.identity_policy
    with env.ops.begin() as connection:
        bind_pairs(
            connection,
            pairs,
            mode=policy.default_mode,
            now=now,
            source="import",
            shared_after=policy.shared_after,
        )
        set_value(connection, EVENTS_SYNCED, done, now=now)


_ID_TABLES: dict[tuple[Any, ...], tuple[pa.Table, pa.Table]] = {}


def id_tables(*, env: IdentityEnv) -> tuple[pa.Table, pa.Table]:
    """Two lookup tables for the analytical engine: (customer_no, uid), and the event id map (id_value,
    person_uid, customer_no) with exactly one row per identifier value (see event_id_map).

    Remembered while the graph is unchanged: every analysis resolves events through them, and reading a
    large graph costs seconds.
    """
    with env.ops.begin() as connection:
        key = (env.ops.url, *repo.graph_marker(connection))
        if key not in _ID_TABLES:
            _ID_TABLES.clear()  # only the newest graph is worth keeping
            _ID_TABLES[key] = _read_id_tables(connection)
    return _ID_TABLES[key]


def _read_id_tables(connection: Any) -> tuple[pa.Table, pa.Table]:
    table = repo.all_links(connection)
    customers = table.filter(pc.equal(table["id_type"], "customer_no"))
    uid_table = pa.table({"customer_no": customers["id_value"], "uid": customers["uid"]})
    return uid_table, event_id_map(table, uid_table)


def _repeated(links: pa.Table) -> pa.ChunkedArray:
    """Whether each link's value is also another link's (a phone number that is someone's login too)."""
    counts = links.group_by("id_value").aggregate([("id_value", "count")])
    shared = counts.filter(pc.greater(counts["id_value_count"], 1))["id_value"]
    return pc.is_in(links["id_value"], value_set=shared.combine_chunks())


def _first_by_precedence(shared: pa.Table) -> pa.Table:
    """(id_value, uid) of the first link by RESOLUTION_ORDER (then type name) of each value."""
    rank = pc.fill_null(pc.index_in(shared["id_type"], pa.array(RESOLUTION_ORDER)), len(RESOLUTION_ORDER))
    ranked = shared.append_column("rank", rank).sort_by(
        [("id_value", "ascending"), ("rank", "ascending"), ("id_type", "ascending")]
    )
    values = ranked["id_value"].combine_chunks()
    first = pc.invert(pc.equal(values[1:], values[:-1])) if len(values) > 1 else pa.array([], pa.bool_())
    keep = pa.concat_arrays([pa.array([True] * min(len(values), 1), pa.bool_()), first])
    return ranked.filter(keep).select(["id_value", "uid"])


def event_id_map(links: pa.Table, customers: pa.Table) -> pa.Table:
    """(id_value, person_uid, customer_no) with exactly one row per identifier value — the first of its
    links by RESOLUTION_ORDER — so a join of events through it can never count an event twice."""
    repeated = _repeated(links)
    # Nearly every value has one link, taken as it is; only the values several links share are sorted.
    single = links.filter(pc.invert(repeated)).select(["id_value", "uid"])
    chosen = pa.concat_tables([single, _first_by_precedence(links.filter(repeated))])
    chosen = chosen.rename_columns(["id_value", "person_uid"])
    owners = customers.rename_columns(["customer_no", "person_uid"])
    return chosen.join(owners, "person_uid", join_type="left outer").select(
        ["id_value", "person_uid", "customer_no"]
    )
