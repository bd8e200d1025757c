"""Request-scoped access to the container and the caller."""

from __future__ import annotations

from fastapi import Request

from touchpoint.bootstrap import Container
from touchpoint.governance import SYSTEM, Principal


def container(request: Request) -> Container:
    """The application's container."""
    value: Container = request.app.state.container
    return value


def principal() -> Principal:
    """The caller; the system principal until sign-in exists."""
    return SYSTEM
