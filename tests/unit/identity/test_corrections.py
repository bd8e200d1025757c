"""One ID corrections: the twin of a login, shared devices, unmerge that is remembered, the default mode."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from touchpoint.bootstrap import Container
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.identity import repo
from touchpoint.identity.corrections import allow, unmerge
from touchpoint.identity.graph import Graph
from touchpoint.identity.model import Identifier
from touchpoint.identity.service import id_tables, show

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ANON = lambda v: Identifier("anonymous_id", v)  # noqa: E731
LOGIN = lambda v: Identifier("customer_no", v)  # noqa: E731


def _uid(container: Container, ident: Identifier) -> int | None:
    with container.ops.begin() as connection:
        return repo.uid_of(connection, ident)


def _ids(container: Container, ident: Identifier) -> set[str]:
    with container.ops.begin() as connection:
        uid = repo.uid_of(connection, ident)
        assert uid is not None
        return {i.label() for i in repo.ids_of(connection, uid)}


def _bind(container: Container, device: str, customer: str, mode: str = "many_to_one") -> None:
    with container.ops.begin() as connection:
        Graph(connection, now=NOW, source="test", shared_after=3).bind(ANON(device), LOGIN(customer), mode)  # type: ignore[arg-type]


def _ensure(container: Container, ident: Identifier) -> int | None:
    with container.ops.begin() as connection:
        return Graph(connection, now=NOW, source="test").ensure(ident)


def test_an_anonymous_id_that_is_the_login_becomes_the_login(container: Container) -> None:
    """Sensors track(X, is_login_id=False), then X logs in: one identifier, not X and its twin."""
    anon_uid = _ensure(container, ANON("C0007"))
    assert _ensure(container, LOGIN("C0007")) == anon_uid
    assert _ids(container, LOGIN("C0007")) == {"customer_no:C0007"}
    _bind(container, "C0007", "C0007")  # a login call naming the same value as its own anonymous id
    assert _ids(container, LOGIN("C0007")) == {"customer_no:C0007"}
    shown = show(env=container, value="C0007")
    assert [i["id_value"] for i in shown["identifiers"]] == ["C0007"]


def test_event_id_map_has_one_row_per_value(container: Container) -> None:
    _ensure(container, ANON("X1"))
    _ensure(container, LOGIN("C1"))
    _bind(container, "X1", "C1")
    # a value known as a customer number of one person and an anonymous id of another
    _ensure(container, LOGIN("C2"))
    _bind(container, "C2", "C1")
    with container.ops.begin() as connection:
        Graph(connection, now=NOW, source="t").ensure(Identifier("phone", "X1"))
    _, id_map = id_tables(env=container)
    values = id_map["id_value"].to_pylist()
    assert len(values) == len(set(values))
    owner = dict(zip(values, id_map["customer_no"].to_pylist(), strict=True))
    assert owner["X1"] == "C1"  # the anonymous id outranks a phone of another person with the same value
    assert owner["C2"] == "C2"  # a customer number is itself, whatever else carries its value
    assert owner["C1"] == "C1"


def test_every_device_of_a_customer_joins_it_by_default(container: Container) -> None:
    assert container.identity_policy.default_mode == "many_to_one"
    for device in ("phone-1", "tablet-1", "pc-1"):
        _bind(container, device, "C1")
    assert _ids(container, LOGIN("C1")) == {
        "customer_no:C1",
        "anonymous_id:phone-1",
        "anonymous_id:tablet-1",
        "anonymous_id:pc-1",
    }
    _bind(container, "phone-1", "C2")  # never two customers into one
    assert _uid(container, LOGIN("C2")) != _uid(container, LOGIN("C1"))
    assert _uid(container, ANON("phone-1")) == _uid(container, LOGIN("C1"))


def test_strict_mode_keeps_only_the_first_device(container: Container) -> None:
    _bind(container, "phone-1", "C1", "one_to_one")
    _bind(container, "tablet-1", "C1", "one_to_one")
    assert _ids(container, LOGIN("C1")) == {"customer_no:C1", "anonymous_id:phone-1"}


@pytest.mark.parametrize("customer_known_first", [False, True])
def test_kiosk_unmerge_detaches_the_device_and_is_remembered(
    container: Container, customer_known_first: bool
) -> None:
    """The branch kiosk: anonymous first, then a customer logs in on it; the operator detaches the kiosk."""
    kiosk_uid = _ensure(container, ANON("kiosk"))
    if customer_known_first:
        _ensure(container, LOGIN("C1"))
    _bind(container, "kiosk", "C1")
    customer_uid = _uid(container, LOGIN("C1"))
    with container.ops.begin() as connection:
        repo.write_profile(connection, customer_uid, {"risk_level": "C4"}, [], "test", NOW)  # type: ignore[arg-type]
    result = unmerge(env=container, principal=SYSTEM, value="kiosk", reason="branch kiosk")
    assert result["moved"] == ["anonymous_id:kiosk"]
    assert _uid(container, LOGIN("C1")) == customer_uid  # the customer keeps its uid …
    assert show(env=container, value="C1")["profile"] == {"risk_level": "C4"}  # … and profile
    assert _ids(container, LOGIN("C1")) == {"customer_no:C1"}
    assert _ids(container, ANON("kiosk")) == {"anonymous_id:kiosk"}
    assert _uid(container, ANON("kiosk")) == (kiosk_uid if customer_known_first else result["to_uid"])
    _bind(container, "kiosk", "C1")  # the next event carrying both does not merge them again
    assert _uid(container, ANON("kiosk")) != _uid(container, LOGIN("C1"))
    assert show(env=container, value="C1")["separations"][0]["left"] == "anonymous_id:kiosk"
    allow(env=container, principal=SYSTEM, value="kiosk", other="C1")
    _bind(container, "kiosk", "C1")
    assert _uid(container, ANON("kiosk")) == _uid(container, LOGIN("C1"))


def test_unmerge_refuses_a_customer_number_and_a_lone_identifier(container: Container) -> None:
    _bind(container, "dev-1", "C1")
    with pytest.raises(ValidationError, match=r"name the identifier to detach.*anonymous_id:dev-1"):
        unmerge(env=container, principal=SYSTEM, value="C1")
    _ensure(container, ANON("alone"))
    with pytest.raises(ValidationError, match="nothing to detach"):
        unmerge(env=container, principal=SYSTEM, value="alone")
    with pytest.raises(ValidationError, match="not separated"):
        allow(env=container, principal=SYSTEM, value="dev-1", other="C1")


def test_a_device_seen_with_three_customers_is_shared(container: Container) -> None:
    _bind(container, "kiosk", "C1")
    _bind(container, "kiosk", "C1")  # the same customer again does not count twice
    _bind(container, "kiosk", "C2")
    assert _uid(container, ANON("kiosk")) == _uid(container, LOGIN("C1"))
    _bind(container, "kiosk", "C3")
    assert _ids(container, ANON("kiosk")) == {"anonymous_id:kiosk"}
    assert _ids(container, LOGIN("C1")) == {"customer_no:C1"}
    _bind(container, "kiosk", "C4")
    assert _ids(container, ANON("kiosk")) == {"anonymous_id:kiosk"}
    assert show(env=container, value="kiosk")["shared"] == ["anonymous_id:kiosk"]
    _, id_map = id_tables(env=container)
    owner = dict(zip(id_map["id_value"].to_pylist(), id_map["customer_no"].to_pylist(), strict=True))
    assert owner["kiosk"] is None  # its events stay anonymous
