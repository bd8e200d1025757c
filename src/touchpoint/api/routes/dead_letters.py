"""Dead letters: event-log records a consumer (One ID, compaction, journeys…) could not process."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from touchpoint.api.deps import container, needs, principal
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal
from touchpoint.ingest.collector.dead_letters import list_dead_letters, retry_dead_letter
from touchpoint.ingest.collector.model import DeadLetterPage, DeadLetterRead, DeadLetterStatus

router = APIRouter(tags=["collector"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
MAX_ID = 2**62  # a database id never exceeds it; larger path values are refused (422), not overflowed


@router.get(
    "/collector/dead-letters",
    dependencies=[needs("collector:read")],
    response_model=DeadLetterPage,
    responses=errors(401),
)
def dead_letters_list(
    c: Deps,
    caller: Caller,
    consumer: Annotated[str | None, Query(max_length=64, description="only this consumer's")] = None,
    status: Annotated[DeadLetterStatus | None, Query(description="only letters in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many, newest first")] = 50,
) -> DeadLetterPage:
    """The newest dead letters with their consumer, offset, error and record, and the counts of all."""
    return list_dead_letters(ops=c.ops, principal=caller, consumer=consumer, status=status, limit=limit)


@router.post(
    "/collector/dead-letters/{letter_id}/retry",
    dependencies=[needs("collector:operate")],
    response_model=DeadLetterRead,
    responses=errors(401, 404, 409),
)
def dead_letter_retry(
    letter_id: Annotated[int, Path(ge=1, le=MAX_ID, description="the dead letter's id")],
    c: Deps,
    caller: Caller,
) -> DeadLetterRead:
    """Ask the letter's consumer to process its record again on the worker's next pass (status
    `retrying`; then `resolved`, or `open` with the new error). 409 when it is resolved already."""
    return retry_dead_letter(ops=c.ops, clock=c.clock, principal=caller, letter_id=letter_id)
