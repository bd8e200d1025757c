"""What every bench in bench/ shares: its options, timing, memory, percentiles, scratch PostgreSQL schemas,
local servers, progress, profiles and the report.

A bench measures one of Touchpoint's hot paths beside a peer measured in the same run (a bare server, a
DuckDB scan, a bulk insert) and prints each figure with its ratio to that peer: on the shared 2-core
machine absolute figures drift with the load, same-run ratios much less. Every bench takes `--smoke` (tiny
sizes, a few seconds: the figures mean nothing, the counts must still agree; tests/bench runs each so that
none rots) and `--json` (the figures as one JSON object on stdout, the lines on stderr).

The benches run as scripts (`python bench/bench_x.py`), so this module is imported as `_harness` from the
scripts' own directory, which Python puts first on the path.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Generic, TypeVar

import httpx
import numpy as np
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.status import Status
from rich.table import Table
from rich.text import Text
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

T = TypeVar("T")

# The variable the test suite reads (tests/conftest.py): a smoke run in `make test` reaches the PostgreSQL the
# tests reach, and skips it when they do.
POSTGRES_ENV = "TOUCHPOINT_TEST_POSTGRES_URL"

HERE = Path(__file__).resolve().parent
GiB = 1 << 30
MiB = 1 << 20


# Options and output ----------------------------------------------------------------------------------------


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser described by the first line of a bench's docstring."""
    return argparse.ArgumentParser(description=doc.strip().splitlines()[0] if doc and doc.strip() else None)


@dataclass
class Bench:
    """One run of a bench: its parsed options and the console its lines go to.

    Lines go to stdout, or to stderr under `--json` so that stdout holds only the JSON object; progress bars
    and status spinners always go to stderr.
    """

    name: str
    args: argparse.Namespace
    console: Console
    progress_console: Console = field(default_factory=lambda: Console(stderr=True))

    @property
    def smoke(self) -> bool:
        """Whether this is a smoke run (tiny sizes; only the counts mean anything)."""
        return bool(self.args.smoke)

    @property
    def json(self) -> bool:
        """Whether the figures are printed as JSON on stdout."""
        return bool(self.args.json)

    def say(self, line: str) -> None:
        """Print one line of results as it is, however long (no markup, no wrapping)."""
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def status(self, what: str) -> Status:
        """A spinner naming the step under way (stderr; nothing when stderr is not a terminal)."""
        return self.progress_console.status(what)

    def progress(self) -> Progress:
        """A progress bar with a count, a free-text `note` field and the elapsed time, on stderr."""
        return progress(self.progress_console)

    def report(self, figures: Mapping[str, Any]) -> None:
        """The closing table of every figure, and the JSON object under `--json`."""
        report(self.name, figures, json_out=self.json, console=self.console, smoke=self.smoke)


def start(name: str, argument_parser: argparse.ArgumentParser, smoke: Mapping[str, Any]) -> Bench:
    """Add `--smoke` and `--json` to a bench's parser, parse the command line and return the run.

    `smoke` maps option destinations to the tiny sizes of a smoke run; they replace the defaults, so an
    option given on the command line still wins (`--smoke --rows 10000`).
    """
    argument_parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, a few seconds: checks the bench runs, not speed"
    )
    argument_parser.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object on stdout"
    )
    known, _ = argument_parser.parse_known_args()
    if known.smoke:
        argument_parser.set_defaults(**smoke)
    args = argument_parser.parse_args()
    return Bench(name, args, Console(stderr=bool(args.json)))


def report(
    name: str,
    figures: Mapping[str, Any],
    json_out: bool,
    *,
    console: Console | None = None,
    smoke: bool = False,
) -> None:
    """Print `figures` as a table of `name`, then — with `json_out` — as one JSON object on stdout.

    The table flattens nested figures into dotted names and leaves out cProfile listings (keys ending in
    `profile` or `profiles`: `print_profile` shows them). The JSON object is `{"bench", "smoke", **figures}`;
    orjson writes infinities and NaN as null (an event never handled has no latency).
    """
    out = console or Console(stderr=json_out)
    table = Table(
        title=f"{name} (smoke run)" if smoke else name,
        caption="figures of tiny sizes: only the counts mean anything" if smoke else None,
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in flatten(figures):
        table.add_row(Text(key), Text(_cell(key, value)))
    out.print(table)
    if json_out:
        body = {"bench": name, "smoke": smoke, **figures}
        options = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
        sys.stdout.buffer.write(orjson.dumps(body, option=options) + b"\n")
        sys.stdout.flush()


def flatten(figures: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, value) for every scalar in nested dicts and lists, profiles left out; a record of a list
    is named by its first text value (its command, case or pass), else by its index."""
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if str(key).endswith(("profile", "profiles")):
            continue
        if isinstance(value, Mapping):
            yield from flatten(value, f"{name}.")
        elif isinstance(value, list | tuple) and any(isinstance(v, Mapping | list | tuple) for v in value):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    label = next((k for k, v in item.items() if isinstance(v, str)), None)
                    rest = {k: v for k, v in item.items() if k != label}
                    yield from flatten(rest, f"{name}[{item[label] if label else index}].")
                else:
                    yield f"{name}[{index}]", item
        else:
            yield name, value


def _cell(key: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | np.integer):
        if key.endswith("bytes"):
            return f"{value / GiB:.2f} GiB" if value >= GiB else f"{value / MiB:.1f} MiB"
        return f"{value:,}"
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return str(value)
        magnitude = abs(float(value))
        return f"{value:,.0f}" if magnitude >= 1000 else f"{value:.3g}" if magnitude < 1 else f"{value:,.2f}"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(key, v) for v in value)
    return str(value)


def progress(console: Console) -> Progress:
    """A progress bar with a count, a free-text `note` field and the elapsed time."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
    )


# Timing ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing(Generic[T]):
    """The seconds of each of several runs of one piece of work, the peak RSS over them, the last result."""

    seconds: tuple[float, ...]
    peak_rss_bytes: int | None
    result: T

    @property
    def first(self) -> float:
        """The first run: the cold figure where caches start empty."""
        return self.seconds[0]

    @property
    def min(self) -> float:
        """The best run: the warm figure, least disturbed by other jobs on the machine."""
        return min(self.seconds)

    @property
    def median(self) -> float:
        """The median run."""
        return statistics.median(self.seconds)

    @property
    def max(self) -> float:
        """The slowest run."""
        return max(self.seconds)


def measure(fn: Callable[[], T], runs: int = 3) -> Timing[T]:
    """Run `fn` `runs` times; the seconds of each, the resident-set peak over all of them (None where the
    peak cannot be reset, as it then covers the whole process) and the last run's result."""
    if runs < 1:
        raise ValueError("measure needs at least one run")
    reset = reset_peak_rss()
    seconds = []
    result: T
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return Timing(tuple(seconds), peak_rss() if reset else None, result)


class Stopwatch:
    """Seconds since it was made (or since its `with` block began), frozen when the block ends."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._stopped: float | None = None

    @property
    def seconds(self) -> float:
        """Seconds from the start to the end of the block (or to now, inside it)."""
        return (self._stopped if self._stopped is not None else time.perf_counter()) - self._started

    def __enter__(self) -> Stopwatch:
        self._started, self._stopped = time.perf_counter(), None
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stopped = time.perf_counter()


def percentiles(samples: Iterable[float], qs: Sequence[float] = (50, 99)) -> dict[float, float]:
    """The `qs` percentiles of `samples` by nearest rank (each an observed value; 100 is the maximum).

    Infinite samples sort last and may be the answer (an event never handled is infinitely late); NaN for
    every q when there are no samples.
    """
    ordered = sorted(samples)
    if not ordered:
        return dict.fromkeys(qs, math.nan)
    return {q: ordered[min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1] for q in qs}


# Engines ---------------------------------------------------------------------------------------------------

ENGINES = ("duckdb", "spark")


def add_engine_option(argument_parser: argparse.ArgumentParser) -> None:
    """`--engine duckdb|spark`: the analytical engine the timed queries run on (Spark: PySpark local[*])."""
    argument_parser.add_argument(
        "--engine", choices=ENGINES, default="duckdb", help="analytical engine (spark: PySpark local[*])"
    )


def engine_settings(engine: str) -> dict[str, Any]:
    """The settings that put a container's analytical queries on `engine` (Spark in local mode, with the
    driver's memory raised from Spark's 1 GiB default: a local session runs every task in the driver). On
    DuckDB, BENCH_DUCKDB_MEMORY (e.g. 4GB) caps the engine's memory, beyond which it spills to disk."""
    if engine == "duckdb":
        limit = os.environ.get("BENCH_DUCKDB_MEMORY")
        return {"duckdb_memory_limit": limit} if limit else {}
    return {
        "engine": "spark",
        "spark_master": "local[*]",
        "spark_config": {"spark.driver.memory": os.environ.get("BENCH_SPARK_MEMORY", "8g")},
    }


def spark_session_of(container: Any) -> Any:
    """The SparkSession behind a container whose engine is Spark."""
    return container.analytics.backend.connection._session


def jvm_peak_rss(container: Any) -> int | None:
    """The resident-set peak of the Spark JVM a container started (None on DuckDB, in process): Spark's
    memory is not this process's."""
    if container.settings.engine != "spark":
        return None
    session = spark_session_of(container)
    pid = int(session._jvm.java.lang.ProcessHandle.current().pid())
    return rss(pid, "VmHWM")


# Memory ----------------------------------------------------------------------------------------------------


def rss(pid: int | str = "self", field_name: str = "VmRSS") -> int:
    """A figure of /proc/PID/status in bytes: VmRSS (resident now) or VmHWM (the peak since the last
    reset). Linux only: the benches measure the machine the issue's figures come from."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field_name} for process {pid}")


# The highest peak read before a reset: resetting VmHWM also resets the kernel's hiwater mark that
# getrusage's ru_maxrss reads, so the whole run's peak must be remembered across resets.
_peak_before_reset = 0


def reset_peak_rss() -> bool:
    """Start this process's resident-set peak afresh (Linux: writing 5 to clear_refs resets VmHWM);
    False where that is not possible, and `peak_rss` then covers the whole process."""
    global _peak_before_reset
    _peak_before_reset = max(_peak_before_reset, peak_rss())
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc/PID/stat (fields 14 and 15, in clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss() -> int:
    """This process's resident-set peak since the last `reset_peak_rss` (since it started without one)."""
    try:
        return rss("self", "VmHWM")
    except (OSError, RuntimeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def lifetime_peak_rss() -> int:
    """This process's resident-set peak since it started, across every `reset_peak_rss`."""
    return max(_peak_before_reset, peak_rss(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


# Stores ----------------------------------------------------------------------------------------------------


@contextmanager
def scratch_schema(url: str, prefix: str = "bench") -> Iterator[str]:
    """A URL into a new, uniquely named schema of the PostgreSQL database at `url`, dropped afterwards with
    everything in it (the operational store's migrations create their tables there)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(parsed)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            scoped = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
            yield scoped.render_as_string(hide_password=False)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def operational_stores(database_url: str | None, smoke: bool) -> list[str | None]:
    """The operational stores to run on, None for SQLite in the data directory: PostgreSQL at
    `database_url` when one is given; else SQLite, and in a smoke run also the PostgreSQL of
    TOUCHPOINT_TEST_POSTGRES_URL when that is set."""
    if database_url is not None:
        return [database_url]
    postgres = os.environ.get(POSTGRES_ENV) if smoke else None
    return [None, postgres] if postgres else [None]


@contextmanager
def nats_stream(url: str) -> Iterator[str]:
    """The name of a scratch JetStream stream on the NATS server at `url`, deleted afterwards."""
    from datetime import timedelta

    from touchpoint.store.backends.nats_log import NatsEventLog

    stream = f"BENCH_{uuid.uuid4().hex[:12].upper()}"
    try:
        yield stream
    finally:
        log = NatsEventLog(url, dedupe_window=timedelta(minutes=2), stream=stream)
        try:
            log.delete_stream()
        finally:
            log.close()


def nats_settings(url: str, stream: str) -> dict[str, str]:
    """The settings that put a process's event log on a JetStream stream, by name as `load_settings` takes
    them (upper-cased with TOUCHPOINT_ as environment variables)."""
    return {"event_log": "nats", "nats_url": url, "nats_stream": stream}


def store_url(database_url: str | None) -> AbstractContextManager[str | None]:
    """A context yielding None for SQLite, or a URL into a scratch schema of the PostgreSQL at the URL."""
    return nullcontext(None) if database_url is None else scratch_schema(database_url)


def store_name(database_url: str | None) -> str:
    """`sqlite` or `postgresql`: the key of a store's figures."""
    return "sqlite" if database_url is None else "postgresql"


# Local servers ---------------------------------------------------------------------------------------------


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, *, timeout: float = 120.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Return once `url` answers at all; fail after `timeout` seconds, or as soon as `process` (the server
    being waited for) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the server for {url} exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.1)


@dataclass
class Server:
    """A server in a child process: its base URL and the process."""

    base: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far (user + system, every thread): on a shared machine, CPU per
        event is the figure that other jobs' load does not move."""
        return process_cpu_seconds(self.pid)


@contextmanager
def serve(
    command: list[str],
    port: int,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120.0,
) -> Iterator[Server]:
    """Start `command` (which listens on `port`), wait for its /healthz, yield it, terminate it.

    Its output goes to a temporary file, shown in the error when it fails to start.
    """
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, env=dict(env) if env is not None else None, cwd=cwd, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_http(f"{base}/healthz", timeout=timeout, process=process)
            except RuntimeError as error:
                raise RuntimeError(f"{error}; its output ends:\n{_tail(log)}") from None
            yield Server(base, process)
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _tail(log: IO[bytes], size: int = 4000) -> str:
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - size))
    return log.read().decode(errors="replace")


def collector(
    home: str | Path, *, database_url: str | None = None, env: Mapping[str, str] | None = None
) -> AbstractContextManager[Server]:
    """`touchpoint collect` on a free port over the data directory `home` (and `database_url`, if given),
    ingestion keys off — the collector benches measure decoding and storing, not admitting (one lookup a
    batch, bench_ingest_keys.py's figure). A context yielding its Server."""
    port = free_port()
    variables = {**os.environ, "TOUCHPOINT_COLLECTOR_REQUIRE_KEYS": "false", **(env or {})}
    if database_url is not None:
        variables["TOUCHPOINT_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "touchpoint", "--home", str(home), "collect", "--port", str(port)]
    return serve(command, port, env=variables)


_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][\w:]*)(?:\{[^="]*="(?P<label>[^"]*)"\})?\s+(?P<value>\S+)$')


def metrics(base: str) -> dict[str, dict[str, float]]:
    """A server's Prometheus /metrics as {metric: {label value ("" when unlabelled): value}}: the collector's
    own count of what it accepted, refused and deduplicated."""
    answer = httpx.get(f"{base}/metrics", timeout=30)
    answer.raise_for_status()
    samples: dict[str, dict[str, float]] = {}
    for line in answer.text.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            samples.setdefault(match["name"], {})[match["label"] or ""] = float(match["value"])
    return samples


def counter(samples: Mapping[str, Mapping[str, float]], name: str, label: str = "") -> int:
    """One counter of `metrics()`, 0 when the server has not counted anything under it yet."""
    return int(samples.get(name, {}).get(label, 0))


# Profiles --------------------------------------------------------------------------------------------------


def top_entries(
    profiler: cProfile.Profile, top: int = 15, entry: str = "tick", ours: Sequence[str] = ("touchpoint/",)
) -> list[dict[str, Any]]:
    """A profiled call's listing: a `total` row named `entry`, the `top` entries by own time, then the `top`
    entries whose file path contains one of `ours` by cumulative time."""
    stats = pstats.Stats(profiler)
    entries = [
        (own, total, calls, f"{file}:{line}({func_name})")
        for (file, line, func_name), (_, calls, own, total, _) in stats.stats.items()  # type: ignore[attr-defined]
    ]
    by_own = sorted(entries, reverse=True)[:top]
    mine = sorted(
        ((total, own, calls, where) for own, total, calls, where in entries if any(p in where for p in ours)),
        reverse=True,
    )[:top]
    total_seconds = max((t for _, t, _, _ in entries), default=0.0)
    rows = [
        {"by": "own", "where": w, "calls": c, "tottime": round(o, 4), "cumtime": round(t, 4)}
        for o, t, c, w in by_own
    ]
    rows += [
        {"by": "cumulative", "where": w, "calls": c, "tottime": round(o, 4), "cumtime": round(t, 4)}
        for t, o, c, w in mine
    ]
    return [{"by": "total", "where": entry, "calls": 1, "tottime": 0.0, "cumtime": total_seconds}, *rows]


def print_profile(bench: Bench, name: str, rows: list[dict[str, Any]], what: str = "tick") -> None:
    """A `top_entries` listing: the total, then the top entries by own and by cumulative time."""
    bench.say(f"{what} {name} under cProfile ({rows[0]['cumtime']:.2f} s):")
    for by in ("own", "cumulative"):
        bench.say(f"  top by {by} time:")
        for row in rows:
            if row["by"] == by:
                bench.say(
                    f"    {row['cumtime']:7.2f} s cum {row['tottime']:6.2f} s own {row['calls']:>9,} calls "
                    f"{short_path(row['where'])}"
                )


def short_path(where: str) -> str:
    """A profile entry's location from the package down (site-packages/…, src/…)."""
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in where:
            return where.split(marker, 1)[1]
    return where


# Synthetic data --------------------------------------------------------------------------------------------


def customer_numbers(size: int) -> np.ndarray:
    """`size` synthetic customer numbers, C10000000 onwards (one width, so text order is number order)."""
    return np.char.add("C", np.arange(10_000_000, 10_000_000 + size).astype(str))
