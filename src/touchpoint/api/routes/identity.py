"""One ID over HTTP: which customer an identifier resolves to, and undoing a wrong merge."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from touchpoint.api.deps import container, principal
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal
from touchpoint.identity.service import show, unmerge

router = APIRouter(tags=["identity"])


@router.get("/identity/{value}")
def identity_show(
    value: str,
    c: Annotated[Container, Depends(container)],
    id_type: Annotated[str | None, Query(description="customer_no, anonymous_id, phone, …")] = None,
) -> dict[str, Any]:
    """The uid an identifier resolves to, every identifier linked to it, and the merge-log entries."""
    return show(env=c.identity_env, value=value, id_type=id_type)


@router.post("/identity/{value}/unmerge")
def identity_unmerge(
    value: str,
    c: Annotated[Container, Depends(container)],
    caller: Annotated[Principal, Depends(principal)],
    id_type: str | None = None,
) -> dict[str, Any]:
    """Undo the link or merge that attached this identifier."""
    return unmerge(env=c.identity_env, principal=caller, value=value, id_type=id_type)
