"""Channel use cases: templates (save, check, preview, activate, retire), consent and the do-not-disturb
list, the in-app inbox, receipts, tracked clicks and unsubscribes, message events, reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError as PydanticError

from touchpoint.channels import repo
from touchpoint.channels.dispatcher import TEMPLATE_KIND, active_template, render_context
from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.events import RECEIPT_EVENTS, message_event
from touchpoint.channels.model import CHANNELS, TemplateDef, product_code
from touchpoint.channels.policies import ALL_CHANNELS, ConsentRecord, marketing_allowed
from touchpoint.channels.providers.base import PermanentError, Receipt, ReceiptError
from touchpoint.channels.recipients import Recipients
from touchpoint.channels.templates import Known, TemplateRenderError, check, render
from touchpoint.core.errors import ConflictError, NotFoundError, ValidationError
from touchpoint.core.events import LogEntry
from touchpoint.governance import record_operation, save_definition
from touchpoint.governance.model import Principal
from touchpoint.indicators.service import list_indicators
from touchpoint.ingest.model import CUSTOMERS, PRODUCTS
from touchpoint.store.operational import definitions as store
from touchpoint.tags.service import list_tags

OPT_OUT_REPLIES = frozenset({"td", "t", "n", "退订", "退", "取消"})

# Templates -------------------------------------------------------------------------------------------------


def parse_template(body: Any) -> TemplateDef:
    """A template from JSON or YAML data, faults named by place."""
    try:
        return TemplateDef.model_validate(body)
    except PydanticError as exc:
        faults = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'template'}: {e['msg']}" for e in exc.errors()
        )
        raise ValidationError(f"invalid template: {faults}") from exc


def known_names(env: ChannelEnv) -> Known:
    """The names templates may use: profile columns, tag and indicator names, product columns."""
    customer_columns = set(CUSTOMERS.column_names) | {"email", "lowest_risk_category"}
    customers = Recipients(env.analytics, env.calendar.business_date(env.clock.now())).customers
    customer_columns |= set(customers.column_names)
    return Known(
        customer=frozenset(customer_columns),
        tags=frozenset(list_tags(env=env.tags)),
        indicators=frozenset(list_indicators(env=env.tags.indicators)),
        product=frozenset(PRODUCTS.column_names),
    )


def check_template(*, env: ChannelEnv, template: TemplateDef) -> list[str]:
    """The content check's faults (empty when the template may be activated)."""
    return check(template, policy=env.policy, known=known_names(env))


def save_template(*, env: ChannelEnv, principal: Principal, template: TemplateDef) -> dict[str, Any]:
    """Store a new version (a draft until activated); the content check's faults come back as a warning."""
    with env.ops.begin() as connection:
        state = repo.template_state(connection, template.name)
    if state is not None and state["channel"] != template.channel:
        raise ConflictError(
            f"template {template.name!r} is for {state['channel']}; a new channel needs a new name"
        )
    body = template.model_dump(mode="json")
    version = save_definition(
        env.ops, clock=env.clock, principal=principal, kind=TEMPLATE_KIND, name=template.name, body=body
    )
    with env.ops.begin() as connection:
        if state is None:
            repo.set_template_state(
                connection, template.name, env.clock.now(), channel=template.channel, status="draft"
            )
    return {"name": template.name, "version": version, "faults": check_template(env=env, template=template)}


def get_template(*, env: ChannelEnv, name: str, version: int | None = None) -> TemplateDef:
    """A template's newest (or a given) version."""
    with env.ops.begin() as connection:
        history = store.history(connection, TEMPLATE_KIND, name)
    bodies = [h for h in history if h["body"] is not None and (version is None or h["version"] == version)]
    if not bodies:
        raise NotFoundError(f"template {name!r}{f' version {version}' if version else ''} does not exist")
    return TemplateDef.model_validate(bodies[-1]["body"])


def list_templates(*, env: ChannelEnv) -> list[dict[str, Any]]:
    """Every template with its channel, classification, status and versions."""
    with env.ops.begin() as connection:
        states = repo.template_states(connection)
        bodies = store.current(connection, TEMPLATE_KIND)
        versions = {name: len(store.history(connection, TEMPLATE_KIND, name)) for name in bodies}
    return [
        {
            "name": name,
            "title": body["title"],
            "channel": body["channel"],
            "classification": body["classification"],
            "urgent": body.get("urgent", False),
            "status": states.get(name, {}).get("status", "draft"),
            "active_version": states.get(name, {}).get("active_version"),
            "latest_version": versions[name],
        }
        for name, body in sorted(bodies.items())
    ]


def activate_template(
    *, env: ChannelEnv, principal: Principal, name: str, version: int | None = None
) -> dict[str, Any]:
    """Make a version the one that sends once the content check passes (ValidationError names faults)."""
    template = get_template(env=env, name=name, version=version)
    with env.ops.begin() as connection:
        version = version or len(store.history(connection, TEMPLATE_KIND, name))
    faults = check_template(env=env, template=template)
    if faults:
        raise ValidationError(
            f"template {name!r} version {version} cannot be activated: " + "; ".join(faults)
        )
    return _set_status(env, principal, name, "active", version)


def retire_template(*, env: ChannelEnv, principal: Principal, name: str) -> dict[str, Any]:
    """Stop a template from sending (steps that use it then fail with the reason)."""
    get_template(env=env, name=name)
    return _set_status(env, principal, name, "retired", None)


def _set_status(
    env: ChannelEnv, principal: Principal, name: str, status: str, version: int | None
) -> dict[str, Any]:
    with env.ops.begin() as connection:
        before = repo.template_state(connection, name)
        repo.set_template_state(connection, name, env.clock.now(), status=status, active_version=version)
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action=f"template.{status}",
            target_type=TEMPLATE_KIND,
            target_id=name,
            before={"status": before["status"], "version": before["active_version"]} if before else None,
            after={"status": status, "version": version},
        )
    return {"name": name, "status": status, "active_version": version}


def template_ready(*, env: ChannelEnv, name: str, channel: str) -> str | None:
    """Why a journey may not send this template on this channel now, or None (used when publishing)."""
    with env.ops.begin() as connection:
        try:
            template, _ = active_template(connection, name)
        except PermanentError as exc:
            return str(exc)
    if template.channel != channel:
        return f"template {name!r} is for {template.channel}, not {channel}"
    if channel not in env.providers:
        return f"channel {channel} has no provider configured"
    return None


def preview(
    *,
    env: ChannelEnv,
    name: str,
    customer_no: str,
    payload: dict[str, Any] | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """The template rendered for one customer (links not rewritten, nothing sent), with the content check."""
    template = get_template(env=env, name=name, version=version)
    recipients = Recipients(env.analytics, env.calendar.business_date(env.clock.now()))
    profile = recipients.customers.row(customer_no)
    if not profile:
        raise NotFoundError(f"customer {customer_no} is not in the customers snapshot")
    code = product_code(template.product, payload or {})
    product = recipients.products.row(code) if code else {}
    unsubscribe = f"{env.public_url.rstrip('/')}/u/preview" if template.marketing else ""
    context = render_context(recipients, customer_no, profile, payload or {}, product, unsubscribe)
    try:
        rendered = render(template, context)
    except TemplateRenderError as exc:
        raise ValidationError(f"template {name!r} cannot be rendered for {customer_no}: {exc}") from exc
    return {
        "name": name,
        "channel": template.channel,
        "customer_no": customer_no,
        "address": recipients.address(template.channel, customer_no, profile),
        "subject": rendered.subject,
        "body": rendered.body,
        "url": rendered.url,
        "params": rendered.params,
        "length": len(rendered.body),
        "faults": check_template(env=env, template=template),
    }


# Consent and do-not-disturb --------------------------------------------------------------------------------


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
    """Record a marketing consent grant or withdrawal for one channel or all ('*')."""
    channel = _channel_or_all(channel)
    with env.ops.begin() as connection:
        repo.add_consent(
            connection,
            customer=customer_no,
            channel=channel,
            granted=granted,
            source=source,
            detail=f"by {principal.user}",
            now=env.clock.now(),
        )
    return consent_of(env=env, customer_no=customer_no)


def consent_of(*, env: ChannelEnv, customer_no: str) -> dict[str, Any]:
    """A customer's marketing consent per channel now, the profile flag, and the history as evidence."""
    recipients = Recipients(env.analytics, env.calendar.business_date(env.clock.now()))
    profile_flag = recipients.customers.value(customer_no, "consent_marketing")
    with env.ops.begin() as connection:
        history = repo.consents_of(connection, customer_no)
        dnd = repo.do_not_disturb(connection, [customer_no], env.clock.now())
    records = [ConsentRecord(h["channel"], bool(h["granted"]), h["at"]) for h in history]
    return {
        "customer_no": customer_no,
        "profile_consent_marketing": profile_flag,
        "channels": {c: marketing_allowed(c, profile_flag, records)[1] for c in CHANNELS if c != "log"},
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
    if not reason.strip():
        raise ValidationError("a do-not-disturb entry needs a reason")
    now = env.clock.now()
    until = now + timedelta(days=days) if days else None
    with env.ops.begin() as connection:
        repo.set_dnd(
            connection, customer=customer_no, reason=reason, until=until, actor=principal.user, now=now
        )
    return {"customer_no": customer_no, "reason": reason, "until": until.isoformat() if until else None}


def remove_do_not_disturb(*, env: ChannelEnv, principal: Principal, customer_no: str) -> bool:
    """Take a customer off the list."""
    del principal
    with env.ops.begin() as connection:
        return repo.remove_dnd(connection, customer_no) > 0


def do_not_disturb_list(*, env: ChannelEnv) -> list[dict[str, Any]]:
    """The do-not-disturb list."""
    with env.ops.begin() as connection:
        rows = repo.dnd_list(connection)
    return [
        {
            "customer_no": r["customer_no"],
            "reason": r["reason"],
            "until": r["until"].isoformat() if r["until"] else None,
            "added_by": r["added_by"],
        }
        for r in rows
    ]


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


# Events into the event log, reports ------------------------------------------------------------------------


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


def report(*, env: ChannelEnv, days: int = 7, journey: str | None = None) -> dict[str, Any]:
    """Per channel and template: sends by status, skip and failure reasons, and the message funnel
    (sent → delivered → opened → clicked) counted once per message."""
    since = env.clock.now() - timedelta(days=days)
    with env.ops.begin() as connection:
        sends = repo.send_counts(connection, since, journey)
        events = repo.event_counts(connection, since, journey)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for channel, template, status, reason, count in sends:
        item = rows.setdefault((channel, template), _report_row(channel, template))
        item["statuses"][status] = item["statuses"].get(status, 0) + count
        if status in ("skipped", "failed") and reason:
            bucket = item["skip_reasons" if status == "skipped" else "failure_reasons"]
            bucket[reason] = bucket.get(reason, 0) + count
    for channel, template, event, count in events:
        item = rows.setdefault((channel, template), _report_row(channel, template))
        item["funnel"][event.removeprefix("message_")] = count
    return {"days": days, "journey": journey, "templates": list(rows.values())}


def _report_row(channel: str, template: str) -> dict[str, Any]:
    return {
        "channel": channel,
        "template": template,
        "statuses": {},
        "skip_reasons": {},
        "failure_reasons": {},
        "funnel": {"sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "failed": 0},
    }


def customer_messages(*, env: ChannelEnv, customer_no: str, limit: int = 50) -> list[dict[str, Any]]:
    """A customer's newest sends with status, reason and evidence (the 360 view's message history)."""
    with env.ops.begin() as connection:
        rows = repo.sends_of_customer(connection, customer_no, limit)
    return [
        {
            "id": r["id"],
            "at": r["created_at"].isoformat(),
            "channel": r["channel"],
            "template": r["template"],
            "version": r["template_version"],
            "journey": r["journey"],
            "node": r["node"],
            "status": r["status"],
            "reason": r["reason"],
            "content": r["content"],
            "evidence": r["evidence"],
        }
        for r in rows
    ]
