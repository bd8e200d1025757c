"""Background jobs of this process (a lookalike expansion, a journey simulation): their stage, progress,
result or error, a cancel switch, and the user who started them.

A job lives in memory: a restart forgets it, and only the newest `KEEP` jobs are kept. The API shows a job
to the user who started it only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

KEEP = 200


class Cancelled(Exception):
    """The job was asked to stop."""


@dataclass
class Job:
    """One background job: `kind` (lookalike, simulation), what it works on (`subject`), who started it
    (`owner`), and how far it got."""

    id: str
    kind: str
    owner: str
    subject: dict[str, str] = field(default_factory=dict)
    stage: str = "queued"
    progress: float = 0.0
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def report(self, stage: str, progress: float) -> None:
        """Move to a stage, unless asked to stop."""
        if self.cancel.is_set():
            raise Cancelled(f"{self.kind} {self.id} cancelled during {self.stage}")
        self.stage, self.progress = stage, progress

    def finish(self, result: dict[str, Any]) -> None:
        """Hold the result: the job is done."""
        self.result, self.stage, self.progress = result, "done", 1.0

    def view(self) -> dict[str, Any]:
        """The job as JSON."""
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": dict(self.subject),
            "stage": self.stage,
            "progress": self.progress,
            "result": self.result,
            "error": self.error,
        }


class JobBoard:
    """The jobs of this process, newest last, at most `keep` of them (the oldest finished ones go first)."""

    def __init__(self, keep: int = KEEP) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def add(self, job: Job) -> Job:
        """Hold a new job, forgetting the oldest finished ones beyond the limit."""
        with self._lock:
            self._jobs[job.id] = job
            for old in [j for j in self._jobs.values() if j.stage in ("done", "failed", "cancelled")]:
                if len(self._jobs) <= self._keep:
                    break
                del self._jobs[old.id]
        return job

    def cancel_all(self) -> list[str]:
        """Ask every job to stop; the names of their threads (to join)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel.set()
        return [thread_name(job) for job in jobs]

    def get(self, job_id: str, owner: str) -> Job | None:
        """The job, if it exists and `owner` started it."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner == owner else None


def thread_name(job: Job) -> str:
    """The name of the thread that runs `job`."""
    return f"job-{job.kind}-{job.id}"


def run_in_background(work: Callable[[Job], Any], job: Job) -> threading.Thread:
    """Run `work(job)` on a daemon thread; a returned dict is the result; an error or a cancellation lands
    on the job."""

    def target() -> None:
        try:
            result = work(job)
            if isinstance(result, dict) and job.result is None:
                job.finish(result)
        except Cancelled as exc:
            job.stage, job.error = "cancelled", str(exc)
        except Exception as exc:
            job.stage, job.error = "failed", str(exc)

    thread = threading.Thread(target=target, name=thread_name(job), daemon=True)
    thread.start()
    return thread


class JobRead(BaseModel):
    """A background job's stage, progress, result or error."""

    id: str
    kind: str = Field(description="lookalike or simulation")
    subject: dict[str, str] = Field(description="what it works on: seed and target; journey and version")
    stage: str
    progress: float
    result: dict[str, Any] | None = None
    error: str | None = None


# The jobs the API started in this process.
JOBS = JobBoard()
