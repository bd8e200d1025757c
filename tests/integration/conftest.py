"""A real HTTP server on an ephemeral port, running the app of a test's container."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from support import ingest_keys
from touchpoint.api.app import create_app
from touchpoint.bootstrap import Container
from touchpoint.core.clock import SystemClock


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def clock() -> SystemClock:
    """Real SDKs stamp real time, so these tests run on the wall clock."""
    return SystemClock()


@pytest.fixture
def live_server(container: Container) -> Iterator[str]:
    """The container's app under uvicorn in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def keys(container: Container) -> dict[str, str]:
    """A live ingestion key per source, configured in the SDKs as a brokerage would."""
    return ingest_keys(container)
