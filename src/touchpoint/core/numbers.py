"""Whole numbers in request bodies: pydantic's lax mode reads `true` as 1, which no caller means."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator


def _not_a_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a whole number, not true/false")
    return value


Whole = Annotated[int, BeforeValidator(_not_a_bool)]
"""An int field that refuses `true`/`false` (and still reads `3.0` as 3, as JSON Schema's integer allows)."""

MaybeWhole = Annotated[int | None, BeforeValidator(_not_a_bool)]
"""`Whole` or null. (Written as one annotated union: `Whole | None` with `ge`/`le` puts the bounds into the
JSON Schema under keys no validator reads.)"""
