"""What comes back from customers and gateways: the in-app inbox and its reads, provider receipts (deliveries,
failures, opens, 退订 replies), tracked clicks and unsubscribes — each a message event, forwarded to the event
log so that journeys can wait on them and reports can count them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from touchpoint.channels import repo
from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.events import RECEIPT_EVENTS, message_event
from touchpoint.channels.providers.base import Receipt, ReceiptError
from touchpoint.channels.recipients import Recipients
from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.core.events import LogEntry

OPT_OUT_REPLIES = frozenset({"td", "t", "n", "退订", "退", "取消"})

# Inbox -----------------------------------------------------------------------------------------------------


def inbox(*, env: ChannelEnv, customer_no: str, limit: int = 50, unread_only: bool = False) -> dict[str, Any]:
    """A customer's in-app messages, newest first, with the unread count."""
    with env.ops.begin() as connection:
        rows = repo.inbox_of(connection, customer_no, limit, unread_only)
        unread = len(repo.inbox_of(connection, customer_no, 10_000, True))
    return {
        "customer_no": customer_no,
        "unread": unread,
        "messages": [
            {
                "id": r["id"],
                "title": r["title"],
                "body": r["body"],
                "url": r["url"],
                "created_at": r["created_at"].isoformat(),
                "read": r["read_at"] is not None,
            }
            for r in rows
        ],
    }


def read_inbox_message(*, env: ChannelEnv, customer_no: str, message_id: str) -> bool:
    """Mark an in-app message read; its first reading is the message's `message_opened` event."""
    now = env.clock.now()
    with env.ops.begin() as connection:
        if not repo.mark_inbox_read(connection, customer_no, message_id, now):
            return False
        send = repo.get_send(connection, message_id)
        if send is not None:
            _receipt_event(connection, send, "opened", None, now)
    return True


# Receipts, clicks and unsubscribes -------------------------------------------------------------------------


def apply_receipts(*, env: ChannelEnv, channel: str, body: bytes, headers: dict[str, str]) -> dict[str, int]:
    """A provider's callback: delivery, failure and open receipts move their sends on and become message
    events; replies of 退订/TD opt the sender out of marketing SMS. Unknown message ids are only counted."""
    provider = env.providers.get(channel)
    if provider is None:
        raise NotFoundError(f"channel {channel} has no provider configured")
    try:
        receipts = provider.parse_receipt(body, headers)
    except ReceiptError as exc:
        raise ValidationError(f"{channel} receipt: {exc}") from exc
    counts = {"applied": 0, "unknown": 0, "opt_outs": 0}
    now = env.clock.now()
    with env.ops.begin() as connection:
        for receipt in receipts:
            counts[_apply_receipt(env, connection, channel, receipt, now)] += 1
    return counts


def _apply_receipt(env: ChannelEnv, connection: Any, channel: str, receipt: Receipt, now: datetime) -> str:
    if receipt.status == "reply":
        return "opt_outs" if _opt_out_reply(env, connection, channel, receipt, now) else "unknown"
    send = repo.send_by_provider_id(connection, channel, receipt.provider_message_id or "")
    if send is None:
        return "unknown"
    _receipt_event(connection, send, receipt.status, receipt.reason, receipt.at or now)
    return "applied"


def _receipt_event(
    connection: Any, send: dict[str, Any], status: str, reason: str | None, at: datetime
) -> None:
    event = RECEIPT_EVENTS[status]
    if status in ("opened", "clicked") and repo.has_event(connection, send["id"], event):
        return  # a second open or click of one message is not a second conversion
    if status in ("delivered", "failed"):
        repo.set_send_status(connection, send["id"], status, reason, at)
    repo.add_event(connection, send["id"], event, message_event(event, send, at, reason=reason), at)


def _opt_out_reply(env: ChannelEnv, connection: Any, channel: str, receipt: Receipt, now: datetime) -> bool:
    if (receipt.text or "").strip().lower() not in OPT_OUT_REPLIES or not receipt.address:
        return False
    recipients = Recipients(env.analytics, env.calendar.business_date(now))
    customers = recipients.customers.keys_where("phone", receipt.address)
    for customer in customers:
        repo.add_consent(
            connection,
            customer=customer,
            channel=channel,
            granted=False,
            source="reply",
            detail=receipt.text,
            now=now,
        )
    return bool(customers)


def follow_link(*, env: ChannelEnv, code: str) -> str:
    """A tracked link's target; the first click of a message records `message_clicked`."""
    now = env.clock.now()
    with env.ops.begin() as connection:
        found = repo.link(connection, code)
        if found is None or found["kind"] != "link":
            raise NotFoundError(f"no tracked link {code!r}")
        send = repo.get_send(connection, found["send_id"])
        if send is not None:
            _receipt_event(connection, send, "clicked", None, now)
    return str(found["url"])


def unsubscribe(*, env: ChannelEnv, code: str) -> dict[str, Any]:
    """An unsubscribe link: the customer opts out of marketing on the message's channel."""
    now = env.clock.now()
    with env.ops.begin() as connection:
        found = repo.link(connection, code)
        send = (
            repo.get_send(connection, found["send_id"]) if found and found["kind"] == "unsubscribe" else None
        )
        if send is None:
            raise NotFoundError(f"no unsubscribe link {code!r}")
        repo.add_consent(
            connection,
            customer=send["customer_no"],
            channel=send["channel"],
            granted=False,
            source="unsubscribe_link",
            detail=send["id"],
            now=now,
        )
    return {"customer_no": send["customer_no"], "channel": send["channel"], "opted_out": True}


# Events into the event log ---------------------------------------------------------------------------------


def forward_events(*, env: ChannelEnv, limit: int = 1_000) -> int:
    """Append recorded message events to the event log, then mark them. A crash between the two appends them
    again under the same dedupe key, which the log drops."""
    with env.ops.begin() as connection:
        rows = repo.unforwarded_events(connection, limit)
    if not rows:
        return 0
    entries = [LogEntry(f"channel-event|{r['id']}", r["payload"]["event_id"], r["payload"]) for r in rows]
    env.log.append(entries, received_at=env.clock.now())
    with env.ops.begin() as connection:
        repo.mark_forwarded(connection, [int(r["id"]) for r in rows])
    return len(rows)
