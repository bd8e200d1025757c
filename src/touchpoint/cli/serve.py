"""`touchpoint serve`, `touchpoint collect` and `touchpoint worker` — the long-running processes."""

from __future__ import annotations

import errno
import gc
import socket
from typing import Annotated

import typer
import uvicorn

from touchpoint.api.app import create_app
from touchpoint.bootstrap import Container
from touchpoint.cli.output import fail, print_json
from touchpoint.worker.loop import BackgroundWorker, PassResult, run_pass

HostOption = Annotated[str | None, typer.Option(help="address to bind (default 127.0.0.1)")]
PortOption = Annotated[int | None, typer.Option(help="port (default 8000)")]


def serve_command(
    ctx: typer.Context,
    host: HostOption = None,
    port: PortOption = None,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="run the background jobs in this process too; --no-worker for API processes beside "
            "`touchpoint worker` processes",
        ),
    ] = True,
) -> None:
    """Serve the API, the collector endpoints and the background worker; OpenAPI docs at /docs."""
    serve(ctx.obj.container, host, port, with_worker=worker)


def serve(container: Container, host: str | None, port: int | None, *, with_worker: bool = True) -> None:
    """Run uvicorn on the container's app (and the worker thread) until interrupted."""
    bind_host = host or container.settings.host
    bind_port = port or container.settings.port
    ensure_port_free(bind_host, bind_port)
    worker = BackgroundWorker(container) if with_worker else None
    if worker:
        worker.start()
    typer.echo(f"Touchpoint serving on http://{bind_host}:{bind_port}  (API docs: /docs)")
    try:
        uvicorn.run(create_app(container), host=bind_host, port=bind_port, log_level="info")
    finally:
        if worker:
            worker.stop()


def ensure_port_free(host: str, port: int) -> None:
    """Refuse to start, naming the port and how to pick another, when `host:port` cannot be bound.

    Checked before the worker starts and before uvicorn logs its own traceback-like error."""
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
            # As uvicorn binds: SO_REUSEADDR, so a port left in TIME_WAIT by a stopped server counts as free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise fail(_bind_problem(host, port, exc)) from None


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    how = (
        'choose another with --port N (make demo: make demo DEMO_ARGS="--port N"), '
        "or set TOUCHPOINT_PORT / `port` in touchpoint.toml"
    )
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use (another Touchpoint, or another program); {how}"
    if exc.errno == errno.EACCES:
        return f"no permission to listen on port {port} (ports below 1024 need root); {how}"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host, or {how}"


def collect_command(ctx: typer.Context, host: HostOption = None, port: PortOption = None) -> None:
    """Serve only the collector endpoints (SDKs, native events, /metrics), e.g. behind a balancer."""
    container = ctx.obj.container
    bind_host = host or container.settings.host
    bind_port = port or container.settings.port
    ensure_port_free(bind_host, bind_port)
    typer.echo(f"Touchpoint collector on http://{bind_host}:{bind_port}")
    uvicorn.run(create_app(container, collector_only=True), host=bind_host, port=bind_port, log_level="info")


def worker_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="process everything pending, then exit")] = False,
    jobs: Annotated[
        str | None,
        typer.Option(
            help="run only these jobs, comma-separated: consumers, timers, dispatch, compute, segments, "
            "housekeeping (default all; split roles across processes)"
        ),
    ] = None,
    clock: Annotated[
        str, typer.Option(help="system, or virtual: run a STAGING data directory through time (--until)")
    ] = "system",
    start: Annotated[
        str | None,
        typer.Option(help="virtual clock: where it starts, YYYY-MM-DD[THH:MM] Beijing (default now)"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="virtual clock: where it stops, YYYY-MM-DD[THH:MM] Beijing or +7d, +12h"),
    ] = None,
    step: Annotated[
        str | None,
        typer.Option(help="virtual clock: the longest jump between passes, e.g. 1h (default: none)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print what the pass did as JSON")] = False,
) -> None:
    """Run the worker's jobs, each in its own thread on its own cadence: consumers (One ID, compaction,
    journey routing), timers (journey admissions and steps), dispatch (sends), compute (indicators and tags),
    segments (refreshes) and housekeeping. `--clock virtual` rehearses a staging directory through time."""
    from touchpoint.cli.rehearse import rehearse_command
    from touchpoint.worker.jobs import parse_jobs

    chosen = parse_jobs(jobs)
    if clock == "virtual":
        rehearse_command(ctx, jobs=chosen, start=start, until=until, step=step, as_json=as_json)
        return
    if clock != "system":
        raise typer.BadParameter(f"--clock {clock!r}: choose system or virtual")
    if start or until or step:
        raise typer.BadParameter("--start, --until and --step need --clock virtual")
    container = ctx.obj.container
    if once:
        result = run_pass(container, chosen)
        body = pass_body(result)
        if as_json:
            print_json(body)
        else:
            typer.echo(", ".join(f"{k} {v}" for k, v in body.items()))
        return
    # As the API does at start-up: what start-up built (~270k objects) leaves the garbage collector's full
    # passes, which a journey batch's allocations set off several times per 10,000 runs (0.15 s each). Its
    # garbage is collected first, so that none of it is kept for good; a single pass (--once) is left as is.
    gc.collect()
    gc.freeze()
    worker = BackgroundWorker(container, jobs=chosen)
    worker.start()
    typer.echo(f"Touchpoint worker running {', '.join(worker.jobs)}; Ctrl-C to stop")
    try:
        worker.wait()
    except KeyboardInterrupt:
        worker.stop()


def pass_body(result: PassResult) -> dict[str, object]:
    """What one worker pass did, as printed by `touchpoint worker --once`."""
    return {
        "identity_events": result.identity_events,
        "compacted_records": result.compacted_records,
        "customers_linked": result.customers_linked,
        "computed": result.computed,
        "segments_refreshed": result.segments_refreshed,
        "journey_runs_advanced": result.journey_steps,
        "journey_effects_done": result.effects_done,
    }
