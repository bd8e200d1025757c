"""Crowd insight over HTTP: TGI profiles, overlaps, and lookalike jobs that run in the background."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from touchpoint.api.deps import container, principal
from touchpoint.bootstrap import Container
from touchpoint.core.errors import NotFoundError
from touchpoint.core.ids import new_id
from touchpoint.governance import Principal
from touchpoint.insight.lookalike import JOBS, Job, lookalike, run_in_background
from touchpoint.insight.profile import overlap, tgi_profile

router = APIRouter(tags=["insight"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@router.get("/segments/{name}/insight")
def insight(
    name: str,
    c: Deps,
    against: str | None = None,
    tags: Annotated[str, Query(description="comma-separated (default: every non-sensitive tag)")] = "",
    indicators: Annotated[str, Query(description="comma-separated")] = "",
) -> dict[str, Any]:
    """TGI of every tag value against the base (or another segment), ranked; indicator summaries."""
    return tgi_profile(
        env=c.tag_env, segment=name, against=against, tags=_names(tags) or None, indicators=_names(indicators)
    )


@router.get("/insight/overlap")
def segments_overlap(
    c: Deps, names: Annotated[str, Query(description="2–4 comma-separated segments")]
) -> dict[str, Any]:
    """Sizes of the segments and of every overlap (Venn regions)."""
    return overlap(env=c.tag_env, segments=_names(names))


@router.post("/segments/{seed}/lookalike", status_code=202)
def start_lookalike(
    seed: str,
    c: Deps,
    caller: Caller,
    body: Annotated[dict[str, Any], Body(description="target, and top (K) or min_score; optional pool")],
) -> dict[str, Any]:
    """Start a lookalike expansion in the background; poll GET /jobs/{id}, cancel with DELETE."""
    target = str(body.get("target") or f"{seed}_lookalike")
    job = Job(id=new_id("lal"), seed=seed, target=target)
    JOBS[job.id] = job

    def work(running: Job) -> Any:
        return lookalike(
            env=c.tag_env,
            principal=caller,
            seed=seed,
            target=target,
            top=body.get("top"),
            min_score=body.get("min_score"),
            pool=body.get("pool"),
            job=running,
        )

    run_in_background(work, job)
    return job.view()


@router.get("/jobs/{job_id}")
def job_status(job_id: str) -> dict[str, Any]:
    """A background job's stage, progress, result or error."""
    if job_id not in JOBS:
        raise NotFoundError(f"no job {job_id!r}")
    return JOBS[job_id].view()


@router.delete("/jobs/{job_id}")
def cancel_job(job_id: str) -> dict[str, Any]:
    """Ask a background job to stop at its next stage."""
    if job_id not in JOBS:
        raise NotFoundError(f"no job {job_id!r}")
    JOBS[job_id].cancel.set()
    return JOBS[job_id].view()
