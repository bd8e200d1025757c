"""The segment rule (人群规则): one JSON tree shared by the API, the CLI, the console and journeys.

Groups `all` / `any` / `not` nest to any depth; leaves select customers by a tag value, an indicator, a
profile attribute, behaviour (an event count within a window), a sequence of events, membership of another
saved segment, or an uploaded list.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from touchpoint.core.durations import duration_pattern, parse_duration

CompareOp = Literal["=", "!=", ">", ">=", "<", "<=", "between"]
PropertyOp = Literal["=", "!=", ">", ">=", "<", "<=", "in", "not_in", "exists"]
WINDOW_PATTERN = duration_pattern(("d", "h", "td"))  # exactly what Window accepts, ten-year bound included
MAX_EXACT_INT = 2**53


class Window:
    """A relative window back from the evaluation time: `7d` days, `12h` hours or `5td` XSHG trading days."""

    def __init__(self, text: str) -> None:
        # The grammar and its ten-year bound are core.durations' (DurationError names the text).
        parsed = parse_duration(text, units=("d", "h", "td"))
        self.n = parsed.n
        self.unit = parsed.unit
        self._span = parsed.span

    def span(self) -> timedelta | None:
        """The length of a day or hour window; None for trading days (it depends on the calendar)."""
        return self._span


class _Leaf(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TagCondition(_Leaf):
    """`{"tag": "asset_tier", "in": [...]}`, or `"not_in"`, or `"exists": true|false`."""

    tag: str
    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None
    exists: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> TagCondition:
        given = [x is not None for x in (self.in_, self.not_in, self.exists)]
        if sum(given) != 1:
            raise ValueError(f"tag {self.tag!r}: give exactly one of in, not_in, exists")
        return self


class IndicatorCondition(_Leaf):
    """`{"indicator": "trade_count_30d", "op": ">=", "value": 5}`; `between` takes [low, high]."""

    indicator: str
    op: CompareOp
    value: float | list[float]

    @model_validator(mode="after")
    def _value_fits(self) -> IndicatorCondition:
        if (self.op == "between") != isinstance(self.value, list):
            raise ValueError(f"indicator {self.indicator!r}: between takes [low, high], other ops one number")
        if isinstance(self.value, list) and len(self.value) != 2:
            raise ValueError(f"indicator {self.indicator!r}: between takes exactly [low, high]")
        return self


class AttributeCondition(_Leaf):
    """`{"attribute": "risk_level", "in": ["C4", "C5"]}`, or an op and a value, or `"exists"`."""

    attribute: str
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    exists: bool | None = None
    op: CompareOp | None = None
    value: Any = None

    @model_validator(mode="after")
    def _one_test(self) -> AttributeCondition:
        given = [x is not None for x in (self.in_, self.not_in, self.exists, self.op)]
        if sum(given) != 1:
            raise ValueError(f"attribute {self.attribute!r}: give exactly one of in, not_in, exists, op")
        if self.op == "between" and not (isinstance(self.value, list) and len(self.value) == 2):
            raise ValueError(f"attribute {self.attribute!r}: between takes [low, high]")
        return self


_SCALAR_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": 1000},
        {"type": "number", "minimum": -MAX_EXACT_INT, "maximum": MAX_EXACT_INT},
        {"type": "boolean"},
    ]
}
# in/not_in take a list, every other operator one value (or null): stated in the schema too, so that a value
# the schema allows is never refused.
_VALUE_FITS_OP: dict[str, Any] = {
    "if": {"properties": {"op": {"enum": ["in", "not_in"]}}, "required": ["op"]},
    "then": {"properties": {"value": {"type": "array"}}, "required": ["value"]},
    "else": {"properties": {"value": {"not": {"type": "array"}}}},
}


def _scalar(value: object) -> str | int | float | bool:
    """One filter value: text, a finite number within ±2**53 (compared as a double) or true/false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        # abs() first: math.isfinite of a 400-digit int would overflow converting it to a float.
        if not (abs(value) <= MAX_EXACT_INT and math.isfinite(value)):
            raise ValueError("numbers are compared as doubles: give a finite number within ±2**53")
        return value
    if isinstance(value, str):
        if len(value) > 1000:
            raise ValueError("text values are at most 1,000 characters")
        return value
    raise ValueError("a filter value is text, a number or true/false (or, for in/not_in, a list of them)")


def _filter_value(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, list):
        if len(value) > 1000:
            raise ValueError("in/not_in take at most 1,000 values")
        return [_scalar(item) for item in value]
    return _scalar(value)


# A property filter's value: a scalar, a list of scalars (in, not_in) or null (exists); never an object.
FilterValue = Annotated[
    Any,
    PlainValidator(_filter_value),
    WithJsonSchema(
        {
            "anyOf": [
                _SCALAR_SCHEMA,
                {"type": "array", "items": _SCALAR_SCHEMA, "maxItems": 1000},
                {"type": "null"},
            ]
        }
    ),
]


class PropertyFilter(_Leaf):
    """A condition on an event property, named exactly (`$os`, `fund.type`: never a JSON path)."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_extra={"allOf": [_VALUE_FITS_OP]}
    )

    property: str = Field(min_length=1, max_length=200)
    op: PropertyOp = "="
    value: FilterValue = None

    @model_validator(mode="after")
    def _list_for_in(self) -> PropertyFilter:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"property {self.property!r}: {self.op} takes a list")
        if self.op not in ("in", "not_in") and isinstance(self.value, list):
            raise ValueError(
                f"property {self.property!r}: {self.op} takes one value (in and not_in take a list)"
            )
        return self


class CountTest(_Leaf):
    """How many matching events: `{"op": ">=", "value": 3}`; `{"op": "=", "value": 0}` means "did not"."""

    op: Literal["=", "!=", ">", ">=", "<", "<="] = ">="
    value: int = Field(default=1, ge=0)

    def holds(self, count: int) -> bool:
        """Whether `count` events pass the test."""
        return {
            "=": count == self.value,
            "!=": count != self.value,
            ">": count > self.value,
            ">=": count >= self.value,
            "<": count < self.value,
            "<=": count <= self.value,
        }[self.op]


class EventCondition(_Leaf):
    """Customers who did `event` (with property filters) a number of times within a window."""

    event: str
    where: list[PropertyFilter] = Field(default_factory=list)
    count: CountTest = Field(default_factory=CountTest)
    within: str = Field(json_schema_extra={"pattern": WINDOW_PATTERN})

    @field_validator("within")
    @classmethod
    def _window(cls, value: str) -> str:
        Window(value)
        return value


class Step(_Leaf):
    """One step of a sequence: an event with property filters."""

    event: str
    where: list[PropertyFilter] = Field(default_factory=list)


class SequenceCondition(_Leaf):
    """Customers who did the steps in order, each within `gap` of the previous, all inside `within`."""

    sequence: list[Step] = Field(min_length=2, max_length=10)
    gap: str = Field(json_schema_extra={"pattern": WINDOW_PATTERN})
    within: str = Field(json_schema_extra={"pattern": WINDOW_PATTERN})

    @field_validator("gap", "within")
    @classmethod
    def _window(cls, value: str) -> str:
        Window(value)
        return value

    @model_validator(mode="after")
    def _gap_in_hours_or_days(self) -> SequenceCondition:
        if Window(self.gap).unit == "td":
            raise ValueError("a sequence gap is in days (d) or hours (h)")
        return self


class SegmentCondition(_Leaf):
    """Members of another saved segment."""

    segment: str


class ListCondition(_Leaf):
    """Customers on an uploaded list."""

    list_: str = Field(alias="list")


class AllGroup(_Leaf):
    """Every part holds."""

    all: list[Rule] = Field(min_length=1)


class AnyGroup(_Leaf):
    """At least one part holds."""

    any: list[Rule] = Field(min_length=1)


class NotGroup(_Leaf):
    """The part does not hold (within the customer base)."""

    not_: Rule = Field(alias="not")


KINDS: dict[str, type[BaseModel]] = {
    "all": AllGroup,
    "any": AnyGroup,
    "not": NotGroup,
    "tag": TagCondition,
    "indicator": IndicatorCondition,
    "attribute": AttributeCondition,
    "event": EventCondition,
    "sequence": SequenceCondition,
    "segment": SegmentCondition,
    "list": ListCondition,
}


def kind_of(value: Any) -> str | None:
    """Which kind of node a JSON object (or a parsed node) is, from its distinguishing key."""
    if isinstance(value, dict):
        return next((key for key in KINDS if key in value), None)
    return next((key for key, model in KINDS.items() if isinstance(value, model)), None)


# Picking the node kind from its key first gives errors about that kind only, not about all ten.
Rule = Annotated[
    Union[  # noqa: UP007 (a recursive alias pydantic resolves by name)
        Annotated[AllGroup, Tag("all")],
        Annotated[AnyGroup, Tag("any")],
        Annotated[NotGroup, Tag("not")],
        Annotated[TagCondition, Tag("tag")],
        Annotated[IndicatorCondition, Tag("indicator")],
        Annotated[AttributeCondition, Tag("attribute")],
        Annotated[EventCondition, Tag("event")],
        Annotated[SequenceCondition, Tag("sequence")],
        Annotated[SegmentCondition, Tag("segment")],
        Annotated[ListCondition, Tag("list")],
    ],
    Discriminator(
        kind_of,
        custom_error_type="unknown_rule_node",
        custom_error_message=f"a rule node has one of the keys {', '.join(KINDS)}",
    ),
]


class SegmentRule(BaseModel):
    """The root of a rule, so that a whole tree validates (and publishes its JSON Schema) as one model."""

    model_config = ConfigDict(extra="forbid")

    rule: Rule


AllGroup.model_rebuild()
AnyGroup.model_rebuild()
NotGroup.model_rebuild()
SegmentRule.model_rebuild()


def parse_rule(body: Any) -> Rule:
    """A rule from its JSON form, or pydantic's ValidationError."""
    return SegmentRule.model_validate({"rule": body}).rule


def rule_schema() -> dict[str, Any]:
    """The published JSON Schema of a rule tree."""
    return SegmentRule.model_json_schema(by_alias=True)


def segment_references(tree: Any) -> set[str]:
    """The saved segments a JSON tree names (a rule's `segment` conditions, a journey's entry, exits and
    splits): every mapping's string `segment` value, at any depth."""
    return references(tree, "segment")


def references(tree: Any, key: str) -> set[str]:
    """Every mapping's string value under `key` in a JSON tree, at any depth (`tag`: the tags a rule or a
    journey names; `indicator`: the indicators)."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get(key), str):
                found.add(node[key])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


# --- The shapes of the segment API (api/routes/segments.py): request bodies and answers. ---


class SegmentCreate(BaseModel):
    """The body of PUT /segments/{name}: a saved segment without its name (which comes from the path)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, description="default: the name")
    description: str = ""
    owner: str | None = Field(default=None, description="default: system")
    kind: Literal["dynamic", "static"] = "dynamic"
    rule: Rule

    def fields(self) -> dict[str, Any]:
        """The segment's fields as JSON, without those left out (so that defaults stay the service's)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)


class SizePoint(BaseModel):
    """A segment's member count on one business date."""

    date: str
    size: int


class SegmentRead(BaseModel):
    """A saved segment: rule, size history, last computation and last error."""

    name: str
    title: str
    description: str
    owner: str
    kind: Literal["dynamic", "static"]
    rule: dict[str, Any] = Field(description="the rule tree (GET /segments/schema)")
    size: int | None = None
    last_computed: str | None = None
    last_error: str | None = None
    retry_at: str | None = None
    history: list[SizePoint] = Field(default_factory=list)


class SegmentDefinitionRead(BaseModel):
    """A saved segment's definition (the list of GET /segments)."""

    name: str
    title: str
    description: str
    owner: str
    kind: Literal["dynamic", "static"]
    rule: dict[str, Any] = Field(description="the rule tree (GET /segments/schema)")


class ListUploadRead(BaseModel):
    """An uploaded list of customer numbers: its id, rows, and the numbers no customer has."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    list_id: str = Field(alias="list", description="the list's id, as a rule's `list` node names it")
    rows: int
    unknown: list[str]


class UploadedListRead(BaseModel):
    """An uploaded list as a rule's list condition picks it (its members are not shown)."""

    model_config = ConfigDict(populate_by_name=True)

    list_id: str = Field(alias="list")
    name: str
    rows: int
    actor: str
    at: str


class SegmentUploadRead(SegmentRead):
    """A static segment made from an uploaded list, refreshed at once."""

    upload: ListUploadRead


class PreviewRead(BaseModel):
    """The live count of an unsaved rule and a masked sample of its members."""

    count: int
    base: int
    at: str
    snapshot_date: str | None
    path: Literal["bitmap", "sql"]
    elapsed_ms: float
    sample: list[str]
