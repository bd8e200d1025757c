"""`touchpoint serve` as a user starts it: a real process answering /healthz on the port it was given."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_healthz_and_docs(tmp_path: Path) -> None:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "touchpoint",
        "--home",
        str(tmp_path / "h"),
        "serve",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                # A cold start imports the whole stack; on a loaded 2-core machine (CI with the browser tests
                # beside it) that took over 30 s once. This waits for liveness, it times nothing.
                assert time.monotonic() < deadline, "server did not start within 90 s"
                time.sleep(0.2)
        assert response.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
        assert (tmp_path / "h" / "touchpoint.db").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)
