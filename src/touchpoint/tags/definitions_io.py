"""A definitions file (indicators and tags, the tag library's format) as YAML: export, a plan of what an
import would change, then apply through the definitions registry — all or nothing."""

from __future__ import annotations

from importlib import resources
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError as PydanticError

from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.governance.registry import ApplyRead, PlanRead, Registry
from touchpoint.indicators import IndicatorDef, list_indicators
from touchpoint.tags.model import DefinitionsDocument, TagDef
from touchpoint.tags.service import TagEnv, list_tags

T = TypeVar("T", IndicatorDef, TagDef)


def export_yaml(*, env: TagEnv) -> str:
    """Every current indicator and tag as one YAML document."""
    document = {
        "indicators": [
            d.model_dump(mode="json", exclude_none=True) for d in list_indicators(env=env).values()
        ],
        "tags": [
            t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in list_tags(env=env).values()
        ],
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def parse_yaml(text: str) -> tuple[list[IndicatorDef], list[TagDef]]:
    """Parse and validate a definitions document, naming the first faulty entry."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"not valid YAML: {exc}") from exc
    shape = "a definitions file is a mapping with `indicators` and `tags` lists of mappings"
    try:  # the outline first: `indicators: 5` or an unknown key is the document's fault, said as such
        outline = DefinitionsDocument.model_validate(document)
    except PydanticError as exc:
        raise ValidationError(f"{shape}: {_listed_problems(exc)}") from None
    indicators = [_parse(IndicatorDef, item, "indicator") for item in outline.indicators or []]
    tags = [_parse(TagDef, item, "tag") for item in outline.tags or []]
    return indicators, tags


def parse_definition(model: type[T], item: Any) -> T:
    """One indicator or tag from a mapping, or ValidationError naming the entry and its faults."""
    parsed: T = _parse(model, item, "indicator" if model is IndicatorDef else "tag")
    return parsed


def _parse(model: Any, item: Any, kind: str) -> Any:
    name = item.get("name", "?") if isinstance(item, dict) else "?"
    try:
        return model.model_validate(item)
    except PydanticError as exc:
        raise ValidationError(f"{kind} {name}: {_listed_problems(exc)}") from None


def _listed_problems(exc: PydanticError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])


def library_bundle(text: str) -> dict[str, dict[str, Any]]:
    """A definitions file's indicators and tags as registry bodies by kind and name (each entry checked)."""
    indicators, tags = parse_yaml(text)
    return {
        "indicator": {d.name: d.model_dump(mode="json", exclude_defaults=False) for d in indicators},
        "tag": {t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tags},
    }


def plan_import(*, registry: Registry, text: str) -> PlanRead:
    """What importing `text` would do to each definition it holds (nothing is written)."""
    plan = registry.plan(library_bundle(text))
    return PlanRead(items=[i for i in plan.items if i.action != "absent"], changes=plan.changes)


def apply_import(*, registry: Registry, principal: Principal, text: str) -> ApplyRead:
    """Apply a definitions file through the registry: every change in one transaction, indicators before
    the tags that read them — or held in one request when `definitions.apply` needs approval."""
    done = registry.apply(principal, library_bundle(text))
    return done.model_copy(update={"items": [i for i in done.items if i.action != "absent"]})


def default_library() -> str:
    """The brokerage tag library that ships with Touchpoint, as YAML text."""
    return resources.files("touchpoint.tags").joinpath("library/default.yaml").read_text(encoding="utf-8")
