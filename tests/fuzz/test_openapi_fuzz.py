"""Schemathesis over the whole checked-in OpenAPI document (docs/openapi.json), part of `make test`.

Every operation gets a bounded number of generated requests — valid ones and, in negative mode, ones that
break the schema — sent to the ASGI app in process, and every response is checked: no 5xx, only documented
status codes and content types, bodies that match their response schema, invalid requests refused with 4xx,
valid ones not refused as malformed. The app runs over a small demo brokerage in a throw-away data directory
made for this run (on a virtual clock), so the fuzzer may delete tags, retire templates and withdraw consent
without touching anybody's data; destructive operations are exercised like the rest.

docs/testing.md (API 契约与模糊测试 · The API contract and the fuzz run) says how to run one operation and
how to read a failure.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config._checks import PositiveDataAcceptanceConfig
from schemathesis.config._operations import OperationConfig, OperationsConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
)

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

# Generated requests per operation and mode: ~90 operations x 2 modes within ~3 minutes on two idle cores.
MAX_EXAMPLES = int(os.environ.get("TOUCHPOINT_FUZZ_EXAMPLES", "12"))
# Operations whose bodies are deep recursive schemas (a segment rule, a tag or indicator definition, a
# definitions bundle): schemathesis's coverage phase enumerates thousands of boundary bodies for each (7,482
# for a tag dry run), which took 10½ of the run's 14½ minutes. They keep the example and fuzzing phases,
# with the same number of examples as every other operation; the domains' own tests pin their boundaries.
DEEP_BODIES = [
    "POST /api/v1/segments/preview",
    "PUT /api/v1/segments/{name}",
    "POST /api/v1/compute",
    "POST /api/v1/definitions/dry-run",
    "PUT /api/v1/tags/{name}",
    "POST /api/v1/tags/{name}/dry-run",
]

# Operations left out ("METHOD /path": why). An entry is a known fault to fix, not a waiver; none today.
EXCLUDED: dict[str, str] = {}

# Definition bodies whose rules span fields (a window's kind against its n, a condition naming exactly one of
# indicator or attribute, a duration of at most ten years): JSON Schema cannot state them, so a body valid by
# the schema may be refused — with 422 naming the field, as FastAPI parses it. For these the answer to valid
# input must still be no server error and documented, but a 422 is not "valid data refused".
CROSS_FIELD_RULES = {
    "PUT /api/v1/indicators/{name}",
    "POST /api/v1/indicators/{name}/dry-run",
    "PUT /api/v1/tags/{name}",
    "POST /api/v1/tags/{name}/dry-run",
    "PUT /api/v1/segments/{name}",
    "POST /api/v1/segments/preview",
    # a journey's graph (every `next` names a node, one kind of wait per node) is checked by its model
    "PUT /api/v1/journeys/{name}",
    # only a service notice may be urgent
    "PUT /api/v1/templates/{name}",
}
# SDK batches: the collector answers 200 to a batch holding malformed events and quarantines each of them
# (the answer and `collector quarantine` name them), so one bad event never loses the batch an SDK would
# otherwise resend forever. Every other check applies; "invalid input refused with 4xx" cannot.
QUARANTINING_BATCHES = {"POST /api/v1/events", "POST /batch/"}
# Computation and dry runs over the whole demo take seconds, more on a loaded machine.
TIMEOUT_SECONDS = 120
# schemathesis's `ignored_auth` check resends a signed-in request without its credential through the
# schema's own transport, which for a document read from a file cannot reach the in-process app. The same
# proof is tests/unit/api/test_route_permissions.py: every route, without a credential, with a forged one and
# without its permission.

schema = schemathesis.openapi.from_path(CONTRACT)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
# A request the schema allows may still be refused by a rule the schema cannot state (a bucket's labels
# against its edges, a tag that reads an unknown indicator): a documented 400 naming the fault, not a 422.
schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
    expected_statuses=["2xx", "400", "401", "403", "404", "409"]
)
for _label in EXCLUDED:
    _method, _path = _label.split(" ", 1)
    schema = schema.exclude(method=_method, path=_path)
schema.config.operations = OperationsConfig(
    operations=[
        OperationConfig.from_dict({"include-name": DEEP_BODIES, "phases": {"coverage": {"enabled": False}}})
    ]
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """The full API over a 120-customer demo brokerage in a data directory of this run only, and its
    container."""
    from touchpoint.api.app import create_app
    from touchpoint.bootstrap import build
    from touchpoint.config import load_settings
    from touchpoint.core.clock import VirtualClock
    from touchpoint.demo import DemoParams
    from touchpoint.demo.runs import ensure_demo, ensure_demo_tags
    from touchpoint.governance import SYSTEM

    home = tmp_path_factory.mktemp("fuzz-home")
    # SQLite inside the throw-away directory, whatever TOUCHPOINT_DATABASE_URL says: never a shared database.
    # Keys off, so that generated batches reach the decoders (admission is tested in collector/test_keys.py).
    container = build(
        load_settings(home, database_url=f"sqlite:///{home / 'ops.db'}", collector_require_keys=False),
        clock=VirtualClock(datetime(2026, 3, 31, 1, tzinfo=UTC)),
    )
    params = DemoParams(customers=120, days=10, seed=5, end_date=date(2026, 3, 31))
    ensure_demo(env=container, principal=SYSTEM, params=params)
    ensure_demo_tags(env=container, registry=container.registry, principal=SYSTEM)
    yield create_app(container), container
    _stop_background_jobs()
    container.close()


def _stop_background_jobs() -> None:
    """Cancel the background jobs the fuzzer started and wait for them: a daemon thread still inside DuckDB
    when the interpreter exits aborts the process."""
    from touchpoint.core.jobs import JOBS

    names = set(JOBS.cancel_all())
    for thread in threading.enumerate():
        if thread.name in names:
            thread.join(timeout=60)


@pytest.fixture(scope="module")
def sign_in(world: tuple[Any, Any]) -> Any:
    """Headers of a fresh API token of an administrator, one per request: a generated request may revoke the
    token it was sent with (`DELETE /auth/tokens/{id}`), and must not sign the rest of the run out. The
    administrator's name is one a generated username will not hit."""
    from support import signed_token

    _, container = world
    username = "fuzz.admin.7f3a9c2e4b1d"
    signed_token(container, username=username)

    def headers() -> dict[str, str]:
        from touchpoint.governance import SYSTEM
        from touchpoint.governance.accounts import create_token
        from touchpoint.governance.model import TokenCreate

        token = create_token(container, principal=SYSTEM, username=username, token=TokenCreate(name="fuzz"))
        return {"Authorization": f"Bearer {token.token}"}

    return headers


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_operation_keeps_its_contract(case: Any, world: tuple[Any, Any], sign_in: Any) -> None:
    """Each generated request, sent signed in as an administrator, is answered without a server error and
    as the document says."""
    label = case.operation.label
    relaxed = [positive_data_acceptance] if label in CROSS_FIELD_RULES else []
    if label in QUARANTINING_BATCHES:
        relaxed.append(negative_data_rejection)
    app, _ = world
    case.call_and_validate(
        app=app, headers=sign_in(), excluded_checks=[*relaxed, ignored_auth], timeout=TIMEOUT_SECONDS
    )


@schemathesis.serializer("application/gzip")
def _gzip_json(_context: Any, value: Any) -> bytes:
    """A gzip body (the collector's compressed batches) as an SDK sends it: gzipped JSON."""
    return value if isinstance(value, bytes) else gzip.compress(json.dumps(value).encode())
