"""Indicators, tags, definitions, computation and the customer 360° view over HTTP."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, UploadFile
from fastapi.responses import PlainTextResponse

from touchpoint.api.deps import container, principal
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal
from touchpoint.indicators import (
    IndicatorDef,
    delete_indicator,
    get_indicator,
    list_indicators,
    save_indicator,
)
from touchpoint.tags.customer360 import customer_view
from touchpoint.tags.definitions_io import (
    apply_import,
    export_yaml,
    parse_definition,
    parse_yaml,
    plan_import,
)
from touchpoint.tags.inspect import catalogue, member_list, tag_detail
from touchpoint.tags.model import TagDef
from touchpoint.tags.service import (
    compute,
    delete_tag,
    dry_run,
    get_tag,
    indicator_dependents,
    latest_data_date,
    list_tags,
    read_imported_csv,
    recent_compute_runs,
    save_tag,
    upload_imported,
)

router = APIRouter(tags=["indicators and tags"])
Deps = Annotated[Container, Depends(container)]
Caller = Annotated[Principal, Depends(principal)]
IndicatorBody = Annotated[
    dict[str, Any],
    Body(description="an indicator definition (IndicatorDef); the name comes from the path"),
]
TagBody = Annotated[
    dict[str, Any], Body(description="a tag definition (TagDef); the name comes from the path")
]
Sample = Annotated[int, Query(ge=1, le=1_000_000, description="customers to compute on")]


@router.get("/indicators")
def indicators(c: Deps) -> list[dict[str, Any]]:
    """Every indicator definition."""
    return [d.model_dump(mode="json") for d in list_indicators(env=c.indicator_env).values()]


@router.get("/indicators/{name}")
def indicator(name: str, c: Deps) -> dict[str, Any]:
    """One indicator and the tags that read it."""
    body = get_indicator(env=c.indicator_env, name=name).model_dump(mode="json")
    return body | {"read_by": indicator_dependents(env=c.tag_env, indicator=name)}


@router.put("/indicators/{name}")
def put_indicator(name: str, body: IndicatorBody, c: Deps, caller: Caller) -> dict[str, Any]:
    """Create or update an indicator (a new version)."""
    definition = parse_definition(IndicatorDef, body | {"name": name})
    version = save_indicator(env=c.indicator_env, principal=caller, definition=definition)
    return {"name": name, "version": version}


@router.delete("/indicators/{name}")
def remove_indicator(name: str, c: Deps, caller: Caller) -> dict[str, Any]:
    """Delete an indicator no tag reads."""
    dependents = indicator_dependents(env=c.tag_env, indicator=name)
    delete_indicator(env=c.indicator_env, principal=caller, name=name, dependents=dependents)
    return {"deleted": name}


@router.post("/indicators/{name}/dry-run")
def indicator_dry_run(name: str, body: IndicatorBody, c: Deps, sample: Sample = 1000) -> dict[str, Any]:
    """Check an indicator and compute it on a random sample of customers, without saving it."""
    definition = parse_definition(IndicatorDef, body | {"name": name})
    return dry_run(env=c.tag_env, indicators=[definition], sample=sample)


@router.get("/tags")
def tags(c: Deps) -> list[dict[str, Any]]:
    """Every tag definition."""
    return [
        t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in list_tags(env=c.tag_env).values()
    ]


@router.get("/tags/tree")
def tag_tree(c: Deps) -> list[dict[str, Any]]:
    """The catalogue as a category tree."""
    return catalogue(env=c.tag_env)


@router.get("/tags/{name}")
def tag(name: str, c: Deps) -> dict[str, Any]:
    """Coverage, distribution, history, lineage and model metrics of one tag."""
    return tag_detail(env=c.tag_env, name=name)


@router.put("/tags/{name}")
def put_tag(name: str, body: TagBody, c: Deps, caller: Caller) -> dict[str, Any]:
    """Create or update a tag after checking what it reads."""
    definition = parse_definition(TagDef, body | {"name": name})
    return {"name": name, "version": save_tag(env=c.tag_env, principal=caller, tag=definition)}


@router.post("/tags/{name}/dry-run")
def tag_dry_run(name: str, body: TagBody, c: Deps, sample: Sample = 1000) -> dict[str, Any]:
    """Check a tag and evaluate it on a random sample of customers, without saving it."""
    definition = parse_definition(TagDef, body | {"name": name})
    return dry_run(env=c.tag_env, tags=[definition], sample=sample)


@router.get("/tags/{name}/members")
def tag_members(
    name: str,
    value: str,
    c: Deps,
    day: Annotated[date | None, Query(alias="date")] = None,
    limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
) -> dict[str, Any]:
    """How many customers carry a tag value on a date (default: the latest), and the first of them."""
    return member_list(env=c.tag_env, name=name, value=value, day=day, limit=limit)


@router.post("/tags/{name}/upload")
async def tag_upload(name: str, file: UploadFile, c: Deps, caller: Caller) -> dict[str, Any]:
    """Replace an imported tag's list from a CSV with columns customer_no,value."""
    rows = read_imported_csv(await file.read())
    return upload_imported(env=c.tag_env, principal=caller, tag=name, rows=rows)


@router.delete("/tags/{name}")
def remove_tag(name: str, c: Deps, caller: Caller) -> dict[str, Any]:
    """Delete a tag."""
    get_tag(env=c.tag_env, name=name)
    delete_tag(env=c.tag_env, principal=caller, name=name)
    return {"deleted": name}


@router.get("/definitions/export", response_class=PlainTextResponse)
def definitions_export(c: Deps) -> str:
    """Every indicator and tag as YAML."""
    return export_yaml(env=c.tag_env)


@router.post("/definitions/import")
def definitions_import(
    c: Deps,
    caller: Caller,
    text: Annotated[str, Body(media_type="application/yaml", description="a definitions YAML document")],
    apply: Annotated[bool, Query(description="write the changes; otherwise only the plan")] = False,
) -> dict[str, Any]:
    """The plan of what an import changes; with apply=true, the import itself."""
    plan = (
        apply_import(env=c.tag_env, principal=caller, text=text)
        if apply
        else plan_import(env=c.tag_env, text=text)
    )
    return {"applied": apply, "plan": plan}


@router.post("/definitions/dry-run")
def definitions_dry_run(
    c: Deps,
    text: Annotated[str, Body(media_type="application/yaml", description="a definitions YAML document")],
    sample: Sample = 1000,
) -> dict[str, Any]:
    """Check a YAML document's definitions and compute them on a random sample; nothing is written."""
    indicators, tags = parse_yaml(text)
    return dry_run(env=c.tag_env, indicators=indicators, tags=tags, sample=sample)


@router.post("/compute")
def compute_date(
    c: Deps,
    caller: Caller,
    day: Annotated[date | None, Query(alias="date")] = None,
    force: Annotated[bool, Query(description="store it even if missing inputs move many tags")] = False,
) -> dict[str, Any]:
    """Compute every indicator and tag for a business date (default: the newest date with data)."""
    business_date = day or latest_data_date(env=c.tag_env)
    return compute(env=c.tag_env, principal=caller, day=business_date, force=force)


@router.get("/compute/runs")
def compute_runs(c: Deps, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
    """Recent computation runs, newest first (a failed run carries its error)."""
    return recent_compute_runs(env=c.tag_env, limit=limit)


@router.get("/customers/{customer_no}")
def customer(customer_no: str, c: Deps, caller: Caller) -> dict[str, Any]:
    """The customer 360° view."""
    return customer_view(env=c.tag_env, principal=caller, customer_no=customer_no)
