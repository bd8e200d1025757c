"""The registry routes read every kind of definition with the permission that kind really has."""

from __future__ import annotations

from support import api_client
from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM
from touchpoint.governance.model import RoleUpdate
from touchpoint.governance.permissions import ALL_PERMISSIONS
from touchpoint.governance.roles import set_role


def test_every_registered_kind_is_readable_by_an_admin(sqlite_container: Container) -> None:
    kinds = sqlite_container.registry.kinds
    assert "mot_rule" in kinds
    with api_client(sqlite_container) as client:
        listed = {kind: client.get(f"/api/v1/registry/{kind}").status_code for kind in kinds}
    assert listed == dict.fromkeys(kinds, 200)


def test_each_kind_reads_with_a_permission_of_the_catalogue(sqlite_container: Container) -> None:
    registry = sqlite_container.registry
    assert {k: registry.kind(k).read for k in registry.kinds} == {
        "indicator": "indicator:read",
        "tag": "tag:read",
        "segment": "segment:read",
        "template": "template:read",
        "mot_rule": "moment:read",
        "journey": "journey:read",
        "channel_policy": "channel:read",
    }
    assert {registry.kind(k).read for k in registry.kinds} <= ALL_PERMISSIONS


def test_a_role_holding_only_moment_read_reads_mot_rules_and_nothing_else(
    sqlite_container: Container,
) -> None:
    set_role(
        sqlite_container,
        principal=SYSTEM,
        name="mot_reader",
        change=RoleUpdate(title="MOT reader", permissions=["moment:read"]),
    )
    with api_client(sqlite_container, roles=("mot_reader",)) as client:
        assert client.get("/api/v1/registry/mot_rule").status_code == 200
        refused = client.get("/api/v1/registry/journey")
    assert refused.status_code == 403
    assert "journey:read" in refused.text
