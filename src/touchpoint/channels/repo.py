"""Channel persistence, through the operational store: template lifecycle, sends, receipts waiting for the
event log, consent, the do-not-disturb list, the in-app inbox and tracked links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from touchpoint.channels.policies import ConsentRecord
from touchpoint.store.operational.bulk import fetch_tuples
from touchpoint.store.operational.schema import (
    channel_consents,
    channel_dnd,
    channel_events,
    channel_inbox,
    channel_links,
    channel_receipts,
    channel_sends,
    channel_templates,
    definitions,
)

# Templates -------------------------------------------------------------------------------------------------


def template_state(connection: Connection, name: str) -> dict[str, Any] | None:
    """A template's channel, status and active version."""
    row = (
        connection.execute(select(channel_templates).where(channel_templates.c.name == name))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def template_states(connection: Connection) -> dict[str, dict[str, Any]]:
    """Every template's state by name."""
    return {r["name"]: dict(r) for r in connection.execute(select(channel_templates)).mappings()}


def set_template_state(connection: Connection, name: str, now: datetime, **values: Any) -> None:
    """Create or change a template's state row."""
    if template_state(connection, name) is None:
        connection.execute(insert(channel_templates).values(name=name, updated_at=now, **values))
    else:
        connection.execute(
            update(channel_templates).where(channel_templates.c.name == name).values(updated_at=now, **values)
        )


# Sends -----------------------------------------------------------------------------------------------------


def sends_by_id(connection: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The sends among these ids that exist already (a batch's retries), by id."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        query = select(channel_sends).where(channel_sends.c.id.in_(ids[start : start + 500]))
        found.update({r["id"]: dict(r) for r in connection.execute(query).mappings()})
    return found


def get_send(connection: Connection, send_id: str) -> dict[str, Any] | None:
    """One send by its id (the idempotency key)."""
    row = connection.execute(select(channel_sends).where(channel_sends.c.id == send_id)).mappings().first()
    return dict(row) if row else None


def record_send(connection: Connection, row: dict[str, Any], *, exists: bool) -> None:
    """Insert a send, or overwrite the row an earlier attempt of the same id left."""
    if not exists:
        connection.execute(insert(channel_sends), [row])  # parameters, not values(): the statement caches
    else:
        values = {k: v for k, v in row.items() if k not in ("id", "created_at")}
        connection.execute(update(channel_sends).where(channel_sends.c.id == row["id"]).values(**values))


def delete_send(connection: Connection, send_id: str) -> None:
    """Forget a send staged for an attempt that did not go through (the next attempt stages it afresh)."""
    connection.execute(channel_sends.delete().where(channel_sends.c.id == send_id))


def send_by_provider_id(
    connection: Connection, channel: str, provider_message_id: str
) -> dict[str, Any] | None:
    """The send a gateway's receipt refers to."""
    query = select(channel_sends).where(
        channel_sends.c.channel == channel, channel_sends.c.provider_message_id == provider_message_id
    )
    row = connection.execute(query).mappings().first()
    return dict(row) if row else None


def set_send_status(
    connection: Connection, send_id: str, status: str, reason: str | None, now: datetime
) -> None:
    """Move a send on (delivered, failed …) from a receipt."""
    connection.execute(
        update(channel_sends)
        .where(channel_sends.c.id == send_id)
        .values(status=status, reason=reason, updated_at=now)
    )


def sends_of_customer(connection: Connection, customer: str, limit: int) -> list[dict[str, Any]]:
    """A customer's newest sends."""
    query = (
        select(channel_sends)
        .where(channel_sends.c.customer_no == customer)
        .order_by(channel_sends.c.created_at.desc())
        .limit(limit)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def send_counts(
    connection: Connection, since: datetime, journey: str | None, customers: Table | None = None
) -> list[tuple[Any, ...]]:
    """Sends by channel, template, status and reason since a time."""
    where = [channel_sends.c.created_at >= since]
    if journey is not None:
        where.append(channel_sends.c.journey == journey)
    if customers is not None:  # a user limited to branches: their customers' sends only
        where.append(channel_sends.c.customer_no.in_(select(customers.c.customer_no)))
    c = channel_sends.c
    return fetch_tuples(
        connection,
        select(c.channel, c.template, c.status, c.reason, func.count())
        .where(*where)
        .group_by(c.channel, c.template, c.status, c.reason),
    )


def event_counts(
    connection: Connection, since: datetime, journey: str | None, customers: Table | None = None
) -> list[tuple[Any, ...]]:
    """Receipt events by channel, template and event name since a time (a send is counted once per event)."""
    where = [channel_sends.c.created_at >= since]
    if journey is not None:
        where.append(channel_sends.c.journey == journey)
    if customers is not None:  # a user limited to branches: their customers' sends only
        where.append(channel_sends.c.customer_no.in_(select(customers.c.customer_no)))
    c = channel_sends.c
    return fetch_tuples(
        connection,
        select(
            c.channel, c.template, channel_events.c.event, func.count(func.distinct(channel_events.c.send_id))
        )
        .join(channel_events, channel_events.c.send_id == c.id)
        .where(*where)
        .group_by(c.channel, c.template, channel_events.c.event),
    )


# Events waiting for the event log --------------------------------------------------------------------------


def add_event(
    connection: Connection, send_id: str, event: str, payload: dict[str, Any], now: datetime
) -> None:
    """Keep a message event in the same transaction as the change it reports."""
    connection.execute(
        insert(channel_events),
        [{"send_id": send_id, "event": event, "payload": payload, "created_at": now, "forwarded": False}],
    )


def add_event_once(
    connection: Connection, send_id: str, event: str, payload: dict[str, Any], now: datetime
) -> bool:
    """Keep a message event unless the send has it already (False then), also against a concurrent writer:
    the unique (send, event) index refuses the second, in a savepoint so the caller's transaction goes on."""
    try:
        with connection.begin_nested():
            add_event(connection, send_id, event, payload, now)
    except IntegrityError:
        return False
    return True


def unforwarded_events(connection: Connection, limit: int) -> list[dict[str, Any]]:
    """Events not yet in the event log, oldest first, locked for this transaction."""
    query = (
        select(channel_events.c.id, channel_events.c.payload)
        .where(channel_events.c.forwarded.is_(False))
        .order_by(channel_events.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def mark_forwarded(connection: Connection, ids: list[int]) -> None:
    """Note that these events reached the event log."""
    connection.execute(update(channel_events).where(channel_events.c.id.in_(ids)).values(forwarded=True))


def has_event(connection: Connection, send_id: str, event: str) -> bool:
    """Whether a send already reported this event (opens and clicks count once per send)."""
    query = select(func.count()).where(channel_events.c.send_id == send_id, channel_events.c.event == event)
    return bool(connection.execute(query).scalar_one())


def add_pending_receipt(connection: Connection, channel: str, receipt: dict[str, Any], now: datetime) -> None:
    """Keep a receipt whose send is not visible yet (its batch has not committed)."""
    connection.execute(insert(channel_receipts), [{"channel": channel, "received_at": now, **receipt}])


def pending_receipts(connection: Connection, limit: int) -> list[dict[str, Any]]:
    """Receipts still waiting for their send, oldest first."""
    query = (
        select(channel_receipts)
        .order_by(channel_receipts.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def drop_pending_receipts(connection: Connection, ids: list[int]) -> None:
    """Forget receipts that were matched or waited too long."""
    if ids:
        connection.execute(channel_receipts.delete().where(channel_receipts.c.id.in_(ids)))


# Consent and do-not-disturb --------------------------------------------------------------------------------


def add_consent(
    connection: Connection,
    *,
    customer: str,
    channel: str,
    granted: bool,
    source: str,
    detail: str | None,
    now: datetime,
) -> None:
    """Record a consent change (the history is kept as evidence)."""
    connection.execute(
        insert(channel_consents).values(
            customer_no=customer, channel=channel, granted=granted, source=source, detail=detail, at=now
        )
    )


def consents_of(connection: Connection, customer: str) -> list[dict[str, Any]]:
    """A customer's consent history, oldest first."""
    query = (
        select(channel_consents)
        .where(channel_consents.c.customer_no == customer)
        .order_by(channel_consents.c.at, channel_consents.c.id)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def consent_records(connection: Connection, customers: list[str]) -> dict[str, list[ConsentRecord]]:
    """The consent records of a batch of customers."""
    found: dict[str, list[ConsentRecord]] = {}
    if not customers:
        return found
    query = select(
        channel_consents.c.customer_no,
        channel_consents.c.channel,
        channel_consents.c.granted,
        channel_consents.c.at,
    ).where(channel_consents.c.customer_no.in_(customers))
    for customer, channel, granted, at in connection.execute(query):
        found.setdefault(customer, []).append(ConsentRecord(channel, bool(granted), at))
    return found


def do_not_disturb(connection: Connection, customers: list[str], now: datetime) -> dict[str, str]:
    """Customers of the batch on the do-not-disturb list now, with the reason."""
    if not customers:
        return {}
    query = select(channel_dnd.c.customer_no, channel_dnd.c.reason).where(
        channel_dnd.c.customer_no.in_(customers),
        or_(channel_dnd.c.until.is_(None), channel_dnd.c.until > now),
    )
    return {str(c): str(r) for c, r in connection.execute(query)}


def set_dnd(
    connection: Connection, *, customer: str, reason: str, until: datetime | None, actor: str, now: datetime
) -> None:
    """Put a customer on the do-not-disturb list (replacing an earlier entry)."""
    remove_dnd(connection, customer)
    connection.execute(
        insert(channel_dnd).values(
            customer_no=customer, reason=reason, until=until, added_by=actor, added_at=now
        )
    )


def dnd_entry(connection: Connection, customer: str) -> dict[str, Any] | None:
    """A customer's do-not-disturb entry (an expired one too), or None."""
    found = connection.execute(select(channel_dnd).where(channel_dnd.c.customer_no == customer)).mappings()
    row = found.first()
    return dict(row) if row is not None else None


def remove_dnd(connection: Connection, customer: str) -> int:
    """Take a customer off the list."""
    result = connection.execute(channel_dnd.delete().where(channel_dnd.c.customer_no == customer))
    return int(result.rowcount or 0)


def dnd_list(connection: Connection) -> list[dict[str, Any]]:
    """The whole do-not-disturb list."""
    return [
        dict(r) for r in connection.execute(select(channel_dnd).order_by(channel_dnd.c.added_at)).mappings()
    ]


# Inbox and links -------------------------------------------------------------------------------------------


def add_inbox_message(connection: Connection, row: dict[str, Any]) -> bool:
    """Store an in-app message once per id (a repeat is a no-op)."""
    exists = connection.execute(select(func.count()).where(channel_inbox.c.id == row["id"])).scalar_one()
    if exists:
        return False
    connection.execute(insert(channel_inbox).values(**row))
    return True


def inbox_of(connection: Connection, customer: str, limit: int, unread_only: bool) -> list[dict[str, Any]]:
    """A customer's in-app messages, newest first."""
    where = [channel_inbox.c.customer_no == customer]
    if unread_only:
        where.append(channel_inbox.c.read_at.is_(None))
    query = select(channel_inbox).where(*where).order_by(channel_inbox.c.created_at.desc()).limit(limit)
    return [dict(r) for r in connection.execute(query).mappings()]


def unread_count(connection: Connection, customer: str) -> int:
    """How many of a customer's in-app messages are unread."""
    query = select(func.count()).where(
        channel_inbox.c.customer_no == customer, channel_inbox.c.read_at.is_(None)
    )
    return int(connection.execute(query).scalar_one())


def mark_inbox_read(connection: Connection, customer: str, message_id: str, now: datetime) -> bool:
    """Mark one message read; False when it is not this customer's (or already read)."""
    result = connection.execute(
        update(channel_inbox)
        .where(
            and_(
                channel_inbox.c.id == message_id,
                channel_inbox.c.customer_no == customer,
                channel_inbox.c.read_at.is_(None),
            )
        )
        .values(read_at=now)
    )
    return bool(result.rowcount)


def add_links(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Store tracked links."""
    if rows:
        connection.execute(insert(channel_links), rows)


def link(connection: Connection, code: str) -> dict[str, Any] | None:
    """A tracked link with its send."""
    row = connection.execute(select(channel_links).where(channel_links.c.code == code)).mappings().first()
    return dict(row) if row else None


def links_of(connection: Connection, send_id: str) -> list[dict[str, Any]]:
    """The tracked links of a send."""
    query = select(channel_links).where(channel_links.c.send_id == send_id)
    return [dict(r) for r in connection.execute(query).mappings()]


def template_body(connection: Connection, kind: str, name: str, version: int) -> dict[str, Any] | None:
    """One saved version of a template definition."""
    query = select(definitions.c.body).where(
        definitions.c.kind == kind, definitions.c.name == name, definitions.c.version == version
    )
    body = connection.execute(query).scalar_one_or_none()
    return dict(body) if body else None


# Provider health and the consent list ----------------------------------------------------------------------

# Events a provider's receipt records on a send (a click comes from a tracked link, not from the provider).
RECEIPT_EVENT_NAMES = ("message_delivered", "message_failed", "message_opened")


def _in_scope(customers: Table | None) -> list[Any]:
    """The condition narrowing sends to a scope's customers (none for everyone)."""
    if customers is None:
        return []
    return [channel_sends.c.customer_no.in_(select(customers.c.customer_no))]


def status_counts_by_channel(
    connection: Connection, since: datetime, customers: Table | None = None
) -> list[tuple[Any, ...]]:
    """Sends made since a time by channel and status (of the scope's customers when one is given)."""
    c = channel_sends.c
    query = (
        select(c.channel, c.status, func.count())
        .where(c.created_at >= since, *_in_scope(customers))
        .group_by(c.channel, c.status)
    )
    return fetch_tuples(connection, query)


def last_send_by_channel(
    connection: Connection, statuses: tuple[str, ...], customers: Table | None = None
) -> dict[str, tuple[datetime, str | None]]:
    """Per channel, the time the newest send with one of these statuses reached it, and its reason (ever,
    not only within a window: a channel idle for weeks should say when it last worked)."""
    c = channel_sends.c
    ranked = (
        select(
            c.channel,
            c.updated_at,
            c.reason,
            func.row_number()
            .over(partition_by=c.channel, order_by=(c.updated_at.desc(), c.id.desc()))
            .label("rank"),
        )
        .where(c.status.in_(statuses), *_in_scope(customers))
        .subquery()
    )
    query = select(ranked.c.channel, ranked.c.updated_at, ranked.c.reason).where(ranked.c.rank == 1)
    return {str(channel): (at, reason) for channel, at, reason in connection.execute(query)}


def receipt_counts_by_channel(
    connection: Connection, since: datetime, customers: Table | None = None
) -> list[tuple[Any, ...]]:
    """Per channel: receipts recorded since a time on sends the provider accepted, and the newest one's
    time (ever)."""
    c = channel_sends.c
    e = channel_events.c
    base = (
        select(c.channel, func.count(), func.max(e.created_at))
        .join(channel_events, e.send_id == c.id)
        .where(e.event.in_(RECEIPT_EVENT_NAMES), c.provider_message_id.is_not(None), *_in_scope(customers))
        .group_by(c.channel)
    )
    # Row objects, not the driver's tuples: the time's column type reads SQLite's text back as a datetime.
    totals = {str(ch): at for ch, _, at in connection.execute(base)}
    recent = {str(ch): n for ch, n, _ in connection.execute(base.where(e.created_at >= since))}
    return [(channel, recent.get(channel, 0), at) for channel, at in totals.items()]


def latest_consents(
    connection: Connection,
    *,
    channel: str | None,
    granted: bool | None,
    limit: int,
    offset: int,
    customers: Table | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The newest consent record of each customer and channel (filtered, a page of them ordered by
    customer and channel) and how many there are in all."""
    k = channel_consents.c
    where: list[ColumnElement[bool]] = (
        [] if customers is None else [k.customer_no.in_(select(customers.c.customer_no))]
    )
    if channel is not None:
        where.append(k.channel == channel)
    ranked = (
        select(
            k.customer_no,
            k.channel,
            k.granted,
            k.source,
            k.at,
            func.row_number()
            .over(partition_by=(k.customer_no, k.channel), order_by=(k.at.desc(), k.id.desc()))
            .label("rank"),
        )
        .where(*where)
        .subquery()
    )
    latest: list[ColumnElement[bool]] = [ranked.c.rank == 1]
    if granted is not None:
        latest.append(ranked.c.granted == granted)
    total = int(connection.execute(select(func.count()).select_from(ranked).where(*latest)).scalar_one())
    page = (
        select(ranked.c.customer_no, ranked.c.channel, ranked.c.granted, ranked.c.source, ranked.c.at)
        .where(*latest)
        .order_by(ranked.c.customer_no, ranked.c.channel)
        .limit(limit)
        .offset(offset)
    )
    return [dict(r) for r in connection.execute(page).mappings()], total
