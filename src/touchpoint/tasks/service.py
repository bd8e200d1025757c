"""The advisor workbench's use cases: tasks made from MOT firings and journey hand-offs, assigned to the
customer's advisor (else the branch queue), listed within the caller's scope, claimed, completed with an
outcome — which becomes the event `advisor_task_completed` a journey can wait for — and escalated to the
branch manager when overdue or left unclaimed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from touchpoint.core.errors import ConflictError, NotFoundError, ValidationError
from touchpoint.core.ids import new_id
from touchpoint.governance import Principal
from touchpoint.governance.audit import record_operation
from touchpoint.identity.scopes import visible_numbers
from touchpoint.ingest.derived import derived_event
from touchpoint.store.operational import derived
from touchpoint.tags.service import TagEnv
from touchpoint.tasks import repo
from touchpoint.tasks.model import COMPLETED_EVENT, PRIORITY_ORDER, Assignment, TaskComplete, TaskDraft

SUITABILITY_COLUMNS = ("risk_level", "risk_assessed_at", "investor_type", "consent_marketing")
MAX_PAGE = 500


def assignments(env: TagEnv, customers: Iterable[str]) -> dict[str, Assignment]:
    """Each known customer's branch, advisor and suitability facts, from the newest customers snapshot."""
    wanted = sorted(set(customers))
    day = env.analytics.latest_partition_on_or_before(
        "customers", env.calendar.business_date(env.clock.now())
    )
    if not wanted or day is None:
        return {}
    table = env.analytics.table("customers")
    picked = table.filter((table.dt == day) & table.customer_no.isin(wanted))
    columns = ["customer_no", "branch_id", "advisor_id", *SUITABILITY_COLUMNS]
    found = {}
    for row in picked.select(*columns).to_pyarrow().to_pylist():
        suitability = {c: _plain(row[c]) for c in SUITABILITY_COLUMNS}
        found[str(row["customer_no"])] = Assignment(row["branch_id"], row["advisor_id"] or None, suitability)
    return found


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def create_tasks(
    connection: Connection, *, drafts: list[TaskDraft], assigned: dict[str, Assignment], now: datetime
) -> dict[str, str]:
    """Create the tasks in the caller's transaction, once per source key; returns source key → task id (the
    existing task's for a key seen before)."""
    made = {}
    for draft in drafts:
        assignment = assigned.get(draft.customer_no, Assignment(None, None, {}))
        task_id = new_id("tsk")
        row = {
            "id": task_id,
            "source_key": draft.source_key,
            "source": draft.source,
            "rule": draft.rule,
            "journey": draft.journey,
            "run_id": draft.run_id,
            "node": draft.node,
            "customer_no": draft.customer_no,
            "branch_id": assignment.branch_id,
            "advisor_id": assignment.advisor_id,
            "title": draft.title[:200],
            "reason": draft.reason,
            "talking_points": draft.talking_points,
            "priority": draft.priority,
            "facts": draft.facts,
            "suitability": assignment.suitability,
            "status": "open",
            "created_at": now,
            "due_at": draft.due_at,
            # An urgent task of a customer with an advisor is announced to them on WeCom (tasks/notices.py).
            "notice_status": "pending" if draft.priority == "urgent" and assignment.advisor_id else None,
            "notice_at": now,
            "notice_attempts": 0,
        }
        if repo.insert(connection, row):
            made[draft.source_key] = task_id
        else:
            existing = repo.id_for(connection, draft.source_key)
            assert existing is not None
            made[draft.source_key] = existing
    return made


def list_tasks(
    *,
    env: TagEnv,
    principal: Principal,
    status: str | None = "open",
    overdue: bool = False,
    escalated: bool | None = None,
    rule: str | None = None,
    journey: str | None = None,
    customer_no: str | None = None,
    advisor_id: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> dict[str, Any]:
    """The caller's tasks (an advisor's customers', a branch manager's branch's, everyone's for head office),
    due soonest first, urgent before others at the same time; overdue ones flagged."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ValidationError(f"limit is 1 … {MAX_PAGE} and offset at least 0")
    now = env.clock.now()
    with env.ops.begin() as connection:
        rows = repo.listing(
            connection,
            status=status,
            rule=rule,
            journey=journey,
            customer_no=customer_no,
            advisor_id=advisor_id,
            overdue_at=now if overdue else None,
            escalated=escalated,
        )
    visible = set(visible_numbers(env, principal, sorted({r["customer_no"] for r in rows})))
    rows = sorted(
        (r for r in rows if r["customer_no"] in visible),
        key=lambda r: (r["due_at"], PRIORITY_ORDER.get(r["priority"], 9), r["created_at"], r["customer_no"]),
    )
    page = rows[offset : offset + limit]
    return {
        "tasks": [shown(r, now) for r in page],
        "total": len(rows),
        "next_offset": offset + limit if offset + limit < len(rows) else None,
    }


def count_open_tasks(*, env: TagEnv, principal: Principal) -> int:
    """How many open tasks the caller can see (their customers' — the home page's figure)."""
    with env.ops.begin() as connection:
        per_customer = repo.open_by_customer(connection)
    visible = visible_numbers(env, principal, sorted(per_customer))
    return sum(per_customer[n] for n in set(visible))


def shown(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A task row as the workbench shows it. Its texts hold no personal data: talking points are rendered
    from the moment's facts and the suitability facts, never from the name or phone (the 360° view shows
    those, masked per the caller's rights)."""
    hidden = ("source_key", "run_id", "node", "claimed_at", "notice_at", "notice_attempts", "notice_error")
    return {
        **{k: v for k, v in row.items() if k not in hidden},
        "overdue": row["status"] == "open" and row["due_at"] <= now,
    }


def _visible_task(env: TagEnv, principal: Principal, connection: Connection, task_id: str) -> dict[str, Any]:
    row = repo.get(connection, task_id)
    if row is None or not visible_numbers(env, principal, [row["customer_no"]]):
        raise NotFoundError(f"no task {task_id!r}")
    return row


def get_task(*, env: TagEnv, principal: Principal, task_id: str) -> dict[str, Any]:
    """One task the caller may see (others are unknown: 404)."""
    with env.ops.begin() as connection:
        row = _visible_task(env, principal, connection, task_id)
    return shown(row, env.clock.now())


def claim_task(*, env: TagEnv, principal: Principal, task_id: str) -> dict[str, Any]:
    """Take an open task (from the branch queue, or one's own) to work on it."""
    now = env.clock.now()
    with env.ops.begin() as connection:
        row = _visible_task(env, principal, connection, task_id)
        if row["claimed_by"] not in (None, principal.user):
            raise ConflictError(f"task {task_id} is claimed by {row['claimed_by']}")
        if not repo.set_values(
            connection, task_id, {"claimed_by": principal.user, "claimed_at": now}, status="open"
        ):
            raise ConflictError(f"task {task_id} is {row['status']}, not open")
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="task.claim",
            target_type="task",
            target_id=task_id,
        )
    return get_task(env=env, principal=principal, task_id=task_id)


def assign_task(*, env: TagEnv, principal: Principal, task_id: str, advisor_id: str) -> dict[str, Any]:
    """Give an open task to an advisor (a branch manager's decision, recorded)."""
    with env.ops.begin() as connection:
        row = _visible_task(env, principal, connection, task_id)
        values = {"advisor_id": advisor_id, "claimed_by": None, "claimed_at": None}
        if not repo.set_values(connection, task_id, values, status="open"):
            raise ConflictError(f"task {task_id} is {row['status']}, not open")
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="task.assign",
            target_type="task",
            target_id=task_id,
            before={"advisor_id": row["advisor_id"]},
            after={"advisor_id": advisor_id},
        )
    return get_task(env=env, principal=principal, task_id=task_id)


def complete_task(*, env: TagEnv, principal: Principal, task_id: str, result: TaskComplete) -> dict[str, Any]:
    """Record the outcome and close the task; its outcome becomes the event `advisor_task_completed` (with
    the task's rule, journey, run and node), which resumes a journey waiting for it."""
    now = env.clock.now()
    today = env.calendar.business_date(now)
    if result.outcome == "follow_up" and result.follow_up_on is None:
        raise ValidationError("follow_up needs follow_up_on, the date to call again")
    if result.follow_up_on is not None and result.follow_up_on < today:
        raise ValidationError(f"follow_up_on {result.follow_up_on} is in the past")
    with env.ops.begin() as connection:
        row = _visible_task(env, principal, connection, task_id)
        values = {
            "status": "done",
            "outcome": result.outcome,
            "note": result.note,
            "follow_up_on": result.follow_up_on,
            "completed_at": now,
            "completed_by": principal.user,
        }
        if not repo.set_values(connection, task_id, values, status="open"):
            raise ConflictError(f"task {task_id} is {row['status']}, not open")
        properties = {
            "task_id": task_id,
            "outcome": result.outcome,
            "rule": row["rule"],
            "journey": row["journey"],
            "run_id": row["run_id"],
            "node": row["node"],
            "on_time": now <= row["due_at"],
            "follow_up_on": result.follow_up_on.isoformat() if result.follow_up_on else None,
        }
        event = derived_event(COMPLETED_EVENT, row["customer_no"], now, properties)
        derived.add(connection, f"task|{task_id}", event, now)
        record_operation(
            connection,
            clock=env.clock,
            principal=principal,
            action="task.complete",
            target_type="task",
            target_id=task_id,
            after={"outcome": result.outcome, "follow_up_on": properties["follow_up_on"]},
        )
    return get_task(env=env, principal=principal, task_id=task_id)


def escalate_due(*, env: TagEnv, claim_hours: float) -> int:
    """Escalate open tasks that passed their due time, or waited unclaimed in a branch queue longer than
    `claim_hours`, to the branch manager (they appear flagged on the branch's list). Returns how many."""
    now = env.clock.now()
    with env.ops.begin() as connection:
        due = repo.due_for_escalation(connection, now, now - timedelta(hours=claim_hours))
        for row in due:
            repo.set_values(connection, row["id"], {"escalated_at": now}, status="open")
    return len(due)
