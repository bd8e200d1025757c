"""The error vocabulary every layer speaks; entry points translate it to exit codes and HTTP statuses."""

from __future__ import annotations

from pydantic import ValidationError as PydanticError


class TouchpointError(Exception):
    """Base class for errors a user can act on: the message names what is wrong."""

    code = "error"


class ValidationError(TouchpointError):
    """Input that can never be valid as given (bad file, bad definition, bad argument)."""

    code = "invalid"


class NotFoundError(TouchpointError):
    """A named thing (table, definition, customer) does not exist."""

    code = "not_found"


class ConflictError(TouchpointError):
    """The request clashes with the current state (a concurrent writer, an existing name)."""

    code = "conflict"


class UnauthorizedError(TouchpointError):
    """The request does not carry the credential this endpoint needs (HTTP 401)."""

    code = "unauthorized"


def pydantic_faults(exc: PydanticError, *, root: str = "") -> str:
    """A pydantic validation failure as one line of `place: problem` pairs (`root` names an empty place)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or root}: {e['msg']}" for e in exc.errors())
