"""The One ID rules on both operational stores."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from touchpoint.bootstrap import Container
from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.identity import repo
from touchpoint.identity.corrections import unmerge
from touchpoint.identity.graph import Graph
from touchpoint.identity.model import Identifier
from touchpoint.identity.service import BULK_STATISTICS_ROWS, link_business_ids, show

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ANON = lambda v: Identifier("anonymous_id", v)  # noqa: E731
LOGIN = lambda v: Identifier("customer_no", v)  # noqa: E731


def _uid(container: Container, ident: Identifier) -> int | None:
    with container.ops.begin() as connection:
        return repo.uid_of(connection, ident)


def _graph_do(container: Container, action):  # type: ignore[no-untyped-def]
    with container.ops.begin() as connection:
        return action(Graph(connection, now=NOW, source="test"))


def test_anonymous_then_login_resolve_to_one_uid(container: Container) -> None:
    anon_uid = _graph_do(container, lambda g: g.ensure(ANON("dev-1")))
    _graph_do(container, lambda g: g.bind(ANON("dev-1"), LOGIN("C001"), "one_to_one"))
    assert _uid(container, LOGIN("C001")) == _uid(container, ANON("dev-1")) == anon_uid


def test_one_to_one_first_login_wins(container: Container) -> None:
    _graph_do(container, lambda g: g.bind(ANON("dev-1"), LOGIN("C001"), "one_to_one"))
    _graph_do(container, lambda g: g.bind(ANON("dev-1"), LOGIN("C002"), "one_to_one"))
    assert _uid(container, ANON("dev-1")) == _uid(container, LOGIN("C001"))
    assert _uid(container, LOGIN("C002")) not in (None, _uid(container, LOGIN("C001")))
    # …and a login keeps its first device in one-to-one mode
    _graph_do(container, lambda g: g.bind(ANON("dev-2"), LOGIN("C001"), "one_to_one"))
    assert _uid(container, ANON("dev-2")) != _uid(container, LOGIN("C001"))


def test_many_to_one_gathers_devices_but_never_moves_one(container: Container) -> None:
    for device in ("dev-1", "dev-2", "dev-3"):
        _graph_do(container, lambda g, d=device: g.bind(ANON(d), LOGIN("C001"), "many_to_one"))
    uid = _uid(container, LOGIN("C001"))
    assert {_uid(container, ANON(d)) for d in ("dev-1", "dev-2", "dev-3")} == {uid}
    _graph_do(container, lambda g: g.bind(ANON("dev-1"), LOGIN("C002"), "many_to_one"))
    assert _uid(container, ANON("dev-1")) == uid


def test_two_customer_numbers_are_never_merged(container: Container) -> None:
    _graph_do(container, lambda g: g.ensure(LOGIN("C001")))
    _graph_do(container, lambda g: g.ensure(LOGIN("C002")))
    _graph_do(container, lambda g: g.bind_all([LOGIN("C001"), LOGIN("C002")], "many_to_one"))
    assert _uid(container, LOGIN("C001")) != _uid(container, LOGIN("C002"))
    body = show(env=container, value="C001")
    assert any(e["action"] == "refused" for e in body["log"])


@pytest.mark.parametrize("generic", ["null", "undefined", "0", "anonymous", ""])
def test_generic_ids_link_nothing(container: Container, generic: str) -> None:
    _graph_do(container, lambda g: g.bind(ANON(generic), LOGIN("C001"), "many_to_one"))
    _graph_do(container, lambda g: g.bind(ANON(generic), LOGIN("C002"), "many_to_one"))
    assert _uid(container, ANON(generic)) is None
    assert _uid(container, LOGIN("C001")) != _uid(container, LOGIN("C002"))


def test_merge_of_an_anonymous_person_then_unmerge(container: Container) -> None:
    anon_uid = _graph_do(container, lambda g: g.ensure(ANON("dev-1")))
    login_uid = _graph_do(container, lambda g: g.ensure(LOGIN("C001")))
    _graph_do(container, lambda g: g.bind(ANON("dev-1"), LOGIN("C001"), "one_to_one"))
    assert _uid(container, ANON("dev-1")) == login_uid
    result = unmerge(env=container, principal=SYSTEM, value="dev-1")
    assert result["to_uid"] == anon_uid
    assert _uid(container, ANON("dev-1")) == anon_uid
    assert _uid(container, LOGIN("C001")) == login_uid
    with pytest.raises(ValidationError, match="nothing to detach"):
        unmerge(env=container, principal=SYSTEM, value="dev-1")
    with pytest.raises(NotFoundError):
        unmerge(env=container, principal=SYSTEM, value="nobody")


def test_business_ids_link_in_bulk_and_idempotently(container: Container) -> None:
    rows = [
        {"customer_no": "C001", "phone": "13800000001", "wechat_openid": "o1"},
        {"customer_no": "C002", "phone": "13800000002", "wechat_openid": None},
    ]
    link_business_ids(env=container, customers=rows)
    link_business_ids(env=container, customers=rows)
    assert _uid(container, Identifier("phone", "13800000001")) == _uid(container, LOGIN("C001"))
    assert _uid(container, Identifier("wechat_openid", "o1")) == _uid(container, LOGIN("C001"))
    assert _uid(container, LOGIN("C002")) != _uid(container, LOGIN("C001"))
    body = show(env=container, value="13800000002", id_type="phone")
    assert {i["id_value"] for i in body["identifiers"]} == {"C002", "13800000002"}


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # planner statistics: PostgreSQL
def test_a_bulk_link_refreshes_the_graphs_statistics(container: Container) -> None:
    """After linking a brokerage's customers at once the planner knows the graph is large: unanalysed, it
    took the table for empty and looked events' senders up with a join of every link with every customer."""
    estimate = "SELECT reltuples FROM pg_class WHERE oid = 'identity_links'::regclass"
    with container.ops.begin() as connection:
        before = connection.execute(text(estimate)).scalar_one()
    rows = [{"customer_no": f"C{i:07d}", "phone": f"138{i:08d}"} for i in range(6_000)]
    assert link_business_ids(env=container, customers=rows) >= BULK_STATISTICS_ROWS
    with container.ops.begin() as connection:
        after = connection.execute(text(estimate)).scalar_one()
    assert before <= 0  # never analysed
    assert after == pytest.approx(12_000, rel=0.1)
