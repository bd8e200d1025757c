"""Moments of truth (关键时刻): the rule library, firings and their statistics; the advisor workbench
(服务任务): tasks, their claim, assignment and outcome; and the service-process KPIs (服务考核)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from touchpoint.api.days import resolve_period
from touchpoint.api.deps import container, needs, principal
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.core.durations import DAY_FORMS, DAY_PATTERN
from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.governance.registry import ApplyRead, SaveRead
from touchpoint.journeys.lineage import journeys_by_event
from touchpoint.moments import reads
from touchpoint.moments.guidance import next_best_actions
from touchpoint.moments.model import (
    NAME_PATTERN,
    EvaluationRead,
    FiringRead,
    GuidanceRead,
    MotRule,
    MotRuleFields,
    MotRuleRead,
    RuleStatsRead,
)
from touchpoint.moments.service import KIND, evaluate_due, get_rule, install_library, parse_rule
from touchpoint.tasks import kpis
from touchpoint.tasks.kpis import GroupBy, KpiRead
from touchpoint.tasks.model import TaskAssign, TaskComplete, TaskPage, TaskRead
from touchpoint.tasks.service import assign_task, claim_task, complete_task, get_task, list_tasks

router = APIRouter(tags=["moments"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
RuleName = Annotated[str, Path(pattern=NAME_PATTERN, description="lower case, digits and _")]
TaskId = Annotated[str, Path(pattern=r"^tsk_[0-9a-f]{24}$")]
FromDay = Annotated[
    str | None, Query(alias="from", pattern=DAY_PATTERN, description=f"first day: {DAY_FORMS}")
]
ToDay = Annotated[str | None, Query(alias="to", pattern=DAY_PATTERN, description=f"last day: {DAY_FORMS}")]
DEFAULT_DAYS = 30


class MotRuleWrite(MotRuleFields):
    """A rule as `PUT /moments/rules/{name}` takes it: the name comes from the path; the detector and its
    thresholds are checked against the library (400 naming the fault)."""

    name: str | None = Field(default=None, pattern=NAME_PATTERN)  # type: ignore[assignment]


def _period(c: Container, start: str | None, end: str | None) -> tuple[date, date]:
    """The days a period names, the last 30 days by default."""
    return resolve_period(c, start, end, days=DEFAULT_DAYS)


@router.get("/moments/rules", dependencies=[needs("moment:read", scoped=True)])
def list_rules(c: Deps, caller: Caller) -> list[MotRuleRead]:
    """Every MOT rule with its detector's kind, evaluation times, firings in the last 30 days (of the
    caller's customers) and the journeys its event feeds."""
    fed = journeys_by_event(env=c)
    return [
        MotRuleRead.model_validate(r | {"journeys": fed.get(f"mot_{r['name']}", [])})
        for r in reads.rule_summaries(env=c, principal=caller)
    ]


@router.get("/moments/rules/{name}", dependencies=[needs("moment:read", scoped=True)], responses=errors(404))
def show_rule(name: RuleName, c: Deps) -> MotRule:
    """One rule's definition."""
    return get_rule(env=c, name=name)


@router.put("/moments/rules/{name}", dependencies=[needs("moment:write")], responses=errors(400))
def save_rule(name: RuleName, body: MotRuleWrite, c: Deps, caller: Caller) -> SaveRead:
    """Save a rule through the definitions registry (a new version; or a request when approval is on)."""
    if body.name is not None and body.name != name:
        raise ValidationError(f"the body names rule {body.name!r}, the path {name!r}")
    fields = body.model_dump(mode="json", exclude={"name"}, exclude_unset=True)
    rule = parse_rule(name, fields)  # the library's detectors and thresholds: ValidationError (400)
    return c.registry.save(caller, KIND, name, rule.model_dump(mode="json", exclude={"name"}))


@router.delete(
    "/moments/rules/{name}", dependencies=[needs("moment:write")], responses=errors(404), status_code=204
)
def delete_rule(name: RuleName, c: Deps, caller: Caller) -> None:
    """Delete a rule (its firings and tasks stay)."""
    c.registry.delete(caller, KIND, name)


@router.post("/moments/library", dependencies=[needs("moment:write")], responses=errors(400))
def install(c: Deps, caller: Caller) -> ApplyRead:
    """Install or update the shipped rule library (23 rules of DOMAIN.md §2.1) in one transaction."""
    result: ApplyRead = install_library(registry=c.registry, principal=caller)
    return result


@router.post("/moments/evaluate", dependencies=[needs("moment:write")])
def evaluate(c: Deps) -> EvaluationRead:
    """Evaluate now the condition and calendar rules whose times have come (as the worker does)."""
    return EvaluationRead.model_validate(evaluate_due(env=c))


@router.get("/moments/firings", dependencies=[needs("moment:read", scoped=True)], responses=errors(400))
def firings(
    c: Deps,
    caller: Caller,
    rule: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    customer_no: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    start: FromDay = None,
    end: ToDay = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[FiringRead]:
    """Firings newest first, of the caller's customers (customer numbers masked)."""
    first, last = _period(c, start, end)
    found = reads.list_firings(
        env=c, principal=caller, rule=rule, customer_no=customer_no, start=first, end=last, limit=limit
    )
    return [FiringRead.model_validate(f) for f in found]


@router.get("/moments/stats", dependencies=[needs("moment:read", scoped=True)], responses=errors(400))
def stats(c: Deps, caller: Caller, start: FromDay = None, end: ToDay = None) -> list[RuleStatsRead]:
    """Per rule over the period (30 days by default): fired, served, served within the SLA, by day."""
    first, last = _period(c, start, end)
    return [
        RuleStatsRead.model_validate(r)
        for r in reads.rule_stats(env=c, principal=caller, start=first, end=last)
    ]


@router.get("/guidance", dependencies=[needs("customer:read", scoped=True)], responses=errors(400, 404))
def guidance(
    c: Deps,
    caller: Caller,
    segment: Annotated[
        str | None, Query(pattern=NAME_PATTERN, description="rank a segment's members")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[GuidanceRead]:
    """策略引导: the caller's customers (an advisor's book), or a segment's, ranked by a next best action —
    unserved moments, propensity tags, suitable funds — each with its reason and proposed action."""
    found = next_best_actions(env=c, principal=caller, segment=segment, limit=limit)
    return [GuidanceRead.model_validate(g) for g in found]


# The advisor workbench -------------------------------------------------------------------------------------


@router.get("/tasks", dependencies=[needs("task:read", scoped=True)], tags=["tasks"])
def tasks(
    c: Deps,
    caller: Caller,
    status: Annotated[str, Query(pattern=r"^(open|done|cancelled|all)$")] = "open",
    overdue: bool = False,
    escalated: bool | None = None,
    rule: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    journey: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    customer_no: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    advisor_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TaskPage:
    """The caller's tasks, due soonest first (an advisor's own customers', a branch manager's branch's);
    `status=all` lists every status (a customer's task history on their 360° page)."""
    page: dict[str, Any] = list_tasks(
        env=c,
        principal=caller,
        status=None if status == "all" else status,
        overdue=overdue,
        escalated=escalated,
        rule=rule,
        journey=journey,
        customer_no=customer_no,
        advisor_id=advisor_id,
        offset=offset,
        limit=limit,
    )
    return TaskPage.model_validate(page)


@router.get(
    "/tasks/{task_id}", dependencies=[needs("task:read", scoped=True)], responses=errors(404), tags=["tasks"]
)
def task(task_id: TaskId, c: Deps, caller: Caller) -> TaskRead:
    """One task of the caller's customers."""
    return TaskRead.model_validate(get_task(env=c, principal=caller, task_id=task_id))


@router.post(
    "/tasks/{task_id}/claim",
    dependencies=[needs("task:work", scoped=True)],
    responses=errors(404, 409),
    tags=["tasks"],
)
def claim(task_id: TaskId, c: Deps, caller: Caller) -> TaskRead:
    """Take an open task to work on it."""
    return TaskRead.model_validate(claim_task(env=c, principal=caller, task_id=task_id))


@router.post(
    "/tasks/{task_id}/assign",
    dependencies=[needs("task:assign", scoped=True)],
    responses=errors(404, 409),
    tags=["tasks"],
)
def assign(task_id: TaskId, body: TaskAssign, c: Deps, caller: Caller) -> TaskRead:
    """Give an open task to an advisor."""
    return TaskRead.model_validate(
        assign_task(env=c, principal=caller, task_id=task_id, advisor_id=body.advisor_id)
    )


@router.post(
    "/tasks/{task_id}/complete",
    dependencies=[needs("task:work", scoped=True)],
    responses=errors(400, 404, 409),
    tags=["tasks"],
)
def complete(task_id: TaskId, body: TaskComplete, c: Deps, caller: Caller) -> TaskRead:
    """Record the outcome and close the task (a journey waiting for it goes on)."""
    return TaskRead.model_validate(complete_task(env=c, principal=caller, task_id=task_id, result=body))


@router.get(
    "/kpis/service", dependencies=[needs("kpi:read", scoped=True)], responses=errors(400), tags=["tasks"]
)
def service_kpis(
    c: Deps,
    caller: Caller,
    start: FromDay = None,
    end: ToDay = None,
    group_by: GroupBy = "advisor",
    within_days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> KpiRead:
    """Service-process KPIs (服务过程考核) per advisor, branch or rule over the period (default 30 days)."""
    first, last = _period(c, start, end)
    found = kpis.service_kpis(
        env=c, principal=caller, start=first, end=last, group_by=group_by, within_days=within_days
    )
    return KpiRead.model_validate(found)
