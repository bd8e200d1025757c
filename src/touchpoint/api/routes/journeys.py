"""Journeys over HTTP: the definition schema, saving and reading versions, the lifecycle, entry by API call,
statistics, and the runs of a customer — everything the console's canvas needs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from touchpoint.api.deps import container, principal
from touchpoint.bootstrap import Container
from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.journeys.model import journey_schema
from touchpoint.journeys.runtime import admit
from touchpoint.journeys.service import (
    customer_runs,
    get_journey,
    list_journeys,
    parse_journey,
    publish,
    resume_run,
    save_journey,
    set_status,
    statistics,
    stop_run,
    stuck,
)

router = APIRouter(tags=["journeys"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
STATUSES = {"pause": "paused", "resume": "live", "stop": "stopped", "archive": "archived"}


class PublishRequest(BaseModel):
    """What happens to runs on older versions: keep them, move them (old node → new node), or end them."""

    model_config = ConfigDict(extra="forbid")

    in_flight: Literal["keep", "move", "end"] = "keep"
    node_map: dict[str, str] = Field(default_factory=dict)


class EnterRequest(BaseModel):
    """Customers to admit, with the entry payload."""

    model_config = ConfigDict(extra="forbid")

    customers: list[str] = Field(min_length=1, max_length=10_000)
    payload: dict[str, Any] = Field(default_factory=dict)


@router.get("/journeys/schema")
def schema() -> dict[str, Any]:
    """The JSON Schema of a journey definition."""
    return journey_schema()


@router.get("/journeys")
def journeys(c: Deps) -> list[dict[str, Any]]:
    """Every journey with its status and versions."""
    return list_journeys(env=c.journey_env)


@router.put("/journeys/{name}")
def save(name: str, c: Deps, caller: Caller, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Save the definition as the next version (validated; a draft until published)."""
    journey = parse_journey({**body, "name": name})
    return {"name": name, "version": save_journey(env=c.journey_env, principal=caller, journey=journey)}


@router.get("/journeys/stuck")
def stuck_runs(c: Deps) -> list[dict[str, Any]]:
    """Active runs past their wake-at that no worker took."""
    return stuck(env=c.journey_env)


@router.get("/journeys/{name}")
def show(name: str, c: Deps, version: int | None = None) -> dict[str, Any]:
    """A journey's definition: the newest version, or `?version=N`."""
    return get_journey(env=c.journey_env, name=name, version=version).model_dump(mode="json")


@router.post("/journeys/{name}/publish")
def publish_route(name: str, c: Deps, caller: Caller, body: PublishRequest | None = None) -> dict[str, Any]:
    """Make the newest saved version live."""
    chosen = body or PublishRequest()
    return publish(
        env=c.journey_env, principal=caller, name=name, in_flight=chosen.in_flight, node_map=chosen.node_map
    )


@router.post("/journeys/{name}/enter")
def enter(name: str, c: Deps, body: EnterRequest) -> dict[str, Any]:
    """Admit customers (an API-entry journey); re-entry, caps and hold-out apply."""
    return admit(
        env=c.journey_env,
        name=name,
        customers=body.customers,
        payloads=dict.fromkeys(body.customers, body.payload),
    )


@router.post("/journeys/{name}/{action}")
def lifecycle(name: str, action: str, c: Deps, caller: Caller) -> dict[str, Any]:
    """`pause`, `resume`, `stop` or `archive`."""
    if action not in STATUSES:
        raise ValidationError(f"unknown action {action!r}: choose {', '.join(STATUSES)} (or publish, enter)")
    return set_status(env=c.journey_env, principal=caller, name=name, to=STATUSES[action])


@router.get("/journeys/{name}/stats")
def stats(name: str, c: Deps) -> dict[str, Any]:
    """Per-node statistics and goal conversion of treated runs and the hold-out."""
    return statistics(env=c.journey_env, name=name)


@router.get("/customers/{customer_no}/journeys")
def runs_of(customer_no: str, c: Deps) -> list[dict[str, Any]]:
    """The customer's runs: where each is, its steps, and what it waits for."""
    return customer_runs(env=c.journey_env, customer_no=customer_no)


@router.post("/journey-runs/{run_id}/{action}")
def run_action(run_id: str, action: str, c: Deps, caller: Caller) -> dict[str, Any]:
    """`resume` (due now) or `stop` one run."""
    if action == "stop":
        return stop_run(env=c.journey_env, principal=caller, run_id=run_id)
    if action == "resume":
        return resume_run(env=c.journey_env, principal=caller, run_id=run_id)
    raise ValidationError(f"unknown run action {action!r}: choose resume or stop")
