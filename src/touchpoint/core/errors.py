"""The error vocabulary every layer speaks; entry points translate it to exit codes and HTTP statuses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticError


@dataclass(frozen=True)
class Fault:
    """One thing wrong with an input: where (`loc`, a path of names and indices) and what (`msg`)."""

    loc: tuple[str | int, ...]
    msg: str

    @property
    def place(self) -> str:
        """The location as dotted text (`rule.conditions.0.value`)."""
        return ".".join(str(p) for p in self.loc)


class TouchpointError(Exception):
    """Base class for errors a user can act on: the message names what is wrong."""

    code = "error"

    def __init__(self, message: str = "", *, faults: Sequence[Fault] = ()) -> None:
        super().__init__(message)
        self.faults = tuple(faults)


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


class ForbiddenError(TouchpointError):
    """The caller is known but lacks the permission or the scope this needs (HTTP 403)."""

    code = "forbidden"


def fault_list(errors: Sequence[Mapping[str, Any]]) -> list[Fault]:
    """Pydantic's error dictionaries (from `ValidationError.errors()` or FastAPI's `RequestValidationError`)
    as `(loc, msg)` pairs — the one translation every entry point shares."""
    return [Fault(loc=tuple(e.get("loc", ())), msg=str(e.get("msg", ""))) for e in errors]


def pydantic_faults(exc: PydanticError, *, root: str = "") -> str:
    """A pydantic validation failure as one line of `place: problem` pairs (`root` names an empty place)."""
    return "; ".join(f"{f.place or root}: {f.msg}" for f in fault_list(exc.errors()))
