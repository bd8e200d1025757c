"""Crowd insight over HTTP: TGI profiles, overlaps, and lookalike jobs that run in the background."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from touchpoint.api.deps import container, needs, principal, signed_in
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.core.errors import Fault, ForbiddenError, NotFoundError, ValidationError
from touchpoint.core.jobs import JOBS, Job, JobRead, run_in_background
from touchpoint.governance import Principal
from touchpoint.insight.lookalike import lookalike, lookalike_job
from touchpoint.insight.model import LookalikeCreate, OverlapRead, TgiProfileRead
from touchpoint.insight.profile import overlap, tgi_profile
from touchpoint.segments.service import check_list_target, get_segment
from touchpoint.tags.service import list_tags

router = APIRouter(tags=["insight"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@router.get(
    "/segments/{name}/insight",
    dependencies=[needs("analytics:read", scoped=True)],
    responses=errors(400, 403, 404),
)
def insight(
    name: str,
    c: Deps,
    caller: Caller,
    against: Annotated[
        str | None, Query(description="another segment as the base (default: everyone)")
    ] = None,
    tags: Annotated[str, Query(description="comma-separated (default: every non-sensitive tag)")] = "",
    indicators: Annotated[str, Query(description="comma-separated")] = "",
) -> TgiProfileRead:
    """TGI of every tag value against the base (or another segment), ranked; indicator summaries (of the
    caller's customers only, for a user limited to branches; sensitive tags need tag:sensitive)."""
    chosen = _names(tags) or None
    if chosen and not caller.can("tag:sensitive"):
        hidden = sorted(set(chosen) & {n for n, t in list_tags(env=c).items() if t.sensitive})
        if hidden:
            raise ForbiddenError(
                f"{', '.join(hidden)} are sensitive tags; profiling them needs tag:sensitive"
            )
    profile = tgi_profile(
        env=c,
        segment=name,
        against=against or None,
        tags=chosen,
        indicators=_names(indicators),
        scope=caller.scope,
    )
    return TgiProfileRead.model_validate(profile)


@router.get(
    "/insight/overlap", dependencies=[needs("analytics:read", scoped=True)], responses=errors(400, 404)
)
def segments_overlap(
    c: Deps, caller: Caller, names: Annotated[str, Query(description="2–4 comma-separated segments")]
) -> OverlapRead:
    """Sizes of the segments and of every overlap (Venn regions), within the caller's customers."""
    return OverlapRead.model_validate(overlap(env=c, segments=_names(names), scope=caller.scope))


@router.post(
    "/segments/{seed}/lookalike",
    dependencies=[needs("insight:run")],
    status_code=202,
    responses=errors(400, 404),
)
def start_lookalike(
    seed: str,
    c: Deps,
    caller: Caller,
    body: Annotated[LookalikeCreate, Body(description="target, and top (K) or min_score; optional pool")],
) -> JobRead:
    """Start a lookalike expansion in the background; poll GET /jobs/{id}, cancel with DELETE."""
    if (body.top is None) == (body.min_score is None):
        problem = "give exactly one of top (K customers) or min_score (0–1)"
        raise ValidationError(problem, faults=[Fault(loc=("body", "top"), msg=problem)])
    get_segment(env=c, name=seed)  # an unknown seed is answered now, not found later by the job
    target = body.target or f"{seed}_lookalike"
    check_list_target(env=c, name=target, title=target)  # so is a target the segment gate protects
    job = JOBS.add(lookalike_job(caller, seed, target))

    def work(running: Job) -> Any:
        return lookalike(
            env=c,
            principal=caller,
            seed=seed,
            target=target,
            top=body.top,
            min_score=body.min_score,
            pool=body.pool,
            job=running,
        )

    run_in_background(work, job)
    return JobRead.model_validate(job.view())


def _own_job(job_id: str, caller: Principal) -> Job:
    job = JOBS.get(job_id, caller.user)
    if job is None:  # another user's job is as unknown as a job that never was
        raise NotFoundError(f"no job {job_id!r}")
    return job


@router.get("/jobs/{job_id}", dependencies=[signed_in()], responses=errors(404))
def job_status(job_id: str, caller: Caller) -> JobRead:
    """A background job the caller started: its stage, progress, result or error."""
    return JobRead.model_validate(_own_job(job_id, caller).view())


@router.delete("/jobs/{job_id}", dependencies=[signed_in()], responses=errors(404))
def cancel_job(job_id: str, caller: Caller) -> JobRead:
    """Ask a background job the caller started to stop at its next stage."""
    job = _own_job(job_id, caller)
    job.cancel.set()
    return JobRead.model_validate(job.view())
