"""Indicators, tags, definitions, computation and the customer 360° view over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, UploadFile
from fastapi.responses import PlainTextResponse

from touchpoint.api.days import DayQuery, resolve_day
from touchpoint.api.deps import container, needs, principal
from touchpoint.api.errors import errors
from touchpoint.bootstrap import Container
from touchpoint.governance import Principal
from touchpoint.governance.registry import PlanRead
from touchpoint.indicators import (
    IndicatorCreate,
    IndicatorDef,
    delete_indicator,
    get_indicator,
    known_fields,
    list_indicators,
    save_indicator,
)
from touchpoint.journeys.lineage import used_by
from touchpoint.tags.customer360 import customer_view, search_customers
from touchpoint.tags.definitions_io import (
    apply_import,
    export_yaml,
    parse_definition,
    parse_yaml,
    plan_import,
)
from touchpoint.tags.inspect import catalogue, member_list, tag_detail
from touchpoint.tags.model import (
    CategoryNode,
    ComputeRead,
    ComputeRunRead,
    Customer360Read,
    CustomerHit,
    DefinitionImportRead,
    DefinitionsDocument,
    DefinitionVersion,
    Deleted,
    DryRunRead,
    FieldsRead,
    IndicatorRead,
    PlanStep,
    TagCreate,
    TagDef,
    TagDetailRead,
    TagMembersRead,
    TagUploadRead,
    UsedByRead,
)
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
    IndicatorCreate, Body(description="an indicator definition; the name comes from the path")
]
TagBody = Annotated[TagCreate, Body(description="a tag definition; the name comes from the path")]
Sample = Annotated[int, Query(ge=1, le=1_000_000, description="customers to compute on")]
YamlText = Annotated[str, Body(media_type="application/yaml", description="a definitions YAML document")]
# The body is YAML text, read by parse_yaml; the document says what that text holds, so that the console and a
# fuzzer know its outline (FastAPI alone would publish a bare string).
YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/yaml": {"schema": DefinitionsDocument.model_json_schema()}},
    }
}


@router.get("/indicators", dependencies=[needs("indicator:read", scoped=True)])
def indicators(c: Deps) -> list[IndicatorDef]:
    """Every indicator definition."""
    return list(list_indicators(env=c).values())


@router.get("/fields", dependencies=[needs("indicator:read", scoped=True)])
def fields(c: Deps) -> FieldsRead:
    """The customer attributes and the events that indicators and rules can name (the console's pickers)."""
    return FieldsRead.model_validate(known_fields(c))


@router.get("/indicators/{name}", dependencies=[needs("indicator:read", scoped=True)], responses=errors(404))
def indicator(name: str, c: Deps) -> IndicatorRead:
    """One indicator and the tags that read it."""
    body = get_indicator(env=c, name=name).model_dump()
    return IndicatorRead.model_validate(body | {"read_by": indicator_dependents(env=c, indicator=name)})


@router.get(
    "/indicators/{name}/used-by", dependencies=[needs("indicator:read", scoped=True)], responses=errors(404)
)
def indicator_used_by(name: str, c: Deps) -> UsedByRead:
    """The saved segments and journeys whose rules read this indicator (directly or through a segment)."""
    get_indicator(env=c, name=name)
    return UsedByRead.model_validate(used_by(env=c, kind="indicator", name=name))


@router.put("/indicators/{name}", dependencies=[needs("indicator:write")], responses=errors(400))
def put_indicator(name: str, body: IndicatorBody, c: Deps, caller: Caller) -> DefinitionVersion:
    """Create or update an indicator (a new version)."""
    definition = parse_definition(IndicatorDef, body.named(name))
    version = save_indicator(env=c, principal=caller, definition=definition)
    return DefinitionVersion(name=name, version=version)


@router.delete("/indicators/{name}", dependencies=[needs("indicator:write")], responses=errors(404, 409))
def remove_indicator(name: str, c: Deps, caller: Caller) -> Deleted:
    """Delete an indicator no tag reads."""
    dependents = indicator_dependents(env=c, indicator=name)
    delete_indicator(env=c, principal=caller, name=name, dependents=dependents)
    return Deleted(deleted=name)


@router.post("/indicators/{name}/dry-run", dependencies=[needs("indicator:read")], responses=errors(400, 404))
def indicator_dry_run(name: str, body: IndicatorBody, c: Deps, sample: Sample = 1000) -> DryRunRead:
    """Check an indicator and compute it on a random sample of customers, without saving it."""
    definition = parse_definition(IndicatorDef, body.named(name))
    return DryRunRead.model_validate(dry_run(env=c, indicators=[definition], sample=sample))


@router.get("/tags", dependencies=[needs("tag:read", scoped=True)], response_model_exclude_none=True)
def tags(c: Deps) -> list[TagDef]:
    """Every tag definition."""
    return list(list_tags(env=c).values())


@router.get("/tags/tree", dependencies=[needs("tag:read", scoped=True)])
def tag_tree(c: Deps) -> list[CategoryNode]:
    """The catalogue as a category tree."""
    return [CategoryNode.model_validate(node) for node in catalogue(env=c)]


@router.get("/tags/{name}", dependencies=[needs("tag:read", scoped=True)], responses=errors(404))
def tag(name: str, c: Deps, caller: Caller) -> TagDetailRead:
    """Coverage, distribution, history, lineage and model metrics of one tag (of the caller's customers
    only, for a user limited to branches)."""
    return TagDetailRead.model_validate(tag_detail(env=c, name=name, scope=caller.scope))


@router.get("/tags/{name}/used-by", dependencies=[needs("tag:read", scoped=True)], responses=errors(404))
def tag_used_by(name: str, c: Deps) -> UsedByRead:
    """The saved segments and journeys that read this tag (directly or through a segment): the downstream
    half of its lineage."""
    get_tag(env=c, name=name)
    return UsedByRead.model_validate(used_by(env=c, kind="tag", name=name))


@router.put("/tags/{name}", dependencies=[needs("tag:write")], responses=errors(400))
def put_tag(name: str, body: TagBody, c: Deps, caller: Caller) -> DefinitionVersion:
    """Create or update a tag after checking what it reads."""
    definition = parse_definition(TagDef, body.named(name))
    return DefinitionVersion(name=name, version=save_tag(env=c, principal=caller, tag=definition))


@router.post("/tags/{name}/dry-run", dependencies=[needs("tag:read")], responses=errors(400, 404))
def tag_dry_run(name: str, body: TagBody, c: Deps, sample: Sample = 1000) -> DryRunRead:
    """Check a tag and evaluate it on a random sample of customers, without saving it."""
    definition = parse_definition(TagDef, body.named(name))
    return DryRunRead.model_validate(dry_run(env=c, tags=[definition], sample=sample))


@router.get("/tags/{name}/members", dependencies=[needs("tag:read", scoped=True)], responses=errors(400, 404))
def tag_members(
    name: str,
    value: str,
    c: Deps,
    caller: Caller,
    day: DayQuery = None,
    limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
) -> TagMembersRead:
    """How many customers carry a tag value on a date (default: the latest), and the first of them."""
    chosen = resolve_day(c, day)
    return TagMembersRead.model_validate(
        member_list(env=c, principal=caller, name=name, value=value, day=chosen, limit=limit)
    )


@router.post("/tags/{name}/upload", dependencies=[needs("tag:write")], responses=errors(400, 404))
async def tag_upload(name: str, file: UploadFile, c: Deps, caller: Caller) -> TagUploadRead:
    """Replace an imported tag's list from a CSV with columns customer_no,value."""
    rows = read_imported_csv(await file.read())
    return TagUploadRead.model_validate(upload_imported(env=c, principal=caller, tag=name, rows=rows))


@router.delete("/tags/{name}", dependencies=[needs("tag:write")], responses=errors(404, 409))
def remove_tag(name: str, c: Deps, caller: Caller) -> Deleted:
    """Delete a tag."""
    get_tag(env=c, name=name)
    delete_tag(env=c, principal=caller, name=name)
    return Deleted(deleted=name)


# Definitions and the computation log hold no customer data: a user limited to branches reads them too.
@router.get(
    "/definitions/export",
    dependencies=[needs("tag:read", scoped=True)],
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def definitions_export(c: Deps) -> str:
    """Every indicator and tag as YAML."""
    return export_yaml(env=c)


@router.post(
    "/definitions/import",
    dependencies=[needs("definition:apply")],
    responses=errors(400),
    openapi_extra=YAML_BODY,
)
def definitions_import(
    c: Deps,
    caller: Caller,
    text: YamlText,
    apply: Annotated[bool, Query(description="write the changes; otherwise only the plan")] = False,
) -> DefinitionImportRead:
    """The plan of what an import changes; with apply=true, the import itself."""
    if not apply:
        return DefinitionImportRead(applied=False, plan=_steps(plan_import(registry=c.registry, text=text)))
    done = apply_import(registry=c.registry, principal=caller, text=text)
    return DefinitionImportRead(
        applied=done.applied, plan=_steps(done), pending_approval=done.pending_approval
    )


def _steps(plan: PlanRead) -> list[PlanStep]:
    return [PlanStep(kind=i.kind, name=i.name, action=i.action) for i in plan.items]


@router.post(
    "/definitions/dry-run",
    dependencies=[needs("tag:read")],
    responses=errors(400, 404),
    openapi_extra=YAML_BODY,
)
def definitions_dry_run(c: Deps, text: YamlText, sample: Sample = 1000) -> DryRunRead:
    """Check a YAML document's definitions and compute them on a random sample; nothing is written."""
    indicators, tags = parse_yaml(text)
    return DryRunRead.model_validate(dry_run(env=c, indicators=indicators, tags=tags, sample=sample))


@router.post("/compute", dependencies=[needs("compute:run")], responses=errors(400, 404, 409))
def compute_date(
    c: Deps,
    caller: Caller,
    day: DayQuery = None,
    force: Annotated[bool, Query(description="store it even if missing inputs move many tags")] = False,
) -> ComputeRead:
    """Compute every indicator and tag for a business date (default: the newest date with data)."""
    business_date = resolve_day(c, day) or latest_data_date(env=c)
    result = compute(
        env=c, principal=caller, day=business_date, force=force, range_rows=c.settings.compute_range_rows
    )
    return ComputeRead.model_validate(result)


@router.get("/compute/runs", dependencies=[needs("indicator:read", scoped=True)])
def compute_runs(c: Deps, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[ComputeRunRead]:
    """Recent computation runs, newest first (a failed run carries its error)."""
    return [ComputeRunRead.model_validate(run) for run in recent_compute_runs(env=c, limit=limit)]


@router.get("/customers", dependencies=[needs("customer:read", scoped=True)])
def customers(
    c: Deps,
    caller: Caller,
    q: Annotated[str, Query(min_length=1, max_length=64, description="客户号、手机号后四位或姓名")],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[CustomerHit]:
    """Find customers by customer number (prefix), phone (last 4 digits or `138****5678`) or name, within
    the caller's scope, masked as the caller may see them."""
    return [
        CustomerHit.model_validate(h) for h in search_customers(env=c, principal=caller, text=q, limit=limit)
    ]


@router.get(
    "/customers/{customer_no}", dependencies=[needs("customer:read", scoped=True)], responses=errors(404)
)
def customer(customer_no: str, c: Deps, caller: Caller) -> Customer360Read:
    """The customer 360° view."""
    return Customer360Read.model_validate(customer_view(env=c, principal=caller, customer_no=customer_no))
