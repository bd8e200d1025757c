"""Bulk binding equals binding one by one: random graphs, random batches, both modes, both databases.

Each example builds the same starting graph twice through the Graph itself — anonymous persons, customers
with a phone, binds (so devices with sightings, shared devices, merges), profiles, operator separations —
then applies one batch pair by pair through `Graph.bind` on one copy and through `bind_pairs` on the other
(and a batch of events through `apply_event` one by one against `apply_events`). The two final graphs must
be equal up to the renaming of uids: every identifier's person, the persons, shared marks, sightings,
separations, profiles, and the merge log (each entry's kind, persons, identifiers, reason and source, in
order per person).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, delete, func, select

from touchpoint.config import PiiKind
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.core.events import LogRecord
from touchpoint.governance import SYSTEM
from touchpoint.identity import repo
from touchpoint.identity.binding import bind_pairs
from touchpoint.identity.bulk import link_customers
from touchpoint.identity.corrections import unmerge
from touchpoint.identity.graph import Graph
from touchpoint.identity.model import ANONYMOUS, Identifier, IdentityPolicy, Mode
from touchpoint.identity.service import apply_event, apply_events
from touchpoint.store.operational.db import OperationalStore
from touchpoint.store.operational.schema import (
    audit_head,
    audit_log,
    identity_links,
    identity_log,
    identity_separations,
    identity_shared,
    identity_sightings,
    persons,
    profile_attributes,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ANONS = ["d1", "d2", "d3", "d4", "C1", "C2", "null"]  # "C1", "C2": anonymous ids that are logins
LOGINS = ["C1", "C2", "C3", "C4", "undefined"]
ANON = lambda v: Identifier(ANONYMOUS, v)  # noqa: E731
LOGIN = lambda v: Identifier("customer_no", v)  # noqa: E731
MODES: list[Mode] = ["many_to_one", "one_to_one"]

setup_step = st.one_of(
    st.tuples(st.just("bind"), st.sampled_from(ANONS), st.sampled_from(LOGINS), st.sampled_from(MODES)),
    st.tuples(st.just("anon"), st.sampled_from(ANONS)),
    st.tuples(st.just("customer"), st.sampled_from(LOGINS), st.sampled_from(["p1", "p2", None])),
    st.tuples(st.just("unmerge"), st.sampled_from(ANONS)),
    st.tuples(st.just("group"), st.sampled_from(ANONS), st.sampled_from(["p1", "p2"])),
    st.tuples(st.just("profile"), st.sampled_from(ANONS), st.sampled_from(["k1", "k2"]), st.integers(0, 3)),
)
setups = st.lists(setup_step, max_size=12)
pairs = st.lists(st.tuples(st.sampled_from(ANONS), st.sampled_from(LOGINS)), min_size=1, max_size=25)
RESET = [
    identity_links,
    identity_log,
    identity_separations,
    identity_shared,
    identity_sightings,
    persons,
    profile_attributes,
    audit_log,
    audit_head,
]


@dataclass
class Env:
    """What `unmerge` reads of the composition root."""

    ops: OperationalStore
    clock: VirtualClock = field(default_factory=lambda: VirtualClock(NOW))
    identity_policy: IdentityPolicy = field(default_factory=IdentityPolicy)
    pii_attributes: dict[str, PiiKind] = field(default_factory=dict)


@pytest.fixture
def store(database_url: str) -> Iterator[OperationalStore]:
    """One migrated store per test; each example empties the tables it uses."""
    ops = OperationalStore(database_url)
    ops.upgrade()
    yield ops
    ops.dispose()


def build(ops: OperationalStore, setup: list[tuple[Any, ...]], shared_after: int) -> None:
    """Empty the graph, then build the starting graph through the Graph, one transaction per step."""
    with ops.begin() as connection:
        for table in RESET:
            connection.execute(delete(table))
    for step in setup:
        if step[0] == "unmerge":
            with contextlib.suppress(NotFoundError, ValidationError):  # nothing to detach
                unmerge(env=Env(ops), principal=SYSTEM, value=step[1], id_type=ANONYMOUS)
            continue
        with ops.begin() as connection:
            _setup_step(
                connection, Graph(connection, now=NOW, source="setup", shared_after=shared_after), step
            )


def _setup_step(connection: Connection, graph: Graph, step: tuple[Any, ...]) -> None:
    if step[0] == "bind":
        graph.bind(ANON(step[1]), LOGIN(step[2]), step[3])
    elif step[0] == "anon":
        graph.ensure(ANON(step[1]))
    elif step[0] == "group":  # a device and a phone, no login: one anonymous person with two ids
        graph.bind_all([ANON(step[1]), Identifier("phone", step[2])], "many_to_one")
    elif step[0] == "customer":
        row = {"customer_no": step[1], "phone": step[2]}
        link_customers(connection, [row], {"phone": "phone"}, NOW)
    else:
        uid = repo.uid_of(connection, ANON(step[1]))
        if uid is not None:
            repo.write_profile(connection, uid, {step[2]: step[3]}, [], "setup", NOW)


def summary(ops: OperationalStore) -> dict[str, Any]:
    """The graph up to uid renaming: each uid stands for the sorted labels of its identifiers."""
    with ops.begin() as connection:
        links = connection.execute(
            select(identity_links.c.id_type, identity_links.c.id_value, identity_links.c.uid)
        )
        labels: dict[int, list[str]] = {}
        for id_type, value, uid in links:
            labels.setdefault(int(uid), []).append(f"{id_type}:{value}")

        def name(uid: Any) -> Any:
            return None if uid is None else tuple(sorted(labels.get(int(uid), [])))

        profiles = select(profile_attributes.c.uid, profile_attributes.c.key, profile_attributes.c.value)
        return {
            "people": sorted(name(uid) for uid in labels),
            "persons": connection.execute(select(func.count()).select_from(persons)).scalar_one(),
            "shared": set(connection.execute(select(identity_shared.c.id_value, identity_shared.c.reason))),
            "sightings": set(
                connection.execute(select(identity_sightings.c.id_value, identity_sightings.c.login))
            ),
            "separations": set(
                connection.execute(
                    select(identity_separations.c.left_label, identity_separations.c.right_label)
                )
            ),
            "profiles": {(name(u), k, str(v)) for u, k, v in connection.execute(profiles)},
            **_log_summary(connection, name),
        }


def _log_summary(connection: Connection, name: Callable[[Any], Any]) -> dict[str, Any]:
    """The merge log as a multiset of entries, and each remaining person's entries in order."""
    log = connection.execute(select(identity_log).order_by(identity_log.c.id)).mappings().all()
    entries = [
        (e["action"], name(e["uid"]), name(e["from_uid"]), tuple(e["ids"]), e["reason"], e["source"])
        for e in log
    ]
    per_person: dict[Any, list[Any]] = {}
    for entry in entries:
        if entry[1]:  # a person that still has identifiers: its own history, in order
            per_person.setdefault(entry[1], []).append(entry)
    return {"log": Counter(entries), "per_person": per_person}


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@SETTINGS
@example(  # a kiosk reaches the threshold within the batch, after binding its first customer
    setup=[("customer", "C3", "p1"), ("bind", "d1", "C1", "many_to_one")],
    batch=[("d1", "C2"), ("d2", "C3"), ("d1", "C3"), ("d1", "C4")],
    mode="many_to_one",
    shared_after=3,
)
@example(  # anonymous persons merge into customers; one carries a profile; a twin becomes its login
    setup=[("anon", "d1"), ("profile", "d1", "k1", 1), ("anon", "C2"), ("customer", "C1", None)],
    batch=[("d1", "C1"), ("C2", "C2"), ("d2", "C2")],
    mode="many_to_one",
    shared_after=3,
)
@example(  # an operator's separation is kept; one-to-one refuses a second device
    setup=[("bind", "d1", "C1", "many_to_one"), ("bind", "d2", "C1", "many_to_one"), ("unmerge", "d1")],
    batch=[("d1", "C1"), ("d3", "C2"), ("d4", "C2"), ("d2", "C1")],
    mode="one_to_one",
    shared_after=3,
)
@example(  # one-to-one names the device the customer holds first; a device refused twice becomes shared alone
    setup=[
        ("bind", "d1", "C1", "many_to_one"),
        ("bind", "d2", "C1", "many_to_one"),
        ("bind", "d4", "C2", "many_to_one"),
    ],
    batch=[("d3", "C1"), ("d3", "C2")],
    mode="one_to_one",
    shared_after=2,
)
@example(  # two anonymous persons with profiles merge into one customer: the first one's values win
    setup=[
        ("anon", "d1"),
        ("profile", "d1", "k1", 1),
        ("anon", "d2"),
        ("profile", "d2", "k1", 2),
        ("profile", "d2", "k2", 2),
        ("customer", "C1", None),
    ],
    batch=[("d1", "C1"), ("d2", "C1")],
    mode="many_to_one",
    shared_after=3,
)
@example(  # a new login takes over its anonymous twin, which the batch never names
    setup=[("anon", "C2"), ("anon", "d2")],
    batch=[("d1", "C2"), ("d2", "C3")],
    mode="many_to_one",
    shared_after=3,
)
@example(  # a shared anonymous id is never taken over by the login of the same value
    setup=[("bind", "C1", "C2", "many_to_one"), ("bind", "C1", "C3", "many_to_one")],
    batch=[("d1", "C1")],
    mode="many_to_one",
    shared_after=2,
)
@given(
    setup=setups,
    batch=pairs,
    mode=st.sampled_from(MODES),
    shared_after=st.sampled_from([2, 3]),
)
def test_bulk_pairs_equal_pair_by_pair(
    store: OperationalStore,
    setup: list[tuple[Any, ...]],
    batch: list[tuple[str, str]],
    mode: Mode,
    shared_after: int,
) -> None:
    bound = [(ANON(a), LOGIN(b)) for a, b in batch]
    build(store, setup, shared_after)
    with store.begin() as connection:
        graph = Graph(connection, now=NOW, source="import", shared_after=shared_after)
        for anonymous, login in bound:
            graph.bind(anonymous, login, mode)
    expected = summary(store)
    build(store, setup, shared_after)
    with store.begin() as connection:
        report = bind_pairs(connection, bound, mode=mode, now=NOW, source="import", shared_after=shared_after)
    assert report.by_graph == 0  # anonymous id → login pairs are all replayed in memory
    assert summary(store) == expected


typed_pairs = st.lists(
    st.tuples(
        st.sampled_from([ANONYMOUS, ANONYMOUS, "phone"]),
        st.sampled_from([*ANONS, "p1", "p2"]),
        st.sampled_from(LOGINS),
    ),
    min_size=1,
    max_size=25,
)


@SETTINGS
@example(  # the Graph's merge moves a device a later replayed pair names: one part through their person
    setup=[("group", "d1", "p1"), ("customer", "C1", None), ("customer", "C2", None)],
    batch=[("phone", "p1", "C1"), (ANONYMOUS, "d1", "C2")],
    mode="many_to_one",
    shared_after=3,
)
@example(  # a new login takes over its anonymous twin, which a later replayed pair binds: one part
    setup=[("anon", "C1"), ("customer", "C2", None)],
    batch=[("phone", "p1", "C1"), (ANONYMOUS, "C1", "C2")],
    mode="many_to_one",
    shared_after=3,
)
@example(  # …and one the batch creates only after the Graph's step has created the login: still one part
    setup=[],
    batch=[("phone", "p1", "C1"), (ANONYMOUS, "C1", "undefined")],
    mode="many_to_one",
    shared_after=3,
)
@given(setup=setups, batch=typed_pairs, mode=st.sampled_from(MODES), shared_after=st.sampled_from([2, 3]))
def test_parts_left_to_the_graph_keep_the_outcome(
    store: OperationalStore,
    setup: list[tuple[Any, ...]],
    batch: list[tuple[str, str, str]],
    mode: Mode,
    shared_after: int,
) -> None:
    """A phone bound to a customer is not replayed: its part of the batch (every step sharing an identifier or
    a person with it) goes through the Graph, the rest is replayed, and the outcome is still the same."""
    bound = [(Identifier(t, a), LOGIN(b)) for t, a, b in batch]
    build(store, setup, shared_after)
    with store.begin() as connection:
        graph = Graph(connection, now=NOW, source="import", shared_after=shared_after)
        for anonymous, login in bound:
            graph.bind(anonymous, login, mode)
    expected = summary(store)
    build(store, setup, shared_after)
    with store.begin() as connection:
        bind_pairs(connection, bound, mode=mode, now=NOW, source="import", shared_after=shared_after)
    assert summary(store) == expected


def _event(kind: str, anonymous: str, login: str, strict: bool) -> dict[str, Any]:
    """A normalised log event of one of the shapes the collector produces."""
    base: dict[str, Any] = {"source": "sensors", "project": "strict" if strict else "default"}
    if kind == "anon":
        return base | {"distinct_id": anonymous, "ids": {"anonymous_id": anonymous}}
    if kind == "login":
        return base | {
            "distinct_id": login,
            "ids": {"login_id": login, "anonymous_id": anonymous, "is_login": True},
        }
    if kind == "known":
        return base | {"distinct_id": login, "ids": {"is_login": True}}
    if kind == "profile":
        profile = {"op": "profile_set", "values": {"k1": anonymous}}
        return base | {"distinct_id": login, "ids": {"is_login": True}, "profile": profile}
    identities = {"$identity_login_id": login, "$identity_anonymous_id": anonymous}
    if kind == "unbind":
        return base | {
            "kind": "track_id_unbind",
            "ids": {"identities": {"$identity_anonymous_id": anonymous}},
        }
    return base | {"kind": "track_id_bind", "distinct_id": login, "ids": {"identities": identities}}


events = st.lists(
    st.builds(
        _event,
        st.sampled_from(["anon", "login", "login", "known", "profile", "bind", "unbind"]),
        st.sampled_from(ANONS),
        st.sampled_from(LOGINS),
        st.booleans(),
    ),
    min_size=1,
    max_size=20,
)


@SETTINGS
@example(  # plain events around a profile operation and a Sensors bind: runs split by them
    setup=[("anon", "d1")],
    bodies=[
        _event("anon", "d2", "C1", False),
        _event("login", "d2", "C1", False),
        _event("profile", "d1", "C1", False),
        _event("login", "d1", "C1", False),
        _event("bind", "d3", "C2", True),
        _event("login", "d3", "C2", True),
    ],
    shared_after=3,
)
@given(setup=setups, bodies=events, shared_after=st.sampled_from([2, 3]))
def test_bulk_events_equal_event_by_event(
    store: OperationalStore, setup: list[tuple[Any, ...]], bodies: list[dict[str, Any]], shared_after: int
) -> None:
    records = [LogRecord(n, f"e{n}", NOW, body) for n, body in enumerate(bodies)]
    policy = IdentityPolicy(modes={"strict": "one_to_one"}, shared_after=shared_after)
    build(store, setup, shared_after)
    with store.begin() as connection:
        for record in records:
            apply_event(connection, record, policy, NOW)
    expected = summary(store)
    build(store, setup, shared_after)
    with store.begin() as connection:
        apply_events(connection, records, policy, NOW)
    assert summary(store) == expected


def test_a_separation_is_found_among_more_separations_than_the_batch_names(store: OperationalStore) -> None:
    """With more active separations than labels in the batch, only those naming the batch's ids are read."""
    build(store, [("bind", "d1", "C1", "many_to_one"), ("unmerge", "d1")], shared_after=3)
    with store.begin() as connection:
        for n in range(40):  # separations of other ids, and lifted ones, which must not matter
            repo.add_separation(
                connection, ANON(f"x{n}"), LOGIN(f"Y{n}"), actor="test", reason="other", now=NOW
            )
        report = bind_pairs(
            connection, [(ANON("d1"), LOGIN("C1"))], mode="many_to_one", now=NOW, source="import"
        )
        refused = connection.execute(select(identity_log.c.reason).where(identity_log.c.action == "refused"))
        assert [r for (r,) in refused] == ["anonymous_id:d1 and customer_no:C1 were separated by an operator"]
    assert report.replayed == 1
