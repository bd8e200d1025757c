"""WeCom (企业微信) notices of new urgent tasks to their advisor, through the configured `wecom` channel.

A notice is claimed with a lease and the claim committed before the provider is called (no transaction is
open while WeCom answers); the outcome is recorded afterwards. A time-out or a busy gateway is retried with
back-off; a crash between the call and the record repeats the call once the lease ends, and WeCom's own
duplicate check (the same text within 30 minutes) drops the repeat. The notice names the task, never the
customer's name or phone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.providers.base import OutboundMessage, PermanentError, ProviderError, SendContext
from touchpoint.store.operational.schema_service import advisor_tasks as TASKS

CHANNEL = "wecom"
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5
BATCH = 100


def notify_urgent(*, env: ChannelEnv) -> int:
    """Send the pending notices that are due; returns how many went out. Without a WeCom channel nothing is
    sent and the notices wait (configure `[channels.wecom]`)."""
    provider = env.providers.get(CHANNEL)
    if provider is None:
        return 0
    sent = 0
    for task in _claim(env):
        try:
            provider.send(_message(env, task), SendContext(now=env.clock.now(), store=env.ops))
        except ProviderError as exc:
            _failed(env, task, exc)
            continue
        _record(
            env, task["id"], {"notice_status": "sent", "notice_at": env.clock.now(), "notice_error": None}
        )
        sent += 1
    return sent


def _claim(env: ChannelEnv) -> list[dict[str, Any]]:
    now = env.clock.now()
    due = or_(
        and_(TASKS.c.notice_status == "pending", TASKS.c.notice_at <= now),
        and_(TASKS.c.notice_status == "sending", TASKS.c.notice_at <= now),  # a claim whose lease ran out
    )
    with env.ops.begin() as connection:
        rows = [
            dict(r._mapping)
            for r in connection.execute(
                select(TASKS).where(TASKS.c.status == "open", due).order_by(TASKS.c.notice_at).limit(BATCH)
            )
        ]
        claimed = []
        for row in rows:
            taken = connection.execute(
                update(TASKS)
                .where(
                    TASKS.c.id == row["id"],
                    TASKS.c.notice_status == row["notice_status"],
                    TASKS.c.notice_at == row["notice_at"],
                )
                .values(
                    notice_status="sending",
                    notice_at=now + LEASE,
                    notice_attempts=TASKS.c.notice_attempts + 1,
                )
            ).rowcount
            if taken:
                claimed.append(row | {"notice_attempts": row["notice_attempts"] + 1})
    return claimed


def _message(env: ChannelEnv, task: dict[str, Any]) -> OutboundMessage:
    due = task["due_at"].astimezone(env.calendar.tz)
    return OutboundMessage(
        key=f"task-notice|{task['id']}",
        channel=CHANNEL,
        customer_no=task["customer_no"],
        address=task["advisor_id"],
        title="紧急服务任务 · urgent task",
        body=f"{task['title']}\n截止 due {due:%m-%d %H:%M} · {task['id']}",
        marketing=False,
    )


def _failed(env: ChannelEnv, task: dict[str, Any], exc: ProviderError) -> None:
    final = isinstance(exc, PermanentError) or task["notice_attempts"] >= MAX_ATTEMPTS
    retry_at: datetime = env.clock.now() + timedelta(minutes=2 ** task["notice_attempts"])
    values = {
        "notice_status": "failed" if final else "pending",
        "notice_at": env.clock.now() if final else retry_at,
        "notice_error": str(exc)[:500],
    }
    _record(env, task["id"], values)


def _record(env: ChannelEnv, task_id: str, values: dict[str, Any]) -> None:
    with env.ops.begin() as connection:
        connection.execute(update(TASKS).where(TASKS.c.id == task_id).values(**values))
