"""Who may be reached with marketing: consent per channel (grants, withdrawals, their history as evidence)
and the do-not-disturb list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from touchpoint.channels import repo
from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.model import CHANNELS, MAX_DND_DAYS
from touchpoint.channels.policies import ALL_CHANNELS, ConsentRecord, marketing_allowed
from touchpoint.channels.recipients import Recipients
from touchpoint.core.errors import Fault, ValidationError
from touchpoint.governance import record_operation
from touchpoint.governance.model import Principal
from touchpoint.identity.scopes import ensure_visible, scope_numbers, visible_numbers
from touchpoint.store.operational.scratch import maybe_customer_set


def _channel_or_all(channel: str) -> str:
    if channel != ALL_CHANNELS and channel not in CHANNELS:
        raise ValidationError(f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)} or * for all")
    return channel


def set_consent(
    *,
    env: ChannelEnv,
    principal: Principal,
    customer_no: str,
    channel: str,
    granted: bool,
    source: str = "console",
) -> dict[str, Any]:
    """Record a marketing consent grant or withdrawal for one channel or all ('*'), audited with the
    channel's previous record as before."""
    channel = _channel_or_all(channel)
    _check_customer_no(customer_no)
    ensure_visible(env, principal, customer_no)  # a user limited to branches changes only their customers
    if not source or len(source) > 64:
        raise ValidationError("source must be 1 to 64 characters")
    with env.ops.begin() as connection:
        earlier = [h for h in repo.consents_of(connection, customer_no) if h["channel"] == channel]
        repo.add_consent(
            connection,
            customer=customer_no,
            channel=channel,
            granted=granted,
            source=source,
            detail=f"by {principal.user}",
            now=env.clock.now(),
        )
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="consent.grant" if granted else "consent.withdraw",
            target_type="customer",
            target_id=customer_no,
            before=_consent_record(earlier[-1]) if earlier else None,
            after={"channel": channel, "granted": granted, "source": source},
        )
    return consent_of(env=env, principal=principal, customer_no=customer_no)


def consent_of(*, env: ChannelEnv, principal: Principal, customer_no: str) -> dict[str, Any]:
    """A customer's marketing consent per channel now, the profile flag, and the history as evidence."""
    ensure_visible(env, principal, customer_no)
    customers = Recipients(env.analytics, env.calendar.business_date(env.clock.now())).customers
    profile_flag = customers.value(customer_no, "consent_marketing")
    with env.ops.begin() as connection:
        history = repo.consents_of(connection, customer_no)
        dnd = repo.do_not_disturb(connection, [customer_no], env.clock.now())
    records = [ConsentRecord(h["channel"], bool(h["granted"]), h["at"]) for h in history]
    return {
        "customer_no": customer_no,
        "profile_consent_marketing": profile_flag,
        "channels": {
            c: marketing_allowed(c, profile_flag, records, customers.as_of, env.calendar.tz)[1]
            for c in CHANNELS
            if c != "log"
        },
        "do_not_disturb": dnd.get(customer_no),
        "history": [
            {
                "channel": h["channel"],
                "granted": h["granted"],
                "source": h["source"],
                "at": h["at"].isoformat(),
            }
            for h in history
        ],
    }


def add_do_not_disturb(
    *, env: ChannelEnv, principal: Principal, customer_no: str, reason: str, days: int | None = None
) -> dict[str, Any]:
    """Put a customer on the do-not-disturb list (no marketing), for good or for some days."""
    added = add_do_not_disturb_list(
        env=env, principal=principal, customers=[customer_no], reason=reason, days=days
    )
    return {"customer_no": customer_no, "reason": reason, "until": added["until"]}


def add_do_not_disturb_list(
    *, env: ChannelEnv, principal: Principal, customers: list[str], reason: str, days: int | None = None
) -> dict[str, Any]:
    """Put many customers on the list at once (a 谢绝营销 list from the call centre), all or none: a bad
    number is named and nothing is added. Each customer's entry is audited with the one it replaces."""
    if not reason.strip():
        raise ValidationError("a do-not-disturb entry needs a reason")
    hidden = sorted(set(customers) - set(visible_numbers(env, principal, customers)))
    if hidden:  # a user limited to branches: another branch's customer is as unknown as none
        raise ValidationError(f"no customer {hidden[0]!r}")
    if days is not None and not 1 <= days <= MAX_DND_DAYS:  # beyond, timedelta and datetime overflow
        raise ValidationError(
            f"days must be between 1 and {MAX_DND_DAYS} (got {days}); leave it out to keep the entry until"
            " removed",
            faults=[Fault(loc=("days",), msg=f"must be between 1 and {MAX_DND_DAYS}")],
        )
    for customer_no in customers:
        _check_customer_no(customer_no)
    now = env.clock.now()
    until = now + timedelta(days=days) if days else None
    unique = list(dict.fromkeys(customers))
    after = {"reason": reason, "until": until.isoformat() if until else None, "added_by": principal.user}
    with env.ops.begin() as connection:
        for customer_no in unique:
            before = repo.dnd_entry(connection, customer_no)
            repo.set_dnd(
                connection, customer=customer_no, reason=reason, until=until, actor=principal.user, now=now
            )
            record_operation(
                connection,
                clock=env.clock,
                principal=principal,
                action="do_not_disturb.add",
                target_type="customer",
                target_id=customer_no,
                before=_dnd_record(before),
                after=after,
            )
    return {"added": len(unique), "reason": reason, "until": until.isoformat() if until else None}


def remove_do_not_disturb(*, env: ChannelEnv, principal: Principal, customer_no: str) -> bool:
    """Take a customer off the list (recorded in the audit log with the entry it removes)."""
    with env.ops.begin() as connection:
        before = repo.dnd_entry(connection, customer_no)
        removed = repo.remove_dnd(connection, customer_no) > 0
        if removed:
            record_operation(
                connection,
                clock=env.clock,
                principal=principal,
                action="do_not_disturb.remove",
                target_type="customer",
                target_id=customer_no,
                before=_dnd_record(before),
            )
    return removed


def _consent_record(row: dict[str, Any]) -> dict[str, Any]:
    """A consent row as the audit log keeps it (its time is the entry's own)."""
    return {"channel": row["channel"], "granted": bool(row["granted"]), "source": row["source"]}


def _dnd_record(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A do-not-disturb entry as the audit log keeps it."""
    if row is None:
        return None
    until = row["until"].isoformat() if row["until"] else None
    return {"reason": row["reason"], "until": until, "added_by": row["added_by"]}


def _check_customer_no(customer_no: str) -> None:
    if not customer_no or len(customer_no) > 64:
        raise ValidationError(f"customer number {customer_no[:80]!r} must be 1 to 64 characters")


def do_not_disturb_list(*, env: ChannelEnv, principal: Principal) -> list[dict[str, Any]]:
    """The do-not-disturb list (of the customers the caller's scope holds)."""
    with env.ops.begin() as connection:
        rows = repo.dnd_list(connection)
    visible = set(visible_numbers(env, principal, [r["customer_no"] for r in rows]))
    rows = [r for r in rows if r["customer_no"] in visible]
    return [
        {
            "customer_no": r["customer_no"],
            "reason": r["reason"],
            "until": r["until"].isoformat() if r["until"] else None,
            "added_by": r["added_by"],
        }
        for r in rows
    ]


def consent_list(
    *,
    env: ChannelEnv,
    principal: Principal,
    channel: str | None = None,
    granted: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """The newest consent record of each customer and channel, filtered by channel ('*' names the records
    for all channels) and by granted or withdrawn, a page at a time — of the caller's customers only, for a
    user limited to branches."""
    if channel is not None:
        channel = _channel_or_all(channel)
    numbers = scope_numbers(env, principal.scope) if principal.scope is not None else None
    with env.ops.begin() as connection, maybe_customer_set(connection, numbers) as customers:
        rows, total = repo.latest_consents(
            connection, channel=channel, granted=granted, limit=limit, offset=offset, customers=customers
        )
    following = offset + len(rows)
    return {
        "consents": [{**r, "granted": bool(r["granted"])} for r in rows],
        "total": total,
        "next_offset": following if following < total else None,
    }
