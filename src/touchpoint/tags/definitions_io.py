"""Definitions as YAML: export, a plan of what an import would change, then apply — all or nothing."""

from __future__ import annotations

from importlib import resources
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError as PydanticError

from touchpoint.core.errors import ValidationError
from touchpoint.governance import Principal
from touchpoint.indicators import IndicatorDef, list_indicators, save_indicator
from touchpoint.indicators.validate import check_indicator
from touchpoint.tags.model import DefinitionsDocument, TagDef
from touchpoint.tags.references import check_tag
from touchpoint.tags.service import TagEnv, list_tags, save_tag

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


def plan_import(*, env: TagEnv, text: str) -> list[dict[str, str]]:
    """What importing `text` would do to each definition: create, update or unchanged (nothing is written)."""
    indicators, tags = parse_yaml(text)
    current_indicators = list_indicators(env=env)
    current_tags = list_tags(env=env)
    after = {**current_indicators, **{d.name: d for d in indicators}}
    names = set(after)
    for definition in indicators:
        check_indicator(definition, set(), after)
    for tag in tags:
        check_tag(tag, names)
    plan = [_step("indicator", d.name, current_indicators.get(d.name), d) for d in indicators]
    plan += [_step("tag", t.name, current_tags.get(t.name), t) for t in tags]
    return plan


def _step(kind: str, name: str, current: Any, new: Any) -> dict[str, str]:
    if current is None:
        action = "create"
    elif current.model_dump(mode="json") == new.model_dump(mode="json"):
        action = "unchanged"
    else:
        action = "update"
    return {"kind": kind, "name": name, "action": action}


def apply_import(*, env: TagEnv, principal: Principal, text: str) -> list[dict[str, str]]:
    """Check everything first, then write indicators before the tags that read them."""
    plan = plan_import(env=env, text=text)
    indicators, tags = parse_yaml(text)
    changing = {(s["kind"], s["name"]) for s in plan if s["action"] != "unchanged"}
    for definition in indicators:
        if ("indicator", definition.name) in changing:
            save_indicator(env=env, principal=principal, definition=definition)
    for tag in tags:
        if ("tag", tag.name) in changing:
            save_tag(env=env, principal=principal, tag=tag)
    return plan


def default_library() -> str:
    """The brokerage tag library that ships with Touchpoint, as YAML text."""
    return resources.files("touchpoint.tags").joinpath("library/default.yaml").read_text(encoding="utf-8")
