"""What comes back from customers and gateways: the in-app inbox and its reads, provider receipts (deliveries,
failures, opens, 退订 replies), tracked clicks and unsubscribes — each a message event, forwarded to the event
log so that journeys can wait on them and reports can count them."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from touchpoint.channels import repo
from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.events import RECEIPT_EVENTS, message_event
from touchpoint.channels.providers.base import Receipt, ReceiptError
from touchpoint.channels.recipients import Recipients, known_pii
from touchpoint.core.errors import NotFoundError, UnauthorizedError, ValidationError
from touchpoint.core.events import LogEntry
from touchpoint.governance.masking import PiiMask
from touchpoint.governance.model import Principal

OPT_OUT_REPLIES = frozenset({"td", "t", "n", "退订", "退", "取消"})
SIGNATURE_MAX_AGE = 300  # seconds

# Inbox -----------------------------------------------------------------------------------------------------


def inbox(
    *, env: ChannelEnv, principal: Principal, customer_no: str, limit: int = 50, unread_only: bool = False
) -> dict[str, Any]:
    """A customer's in-app messages, newest first, with the unread count (the app's backend reads it with
    pii:view; anyone else sees the customer's name and phone masked in them)."""
    with env.ops.begin() as connection:
        rows = repo.inbox_of(connection, customer_no, limit, unread_only)
        unread = repo.unread_count(connection, customer_no)
    pii = PiiMask(principal, env.pii_attributes)
    day = env.calendar.business_date(env.clock.now())
    known = known_pii(env.analytics, day, customer_no, env.pii_attributes) if pii.active else []
    return {
        "customer_no": customer_no,
        "unread": unread,
        "messages": [
            {
                "id": r["id"],
                "title": pii.text(r["title"], known),
                "body": pii.text(r["body"], known),
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


def apply_receipts(
    *,
    env: ChannelEnv,
    channel: str,
    body: bytes,
    headers: dict[str, str],
    token: str | None,
    signed: WechatSignature | None = None,
) -> dict[str, int]:
    """A provider's callback, authenticated by the channel's receipt token: delivery, failure and open
    receipts move their sends on and become message events (once per send); replies of 退订/TD opt the
    sender out of marketing SMS. A receipt for a send not committed yet is kept and matched by the worker."""
    _check_token(env, channel, token, signed)
    provider = env.providers.get(channel)
    if provider is None:
        raise NotFoundError(f"channel {channel} has no provider configured")
    try:
        receipts = provider.parse_receipt(body, headers)
    except ReceiptError as exc:
        raise ValidationError(f"{channel} receipt: {exc}") from exc
    counts = {"applied": 0, "pending": 0, "opt_outs": 0, "ignored": 0}
    now = env.clock.now()
    with env.ops.begin() as connection:
        for receipt in receipts:
            counts[_apply_receipt(env, connection, channel, receipt, now)] += 1
    return counts


@dataclass(frozen=True)
class WechatSignature:
    """The query WeChat adds to every call of a server URL: sha1 of the sorted token, timestamp and nonce."""

    signature: str
    timestamp: str
    nonce: str

    def valid_for(self, token: str, now: datetime) -> bool:
        """Whether WeChat signed this call with the account's token within the last five minutes (the
        signature does not cover the body, so an old signed URL must not be replayable)."""
        if not self.timestamp.isdigit() or abs(now.timestamp() - int(self.timestamp)) > SIGNATURE_MAX_AGE:
            return False
        digest = hashlib.sha1("".join(sorted([token, self.timestamp, self.nonce])).encode()).hexdigest()
        return hmac.compare_digest(digest, self.signature)


def _check_token(env: ChannelEnv, channel: str, token: str | None, signed: WechatSignature | None) -> None:
    """A callback must carry the channel's receipt token — or, from WeChat, a signature made with it."""
    expected = env.receipt_tokens.get(channel)
    if expected is None:
        raise UnauthorizedError(
            f"receipts for {channel} need channels.{channel}.receipt_token in the settings"
        )
    if signed is not None and signed.valid_for(expected, env.clock.now()):
        return
    if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise UnauthorizedError(f"receipts for {channel}: missing or wrong token")


def wechat_handshake(*, env: ChannelEnv, channel: str, signed: WechatSignature, echostr: str) -> str:
    """WeChat's check of a server URL before it sends events there: answer `echostr` when the signature
    was made with the configured token."""
    expected = env.receipt_tokens.get(channel)
    if expected is None or not signed.valid_for(expected, env.clock.now()):
        raise UnauthorizedError(f"{channel}: the signature does not match channels.{channel}.receipt_token")
    return echostr


def _apply_receipt(env: ChannelEnv, connection: Any, channel: str, receipt: Receipt, now: datetime) -> str:
    if receipt.status == "reply":
        return "opt_outs" if _opt_out_reply(env, connection, channel, receipt, now) else "ignored"
    if not receipt.provider_message_id:
        return "ignored"
    send = repo.send_by_provider_id(connection, channel, receipt.provider_message_id)
    if send is None:
        pending = {
            "provider_message_id": receipt.provider_message_id[:128],
            "status": receipt.status,
            "reason": receipt.reason,
            "at": receipt.at or now,
        }
        repo.add_pending_receipt(connection, channel, pending, now)
        return "pending"
    _receipt_event(connection, send, receipt.status, receipt.reason, receipt.at or now)
    return "applied"


def _receipt_event(
    connection: Any, send: dict[str, Any], status: str, reason: str | None, at: datetime
) -> None:
    event = RECEIPT_EVENTS[status]
    once = (event,) if status in ("opened", "clicked") else ("message_delivered", "message_failed")
    if any(repo.has_event(connection, send["id"], e) for e in once):
        return  # a repeated report, or a second click, is not a second outcome
    if not repo.add_event_once(
        connection, send["id"], event, message_event(event, send, at, reason=reason), at
    ):
        return  # a concurrent callback or click recorded it a moment ago
    if status in ("delivered", "failed"):
        repo.set_send_status(connection, send["id"], status, reason, at)


def match_pending_receipts(*, env: ChannelEnv, limit: int = 1_000, keep_hours: int = 24) -> int:
    """Apply receipts that came before their send was visible; forget those that waited over `keep_hours`."""
    now = env.clock.now()
    with env.ops.begin() as connection:
        rows = repo.pending_receipts(connection, limit)
        done = []
        for row in rows:
            send = repo.send_by_provider_id(connection, row["channel"], row["provider_message_id"])
            if send is not None:
                _receipt_event(connection, send, row["status"], row["reason"], row["at"])
            if send is not None or now - row["received_at"] > timedelta(hours=keep_hours):
                done.append(int(row["id"]))
        repo.drop_pending_receipts(connection, done)
    return len(done)


def _opt_out_reply(env: ChannelEnv, connection: Any, channel: str, receipt: Receipt, now: datetime) -> bool:
    """A reply of TD / 退订 (in any width, with punctuation) withdraws marketing consent on this channel for
    the customers with that phone number (with or without +86)."""
    if _reply_word(receipt.text) not in OPT_OUT_REPLIES or not receipt.address:
        return False
    phone = _national_number(receipt.address)
    recipients = Recipients(env.analytics, env.calendar.business_date(now))
    customers = recipients.customers.keys_where("phone", phone)
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


def _reply_word(text: str | None) -> str:
    normal = unicodedata.normalize("NFKC", text or "").strip().lower()
    return "".join(ch for ch in normal if not unicodedata.category(ch).startswith(("P", "Z", "C")))


def _national_number(address: str) -> str:
    digits = "".join(ch for ch in address if ch.isdigit())
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


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
