"""A definition is its request body plus the name from the path: nothing stored, refused or published moved.

`_Old.IndicatorDef` and `_Old.TagDef` are frozen copies of the definitions as they were when each repeated
every field of its request body (`IndicatorCreate`, `TagCreate`), and `_old_body` rebuilds those bodies from
them. Every demo definition (the default library) and a set of faulty variants of each go through both the old
and the current shapes: the JSON the registry stores and the YAML export writes must be the same bytes, and
the same inputs must be refused with the same errors in the same order. A change to a definition that is meant
fails here too; update the frozen copy with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic import ValidationError as PydanticError

from touchpoint.indicators.formula import formula_inputs
from touchpoint.indicators.model import (
    NAME_PATTERN,
    NEEDS_COLUMN,
    Aggregation,
    Filter,
    IndicatorCreate,
    IndicatorDef,
    Source,
    Window,
)
from touchpoint.tags.definitions_io import default_library, parse_definition
from touchpoint.tags.model import Bucket, ModelSpec, RuleCase, TagCreate, TagDef, TagKind


class _Old:
    """The old definitions, under their own names (pydantic names the class in some of its errors)."""

    class IndicatorDef(BaseModel):
        """One indicator: source, aggregation, filters, window, unit."""

        model_config = ConfigDict(extra="forbid")

        name: str = Field(pattern=NAME_PATTERN)
        title: str
        description: str = ""
        category: str = "其他"
        source: Source
        aggregation: Aggregation
        column: str | None = None
        event: str | None = Field(default=None, description="events only: the event name")
        filters: list[Filter] = Field(default_factory=list)
        window: Window | None = Field(default=None, description="every source but derived needs one")
        formula: str | None = Field(
            default=None, description="derived only: arithmetic over other indicators, e.g. `a / b`"
        )
        unit: str = ""

        @model_validator(mode="after")
        def _consistent(self) -> _Old.IndicatorDef:
            if self.aggregation in NEEDS_COLUMN and self.column is None:
                raise ValueError(f"aggregation {self.aggregation} needs a column")
            if self.event is not None and self.source != "events":
                raise ValueError("event applies to source events only")
            if (self.source == "derived") != (self.aggregation == "formula"):
                raise ValueError("a derived indicator, and only it, has aggregation formula")
            if self.source == "derived":
                return self._derived_consistent()
            if self.window is None:
                raise ValueError(f"a {self.source} indicator needs a window")
            if self.formula is not None:
                raise ValueError("formula applies to derived indicators only")
            if self.source == "customers" and self.window.kind != "snapshot":
                raise ValueError("customers indicators read the snapshot: window kind snapshot")
            if any(f.property for f in self.filters) and self.source != "events":
                raise ValueError("property filters apply to events only")
            return self

        def _derived_consistent(self) -> _Old.IndicatorDef:
            if not self.formula:
                raise ValueError("a derived indicator needs a formula")
            if self.window is not None or self.filters or self.event or self.column:
                raise ValueError(
                    "a derived indicator has a formula only (no window, column, event or filters)"
                )
            try:
                inputs = formula_inputs(self.formula)
            except Exception as exc:
                raise ValueError(str(exc)) from None
            if self.name in inputs:
                raise ValueError(f"formula cycle {self.name} → {self.name}")
            return self

    class TagDef(BaseModel):
        """One tag of the catalogue."""

        model_config = ConfigDict(extra="forbid")

        name: str = Field(pattern=NAME_PATTERN)
        title: str
        category: str = Field(description="path in the category tree, e.g. 资产/资产等级")
        kind: TagKind
        description: str = ""
        owner: str = "system"
        schedule: str = "daily"
        sensitive: bool = False
        params: dict[str, float | int | str] = Field(default_factory=dict)
        rules: list[RuleCase] | None = None
        default: str | None = None
        bucket: Bucket | None = None
        model: ModelSpec | None = None
        values: list[str] | None = Field(default=None, description="the values an imported tag may take")

        @model_validator(mode="after")
        def _kind_has_its_part(self) -> _Old.TagDef:
            needed = {"rule": self.rules, "bucket": self.bucket, "model": self.model, "imported": True}[
                self.kind
            ]
            if not needed:
                raise ValueError(f"a {self.kind} tag needs its {self.kind} section")
            return self


class _OldBody(BaseModel):
    """What the old request bodies shared besides their fields: extra keys refused, and `named`."""

    model_config = ConfigDict(extra="forbid")

    def named(self, name: str) -> dict[str, Any]:
        """The definition's fields with the path's name, as the old bodies gave them."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True) | {"name": name}


def _old_body(definition: type[BaseModel], title: str) -> type[_OldBody]:
    """The old request body: the old definition's fields but the name, without its cross-field checks."""
    fields: dict[str, Any] = {
        key: (info.annotation, info) for key, info in definition.model_fields.items() if key != "name"
    }
    return create_model(title, __base__=_OldBody, **fields)


_OLD_INDICATOR_BODY = _old_body(_Old.IndicatorDef, "IndicatorCreate")
_OLD_TAG_BODY = _old_body(_Old.TagDef, "TagCreate")
_LIBRARY = yaml.safe_load(default_library())
# (old definition, current definition, old body, current body, the library's entries)
Current = type[IndicatorDef] | type[TagDef]
Body = type[IndicatorCreate] | type[TagCreate]
Shape = tuple[type[BaseModel], Current, type[_OldBody], Body, list[dict[str, Any]]]
SHAPES: dict[str, Shape] = {
    "indicator": (
        _Old.IndicatorDef,
        IndicatorDef,
        _OLD_INDICATOR_BODY,
        IndicatorCreate,
        _LIBRARY["indicators"],
    ),
    "tag": (_Old.TagDef, TagDef, _OLD_TAG_BODY, TagCreate, _LIBRARY["tags"]),
}
# The dumps that are kept or compared: the registry's (tags by alias, without nulls; indicators in full), the
# YAML export's, the definitions-import plan's, and the API's JSON answer.
DUMPS: list[dict[str, Any]] = [
    {"mode": "json", "by_alias": True, "exclude_none": True},
    {"mode": "json", "exclude_none": True},
    {"mode": "json", "exclude_defaults": False},
    {"mode": "json"},
]


def _bytes(model: BaseModel) -> list[str]:
    """Each kept dump as the JSON text it is written as, so that key order counts."""
    dumps = [json.dumps(model.model_dump(**kwargs), ensure_ascii=False) for kwargs in DUMPS]
    return [*dumps, model.model_dump_json(by_alias=True, exclude_none=True)]


def _outcome(model: type[BaseModel], item: Any) -> tuple[str, Any]:
    """What parsing gives: the dumps of the definition, or the errors in the order pydantic lists them."""
    try:
        parsed = model.model_validate(item)
    except PydanticError as exc:
        return "refused", [(e["type"], e["loc"], e["msg"]) for e in exc.errors()]
    return "parsed", _bytes(parsed)


def _variants(entries: list[dict[str, Any]]) -> Iterator[Any]:
    """Each entry, and faulty variants of it: a field left out, null, of the wrong type, or taken from another
    entry (which trips the checks that span fields: a derived source on a windowed indicator, a tag kind
    without its section); an unknown key; a name outside the pattern; not a mapping at all."""
    for index, entry in enumerate(entries):
        other = entries[(index + 7) % len(entries)]
        yield entry
        for key in entry:
            yield {k: v for k, v in entry.items() if k != key}
            yield entry | {key: None}
            yield entry | {key: {"wrong": []}}
            if key in other:
                yield entry | {key: other[key]}
        yield entry | {"extra": 1}
        yield entry | {"name": "Not-A-Name"}
    yield ["not", "a", "mapping"]


@pytest.mark.parametrize("kind", SHAPES)
def test_demo_definitions_dump_to_the_same_bytes(kind: str) -> None:
    old, current, _, _, entries = SHAPES[kind]
    assert len(entries) >= 30
    for entry in entries:
        assert _bytes(current.model_validate(entry)) == _bytes(old.model_validate(entry)), entry["name"]


@pytest.mark.parametrize("kind", SHAPES)
def test_a_body_and_the_path_name_make_the_same_definition(kind: str) -> None:
    old, current, old_body, body, entries = SHAPES[kind]
    for entry in entries:
        fields = {k: v for k, v in entry.items() if k != "name"}
        named = body.model_validate(fields).named(entry["name"])
        assert named == old_body.model_validate(fields).named(entry["name"])
        made = parse_definition(current, named)  # type: ignore[type-var]
        assert _bytes(made) == _bytes(old.model_validate(entry)), entry["name"]


@pytest.mark.parametrize("kind", SHAPES)
def test_faulty_definitions_and_bodies_are_refused_the_same_way(kind: str) -> None:
    old, current, old_body, body, entries = SHAPES[kind]
    refused = 0
    for item in _variants(entries):
        expected = _outcome(old, item)
        assert _outcome(current, item) == expected, item
        refused += expected[0] == "refused"
        without_name = {k: v for k, v in item.items() if k != "name"} if isinstance(item, dict) else item
        assert _outcome(body, without_name) == _outcome(old_body, without_name), item
    assert refused > len(entries) * 5  # the variants do reach the checks


@pytest.mark.parametrize("kind", SHAPES)
def test_the_published_schemas_are_the_same(kind: str) -> None:
    old, current, old_body, body, _ = SHAPES[kind]
    assert json.dumps(current.model_json_schema()) == json.dumps(old.model_json_schema())
    assert list(current.model_fields) == list(old.model_fields)
    assert next(iter(current.model_fields)) == "name"  # as stored and exported
    # The bodies' descriptions are their docstrings; what they accept is the same.
    new, was = body.model_json_schema(), old_body.model_json_schema()
    for part in ("properties", "required", "$defs", "additionalProperties", "title"):
        assert json.dumps(new.get(part)) == json.dumps(was.get(part)), part
