"""An advisor service task: who to serve and why, the talking points, its due time and its outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["urgent", "high", "normal", "low"]
Outcome = Literal["reached", "not_reached", "declined", "converted", "follow_up"]
OUTCOMES: tuple[str, ...] = ("reached", "not_reached", "declined", "converted", "follow_up")
Status = Literal["open", "done", "cancelled"]
COMPLETED_EVENT = "advisor_task_completed"
MOT_RULE_KIND = "mot_rule"
"""The registry kind of MOT rules (moments/): named here, below both journeys and moments, so that a journey's
check can know the `mot_<rule>` events without importing the moments domain."""
PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


@dataclass(frozen=True)
class TaskDraft:
    """A task to create: `source_key` makes it once (`mot:<firing>`, `run:<run>:<node>:<step>`)."""

    source_key: str
    source: Literal["mot", "journey"]
    customer_no: str
    title: str
    reason: str
    talking_points: str
    priority: str
    due_at: datetime
    facts: dict[str, Any] = field(default_factory=dict)
    rule: str | None = None
    journey: str | None = None
    run_id: str | None = None
    node: str | None = None


@dataclass(frozen=True)
class Assignment:
    """Where a customer's task goes: their advisor, else their branch's queue; and the suitability facts the
    advisor must respect."""

    branch_id: str | None
    advisor_id: str | None
    suitability: dict[str, Any]


class TaskRead(BaseModel):
    """A task as the workbench lists it (`overdue`: open and past its due time)."""

    id: str
    source: str
    rule: str | None
    journey: str | None
    customer_no: str
    branch_id: str | None
    advisor_id: str | None
    title: str
    reason: str
    talking_points: str
    priority: str
    facts: dict[str, Any]
    suitability: dict[str, Any]
    status: str
    created_at: datetime
    due_at: datetime
    overdue: bool
    claimed_by: str | None
    escalated_at: datetime | None
    outcome: str | None
    note: str | None
    follow_up_on: date | None
    completed_at: datetime | None
    completed_by: str | None
    notice_status: str | None = None


class TaskPage(BaseModel):
    """A page of tasks, due soonest first; `next_offset` fetches the next (None on the last)."""

    tasks: list[TaskRead]
    total: int
    next_offset: int | None = None


class TaskComplete(BaseModel):
    """The outcome of serving the customer: reached, not reached, declined, converted, or follow up on a
    date (then `follow_up_on` is required), with notes."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: str = Field(default="", max_length=4000)
    follow_up_on: date | None = None


class TaskAssign(BaseModel):
    """Give a task to an advisor (a branch manager's or the advisor's own claim)."""

    model_config = ConfigDict(extra="forbid")

    advisor_id: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
