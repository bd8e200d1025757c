"""One ID over HTTP: which customer an identifier resolves to, detaching a wrongly linked identifier, and
lifting such a separation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from touchpoint.api.deps import container, needs, principal
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal
from touchpoint.identity.corrections import allow, unmerge
from touchpoint.identity.model import AllowRead, IdentityRead, UnmergeRead
from touchpoint.identity.scopes import show_for

router = APIRouter(tags=["identity"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
IdType = Annotated[str | None, Query(description="customer_no, anonymous_id, phone, … (default: any)")]


@router.get("/identity/{value}", dependencies=[needs("identity:read", scoped=True)], responses=errors(404))
def identity_show(value: str, c: Deps, caller: Caller, id_type: IdType = None) -> IdentityRead:
    """The uid an identifier resolves to, every identifier linked to it, and the merge-log entries (phones
    and emails masked without pii:view)."""
    return IdentityRead.model_validate(show_for(c, principal=caller, value=value, id_type=id_type))


@router.post("/identity/{value}/unmerge", dependencies=[needs("identity:write")], responses=errors(400, 404))
def identity_unmerge(
    value: str,
    c: Deps,
    caller: Caller,
    id_type: IdType = None,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> UnmergeRead:
    """Detach exactly this identifier from its person; the two stay apart until the separation is lifted."""
    detached = unmerge(env=c, principal=caller, value=value, id_type=id_type, reason=reason)
    return UnmergeRead.model_validate(detached)


@router.post("/identity/{value}/allow", dependencies=[needs("identity:write")], responses=errors(400, 404))
def identity_allow(
    value: str,
    c: Deps,
    caller: Caller,
    other: Annotated[str, Query(description="the identifier it was separated from")],
    id_type: IdType = None,
    other_type: IdType = None,
) -> AllowRead:
    """Lift the separation between two identifiers, so that later events may link them again."""
    lifted = allow(
        env=c,
        principal=caller,
        value=value,
        other=other,
        id_type=id_type,
        other_type=other_type,
    )
    return AllowRead.model_validate(lifted)
