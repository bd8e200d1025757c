"""Consent and do-not-disturb changes are audited: who, from where, before and after, in the change's own
transaction (a change whose audit entry cannot be written does not happen)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from touchpoint.bootstrap import Container
from touchpoint.channels import audience
from touchpoint.governance import Principal
from touchpoint.governance.audit import search, verify

ALICE = Principal(user="alice", source="api:10.0.0.7")


def _trail(container: Container, customer_no: str) -> list[tuple[str, str, Any, Any]]:
    """The customer's audit entries, oldest first: (action, actor, before, after)."""
    found = search(container.ops, kind="customer", target=customer_no)
    return [(e.action, e.actor, e.before, e.after) for e in reversed(found)]


def test_a_consent_grant_and_withdrawal_are_audited_with_before_and_after(container: Container) -> None:
    audience.set_consent(env=container, principal=ALICE, customer_no="C1", channel="sms", granted=True)
    audience.set_consent(
        env=container, principal=ALICE, customer_no="C1", channel="sms", granted=False, source="call_centre"
    )

    assert _trail(container, "C1") == [
        ("consent.grant", "alice", None, {"channel": "sms", "granted": True, "source": "console"}),
        (
            "consent.withdraw",
            "alice",
            {"channel": "sms", "granted": True, "source": "console"},
            {"channel": "sms", "granted": False, "source": "call_centre"},
        ),
    ]
    [newest] = search(container.ops, target="C1", limit=1)
    assert newest.source == "api:10.0.0.7"
    assert verify(container.ops).ok


def test_do_not_disturb_additions_and_removal_are_audited(container: Container) -> None:
    until = (container.clock.now() + timedelta(days=30)).isoformat()
    audience.add_do_not_disturb_list(
        env=container, principal=ALICE, customers=["C1", "C2", "C1"], reason="谢绝营销", days=30
    )
    audience.add_do_not_disturb(env=container, principal=ALICE, customer_no="C1", reason="客户投诉")
    assert audience.remove_do_not_disturb(env=container, principal=ALICE, customer_no="C1")

    first = {"reason": "谢绝营销", "until": until, "added_by": "alice"}
    second = {"reason": "客户投诉", "until": None, "added_by": "alice"}
    assert _trail(container, "C1") == [
        ("do_not_disturb.add", "alice", None, first),
        ("do_not_disturb.add", "alice", first, second),
        ("do_not_disturb.remove", "alice", second, None),
    ]
    assert _trail(container, "C2") == [("do_not_disturb.add", "alice", None, first)]


def test_a_change_whose_audit_entry_fails_is_not_made(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(audience, "record_operation", broken)
    with pytest.raises(RuntimeError):
        audience.set_consent(env=container, principal=ALICE, customer_no="C1", channel="sms", granted=False)
    with pytest.raises(RuntimeError):
        audience.add_do_not_disturb(env=container, principal=ALICE, customer_no="C1", reason="客户投诉")
    monkeypatch.undo()

    assert audience.consent_of(env=container, principal=ALICE, customer_no="C1")["history"] == []
    assert audience.do_not_disturb_list(env=container, principal=ALICE) == []
