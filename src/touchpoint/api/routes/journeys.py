"""Journeys over HTTP: the definition schema, saving and reading versions, the lifecycle, entry by API call,
statistics, a journey's runs in bulk, and the runs of a customer — everything the console's canvas needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import ValidationError as PydanticError

from touchpoint.api.days import resolve_day, resolve_period
from touchpoint.api.deps import container, needs, principal
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.core.durations import DAY_FORMS, DAY_PATTERN
from touchpoint.core.errors import ForbiddenError, ValidationError, fault_list, pydantic_faults
from touchpoint.core.ids import new_id
from touchpoint.core.jobs import JOBS, Job, JobRead, run_in_background
from touchpoint.governance import Principal
from touchpoint.journeys.campaigns import CampaignKpisRead, campaign_kpis
from touchpoint.journeys.checks import check_journey
from touchpoint.journeys.model import (
    NAME_PATTERN,
    NODE_PATTERN,
    AdmissionRead,
    CustomerRunRead,
    EnterRequest,
    JourneyCheckRead,
    JourneyDef,
    JourneyRead,
    JourneySaved,
    JourneySchemaRead,
    JourneyStatsRead,
    JourneyWrite,
    PublishRead,
    PublishRequest,
    RunChangeRead,
    RunPage,
    RunStatus,
    SimulateRequest,
    StatusRead,
    StuckRunRead,
    journey_schema,
)
from touchpoint.journeys.report import JourneyReportRead, journey_report
from touchpoint.journeys.runtime import admit
from touchpoint.journeys.service import (
    RUNS_PAGE_MAX,
    customer_runs,
    get_journey,
    list_journeys,
    list_runs,
    publish,
    resume_run,
    run_path,
    save_journey,
    set_status,
    statistics,
    stop_run,
    stuck,
)
from touchpoint.journeys.simulate import simulate, without_message_text

router = APIRouter(tags=["journeys"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
EntryFrom = Annotated[
    str | None, Query(alias="from", pattern=DAY_PATTERN, description=f"first day of entry: {DAY_FORMS}")
]
EntryTo = Annotated[
    str | None, Query(alias="to", pattern=DAY_PATTERN, description=f"last day of entry: {DAY_FORMS}")
]
CAMPAIGN_DAYS = 30  # the default period of the campaign KPIs, as the service KPIs'
STATUSES = {"pause": "paused", "resume": "live", "stop": "stopped", "archive": "archived"}


@router.get(
    "/journeys/schema",
    dependencies=[needs("journey:read", scoped=True)],
    response_model=JourneySchemaRead,
    response_model_by_alias=True,
)
def schema() -> JourneySchemaRead:
    """The JSON Schema of a journey definition."""
    return JourneySchemaRead.model_validate(journey_schema())


# Definitions hold no customer data: a user limited to branches reads them as everyone does.
@router.get("/journeys", dependencies=[needs("journey:read", scoped=True)], response_model=list[JourneyRead])
def journeys(c: Deps) -> list[JourneyRead]:
    """Every journey with its status and versions."""
    return [JourneyRead.model_validate(row) for row in list_journeys(env=c)]


@router.put(
    "/journeys/{name}",
    dependencies=[needs("journey:write")],
    response_model=JourneySaved,
    responses=errors(400),
)
def save(
    name: Annotated[str, Path(pattern=NAME_PATTERN, description="lower case, digits and _")],
    c: Deps,
    caller: Caller,
    body: JourneyWrite,
) -> JourneySaved:
    """Save the definition as the next version (validated; a draft until published)."""
    if body.name is not None and body.name != name:
        raise ValidationError(f"the body names journey {body.name!r}, the path {name!r}")
    try:
        journey = JourneyDef.model_validate(body.model_dump(by_alias=True) | {"name": name})
    except PydanticError as exc:
        raise ValidationError(pydantic_faults(exc), faults=fault_list(exc.errors())) from exc
    return JourneySaved(name=name, version=save_journey(env=c, principal=caller, journey=journey))


@router.post(
    "/journeys/check",
    dependencies=[needs("journey:write")],
    response_model=JourneyCheckRead,
    responses=errors(400),
)
def check_route(
    c: Deps,
    body: Annotated[
        dict[str, Any],
        Body(description="a journey definition as the canvas holds it, finished or not (nothing is saved)"),
    ],
) -> JourneyCheckRead:
    """Every fault of a definition, each on the node it concerns: what stops a save and what would stop
    publication."""
    return JourneyCheckRead.model_validate(check_journey(env=c, body=body))


@router.post(
    "/journeys/{name}/simulate",
    dependencies=[needs("journey:write")],
    status_code=202,
    response_model=JobRead,
    responses=errors(400, 403, 404),
)
def simulate_route(name: str, c: Deps, caller: Caller, body: SimulateRequest) -> JobRead:
    """Replay a period's recorded events through a saved version in the background (log channel, virtual
    clock); poll GET /jobs/{id}. Its result holds the per-node counts, sample paths and, for a test walk,
    each customer's reason at each node."""
    first = resolve_day(c, body.start, name="from")
    last = resolve_day(c, body.end, name="to")
    assert first is not None
    assert last is not None
    if first > last:
        raise ValidationError(f"from {first} is after to {last}")
    if body.customers and not caller.can("customer:read"):
        raise ForbiddenError("a test walk of named customers needs the permission customer:read")
    journey = get_journey(env=c, name=name, version=body.version)  # unknown: 404 now, not in the job
    subject = {"journey": name, "version": str(body.version or "newest")}
    job = JOBS.add(Job(id=new_id("sim"), kind="simulation", owner=caller.user, subject=subject))

    def work(running: Job) -> dict[str, Any]:
        running.report("replaying", 0.0)
        result = simulate(
            env=c,
            journey=journey,
            start=first,
            end=last,
            customers=body.customers,
            payload=body.payload,
            sample=body.sample,
            on_event=lambda done, total: running.report("replaying", 0.95 * done / max(total, 1)),
        )
        return result if caller.can("pii:view") else without_message_text(result)

    run_in_background(work, job)
    return JobRead.model_validate(job.view())


@router.get(
    "/journeys/stuck", dependencies=[needs("journey:read", scoped=True)], response_model=list[StuckRunRead]
)
def stuck_runs(c: Deps, caller: Caller) -> list[StuckRunRead]:
    """Active runs past their wake-at that no worker took (the caller's customers' only)."""
    return [StuckRunRead.model_validate(row) for row in stuck(env=c, principal=caller)]


@router.get(
    "/journeys/{name}",
    dependencies=[needs("journey:read", scoped=True)],
    response_model=JourneyDef,
    responses=errors(404),
)
def show(name: str, c: Deps, version: Annotated[int | None, Query(ge=1)] = None) -> JourneyDef:
    """A journey's definition: the newest version, or `?version=N`."""
    return get_journey(env=c, name=name, version=version)


@router.get(
    "/journeys/{name}/runs",
    dependencies=[needs("journey:read", scoped=True)],
    response_model=RunPage,
    responses=errors(400, 404),
)
def runs(
    name: str,
    c: Deps,
    caller: Caller,
    node: Annotated[str | None, Query(pattern=NODE_PATTERN)] = None,
    status: RunStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=RUNS_PAGE_MAX)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> RunPage:
    """A page of the journey's runs, oldest first: at a node, with a status (`active`: not ended); customer
    numbers masked. Pass `next_cursor` as `cursor` for the next page."""
    page = list_runs(env=c, name=name, node=node, status=status, limit=limit, cursor=cursor, principal=caller)
    return RunPage.model_validate(page)


@router.post(
    "/journeys/{name}/publish",
    dependencies=[needs("journey:publish")],
    response_model=PublishRead,
    responses=errors(400, 404),
)
def publish_route(name: str, c: Deps, caller: Caller, body: PublishRequest | None = None) -> PublishRead:
    """Make the newest saved version live."""
    chosen = body or PublishRequest()
    result = publish(env=c, principal=caller, name=name, in_flight=chosen.in_flight, node_map=chosen.node_map)
    return PublishRead.model_validate(result)


@router.post(
    "/journeys/{name}/enter",
    dependencies=[needs("journey:operate")],
    response_model=AdmissionRead,
    responses=errors(400, 404),
)
def enter(name: str, c: Deps, body: EnterRequest) -> AdmissionRead:
    """Admit customers (an API-entry journey); re-entry, caps and hold-out apply."""
    result = admit(
        env=c,
        name=name,
        customers=body.customers,
        payloads=dict.fromkeys(body.customers, body.payload),
    )
    return AdmissionRead.model_validate(result)


def _lifecycle(action: str) -> Callable[..., StatusRead]:
    """The route of one lifecycle action: one path each, so that another method on /stats or /runs is a
    405 rather than an unknown action."""

    def lifecycle(name: str, c: Deps, caller: Caller) -> StatusRead:
        result = set_status(env=c, principal=caller, name=name, to=STATUSES[action])
        return StatusRead.model_validate(result)

    lifecycle.__doc__ = f"`{action}` the journey (to `{STATUSES[action]}`)."
    return lifecycle


for _action in STATUSES:
    router.add_api_route(
        f"/journeys/{{name}}/{_action}",
        _lifecycle(_action),
        methods=["POST"],
        name=f"journey_{_action}",
        dependencies=[needs("journey:operate")],
        response_model=StatusRead,
        responses=errors(400, 404),
    )


@router.get(
    "/journeys/{name}/stats",
    dependencies=[needs("journey:read", scoped=True)],
    response_model=JourneyStatsRead,
    responses=errors(404),
)
def stats(name: str, c: Deps, caller: Caller) -> JourneyStatsRead:
    """Per-node statistics and goal conversion of treated runs and the hold-out (of the caller's customers
    only, for a user limited to branches)."""
    return JourneyStatsRead.model_validate(statistics(env=c, name=name, principal=caller))


@router.get(
    "/journeys/{name}/report",
    dependencies=[needs("journey:read", scoped=True)],
    response_model=JourneyReportRead,
    responses=errors(400, 404),
)
def report(
    name: str,
    c: Deps,
    caller: Caller,
    start: EntryFrom = None,
    end: EntryTo = None,
) -> JourneyReportRead:
    """The journey's measured outcome: per variant and hold-out, the funnel to the goal, uplift with its 95 %
    interval and p-value, assets change and net inflow per customer, by day (the caller's customers only)."""
    first, last = resolve_day(c, start, name="from"), resolve_day(c, end, name="to")
    if first is not None and last is not None and first > last:
        raise ValidationError(f"from {first} is after to {last}")
    found = journey_report(env=c, principal=caller, name=name, start=first, end=last)
    return JourneyReportRead.model_validate(found)


@router.get(
    "/kpis/campaigns",
    dependencies=[needs("journey:read", scoped=True)],
    response_model=CampaignKpisRead,
    responses=errors(400),
)
def campaigns(
    c: Deps,
    caller: Caller,
    start: EntryFrom = None,
    end: EntryTo = None,
) -> CampaignKpisRead:
    """Campaign KPIs (活动效果) per journey running now or entered in the period (the last 30 days by
    default): the treated runs' reach, suppression, open, click and conversion, uplift against the hold-out
    with its 95 % interval, assets and net-inflow uplift, as each journey's report has them; the counts'
    total (the caller's customers only)."""
    first, last = resolve_period(c, start, end, days=CAMPAIGN_DAYS)
    return CampaignKpisRead.model_validate(campaign_kpis(env=c, principal=caller, start=first, end=last))


@router.get(
    "/customers/{customer_no}/journeys",
    dependencies=[needs("customer:read", scoped=True)],
    response_model=list[CustomerRunRead],
    responses=errors(404),
)
def runs_of(customer_no: str, c: Deps, caller: Caller) -> list[CustomerRunRead]:
    """The customer's runs: where each is, its steps, and what it waits for."""
    return [
        CustomerRunRead.model_validate(r)
        for r in customer_runs(env=c, principal=caller, customer_no=customer_no)
    ]


@router.get(
    "/journey-runs/{run_id}",
    dependencies=[needs("journey:read", scoped=True)],
    response_model=CustomerRunRead,
    responses=errors(404),
)
def run_route(run_id: str, c: Deps, caller: Caller) -> CustomerRunRead:
    """One run's path through its journey: where it is, its steps and effects (a customer outside the
    caller's scope: 404)."""
    return CustomerRunRead.model_validate(run_path(env=c, principal=caller, run_id=run_id))


@router.post(
    "/journey-runs/{run_id}/{action}",
    dependencies=[needs("journey:operate")],
    response_model=RunChangeRead,
    responses=errors(400, 404),
)
def run_action(run_id: str, action: Literal["resume", "stop"], c: Deps, caller: Caller) -> RunChangeRead:
    """`resume` (due now) or `stop` one run."""
    if action == "stop":
        return RunChangeRead.model_validate(stop_run(env=c, principal=caller, run_id=run_id))
    return RunChangeRead.model_validate(resume_run(env=c, principal=caller, run_id=run_id))
