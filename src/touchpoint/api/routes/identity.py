"""One ID over HTTP: which customer an identifier resolves to, detaching a wrongly linked identifier, and
lifting such a separation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from touchpoint.api.deps import container, principal
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal
from touchpoint.identity.corrections import allow, unmerge
from touchpoint.identity.service import show

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
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Detach exactly this identifier from its person; the two stay apart until the separation is lifted."""
    return unmerge(env=c.identity_env, principal=caller, value=value, id_type=id_type, reason=reason)


@router.post("/identity/{value}/allow")
def identity_allow(
    value: str,
    c: Annotated[Container, Depends(container)],
    caller: Annotated[Principal, Depends(principal)],
    other: Annotated[str, Query(description="the identifier it was separated from")],
    id_type: str | None = None,
    other_type: str | None = None,
) -> dict[str, Any]:
    """Lift the separation between two identifiers, so that later events may link them again."""
    return allow(
        env=c.identity_env,
        principal=caller,
        value=value,
        other=other,
        id_type=id_type,
        other_type=other_type,
    )
