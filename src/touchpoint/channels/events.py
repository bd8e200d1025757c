"""Message events (`message_sent`, `message_delivered`, `message_failed`, `message_opened`, `message_clicked`)
in the event log's normalised shape, carrying journey, node, template and variant so that journeys can wait
on them and reports can count them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from touchpoint.core.ids import new_id
from touchpoint.ingest.collector.model import payload

MESSAGE_EVENTS = ("message_sent", "message_delivered", "message_failed", "message_opened", "message_clicked")
RECEIPT_EVENTS = {
    "delivered": "message_delivered",
    "failed": "message_failed",
    "opened": "message_opened",
    "clicked": "message_clicked",
}


def message_event(name: str, send: dict[str, Any], at: datetime, **extra: Any) -> dict[str, Any]:
    """The normalised event for one message's outcome, attributed to its customer."""
    millis = int(at.timestamp() * 1000)
    properties = {
        "send_id": send["id"],
        "channel": send["channel"],
        "template": send["template"],
        "template_version": send["template_version"],
        "journey": send.get("journey"),
        "node": send.get("node"),
        "variant": send.get("variant"),
        "marketing": bool(send["marketing"]),
        **{k: v for k, v in extra.items() if v is not None},
    }
    return payload(
        event_id=new_id("ev"),
        source="native",
        project="default",
        kind="track",
        event=name,
        time=millis,
        client_time=millis,
        received_at=millis,
        distinct_id=send["customer_no"],
        properties=properties,
        ids={"customer_no": send["customer_no"], "is_login": True},
    )
