"""Tag definitions (标签): rule, bucket, model and imported tags in a category tree."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from touchpoint.governance.approvals import ApprovalRead
from touchpoint.indicators.model import IndicatorDef, Named

CompareOp = Literal["=", "!=", ">", ">=", "<", "<=", "in", "not_in", "between", "exists"]


class ParamRef(BaseModel):
    """A threshold taken from the tag's (or the library's) parameters instead of a literal."""

    model_config = ConfigDict(extra="forbid")

    param: str


class Compare(BaseModel):
    """`indicator` or `attribute` compared with a value (which may be a parameter reference)."""

    model_config = ConfigDict(extra="forbid")

    indicator: str | None = None
    attribute: str | None = None
    op: CompareOp
    value: Any = None

    @model_validator(mode="after")
    def _one_target(self) -> Compare:
        if (self.indicator is None) == (self.attribute is None):
            raise ValueError("a condition names exactly one of indicator or attribute")
        if self.op in ("in", "not_in", "between") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op} needs a list value")
        return self


class AllOf(BaseModel):
    """Every condition holds."""

    model_config = ConfigDict(extra="forbid")

    all: list[Condition]


class AnyOf(BaseModel):
    """At least one condition holds."""

    model_config = ConfigDict(extra="forbid")

    any: list[Condition]


class NotOf(BaseModel):
    """The condition does not hold."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    not_: Condition = Field(alias="not")


Condition = Union[AllOf, AnyOf, NotOf, Compare]  # noqa: UP007 (a recursive alias pydantic resolves by name)


class RuleCase(BaseModel):
    """`value` when `when` holds; cases are tried in order and the first match wins."""

    model_config = ConfigDict(extra="forbid")

    when: Condition
    value: str


class Bucket(BaseModel):
    """Labels for ranges of one numeric indicator: labels[i] covers [edges[i-1], edges[i])."""

    model_config = ConfigDict(extra="forbid")

    indicator: str
    edges: list[float | ParamRef]
    labels: list[str]

    @model_validator(mode="after")
    def _labels_fit(self) -> Bucket:
        if len(self.labels) != len(self.edges) + 1:
            raise ValueError(f"{len(self.edges)} edges need {len(self.edges) + 1} labels")
        return self


class ModelSpec(BaseModel):
    """A scikit-learn model of `label` from indicator features, scored into bands by probability."""

    model_config = ConfigDict(extra="forbid")

    label: Condition
    features: list[str] = Field(min_length=1)
    bands: list[str] = Field(min_length=2)
    cutoffs: list[float]
    algorithm: Literal["gradient_boosting", "logistic_regression"] = "gradient_boosting"

    @model_validator(mode="after")
    def _bands_fit(self) -> ModelSpec:
        if len(self.bands) != len(self.cutoffs) + 1 or self.cutoffs != sorted(self.cutoffs):
            raise ValueError("bands need one more entry than the ascending cutoffs")
        return self


TagKind = Literal["rule", "bucket", "model", "imported"]


class TagCreate(BaseModel):
    """The body of PUT /tags/{name} and its dry run: a tag definition without its name.

    Each field is checked here (a fault is a 422); the checks that span fields, and the name, belong to
    TagDef, built from the body and the path (a fault is a 400 naming it).
    """

    model_config = ConfigDict(extra="forbid")

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

    def named(self, name: str) -> dict[str, Any]:
        """The full definition's fields, with the name from the path (validated by the caller)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True) | {"name": name}


class TagDef(TagCreate, Named):
    """One tag of the catalogue."""

    @model_validator(mode="after")
    def _kind_has_its_part(self) -> TagDef:
        needed = {"rule": self.rules, "bucket": self.bucket, "model": self.model, "imported": True}[self.kind]
        if not needed:
            raise ValueError(f"a {self.kind} tag needs its {self.kind} section")
        return self

    def possible_values(self) -> list[str]:
        """Every value the tag can take, in catalogue order."""
        if self.kind == "rule":
            found = [case.value for case in self.rules or []] + ([self.default] if self.default else [])
            return list(dict.fromkeys(found))
        if self.kind == "bucket":
            return list(self.bucket.labels) if self.bucket else []
        if self.kind == "model":
            return list(self.model.bands) if self.model else []
        return list(self.values or [])


AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()
RuleCase.model_rebuild()
ModelSpec.model_rebuild()


# --- The answers of the indicator and tag API (api/routes/tagging.py). ---
# Its request bodies are TagCreate (above) and IndicatorCreate (indicators/model.py), each beside the
# definition that is the body plus the name from the URL; the definition's own checks (a kind without its
# section, a window for every source but derived…) run when it is built from body and name, and answer 400
# naming the fault.


class IndicatorRead(IndicatorDef):
    """One indicator and what reads it."""

    read_by: list[str] = Field(description="tags and derived indicators that read it, e.g. 'tag elderly'")


class DefinitionVersion(BaseModel):
    """A saved definition and the version it became (the live one while a change awaits approval)."""

    name: str
    version: int
    pending_approval: ApprovalRead | None = Field(
        default=None, description="the request holding the change (segment.change needs approval)"
    )


class Deleted(BaseModel):
    """The name of what was deleted."""

    deleted: str


class IndicatorSummary(BaseModel):
    """An indicator computed on a sample: the share of customers with a value, and the range of numbers."""

    non_null: float
    min: float | None = None
    max: float | None = None
    mean: float | None = None


class TagSampleSummary(BaseModel):
    """A tag evaluated on a sample: coverage and customers per value."""

    coverage: float
    distribution: dict[str, int]
    model_metrics: dict[str, Any] | None = None


class DryRunRead(BaseModel):
    """Definitions computed on a random sample of customers; nothing was written."""

    business_date: str | None
    sample: int
    indicators: dict[str, IndicatorSummary]
    tags: dict[str, TagSampleSummary]


class TagValueCount(BaseModel):
    """Customers carrying one value, and their share of the population."""

    value: str
    count: int
    share: float


class TagHistoryPoint(BaseModel):
    """Customers per value on one business date."""

    date: str
    counts: dict[str, int]


class TagLineage(BaseModel):
    """What a tag reads."""

    indicators: list[str]
    attributes: list[str]


class TagDetailRead(BaseModel):
    """One tag: definition, coverage and distribution on the latest date, history, lineage, model metrics."""

    definition: TagDef
    business_date: str | None
    population: int
    coverage: float
    distribution: list[TagValueCount]
    history: list[TagHistoryPoint]
    lineage: TagLineage
    model_metrics: dict[str, Any] | None = None


class CatalogueTag(BaseModel):
    """A tag as listed in the category tree."""

    name: str
    title: str
    kind: TagKind
    sensitive: bool


class CategoryNode(BaseModel):
    """A category of the tree, its sub-categories and its tags."""

    name: str
    children: list[CategoryNode]
    tags: list[CatalogueTag]


class TagMembersRead(BaseModel):
    """How many customers carry a tag value on a date, and the first of them."""

    tag: str
    value: str
    business_date: str
    count: int
    customers: list[str]


class TagUploadRead(BaseModel):
    """An imported tag's list replaced: rows kept, and listed customers the newest snapshot does not hold."""

    tag: str
    rows: int
    unknown_customers: list[str]


class PlanStep(BaseModel):
    """What an import does to one definition."""

    kind: str = Field(description="indicator or tag")
    name: str
    action: str = Field(description="create, update or unchanged")


class DefinitionImportRead(BaseModel):
    """The plan of a definitions import, and whether it was applied (or is held for approval)."""

    applied: bool
    plan: list[PlanStep]
    pending_approval: ApprovalRead | None = Field(
        default=None, description="the request holding the changes (definitions.apply needs approval)"
    )


class ComputeRead(BaseModel):
    """A computation of every indicator and tag for one business date."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    business_date: str
    customers: int
    indicators: int
    tags: int
    forced: str | None = Field(default=None, description="what a forced run accepted, in words")


class ComputeRunRead(BaseModel):
    """One computation run: date, status, timings, figures or the error."""

    model_config = ConfigDict(extra="allow")

    id: str
    business_date: str
    status: str
    started_at: str
    finished_at: str | None
    stats: dict[str, Any] | None = None
    error: str | None = None


class FieldsRead(BaseModel):
    """What a rule can name besides indicators and tags: customer attributes and known events."""

    attributes: list[str]
    attribute_kinds: dict[str, str] = Field(
        description="each attribute's type (string, date, bool, float, int): a rule compares it with a "
        "value of that type, a date written YYYY-MM-DD"
    )
    events: list[str]
    event_properties: dict[str, list[str]] = Field(
        description="property names seen on each event, newest events"
    )


class UsedByRead(BaseModel):
    """The saved segments and journeys that read a tag or an indicator (directly or through a segment)."""

    segments: list[str]
    journeys: list[str]


class CustomerHit(BaseModel):
    """One customer found by a search, masked as the caller may see them."""

    customer_no: str
    name: str | None
    phone: str | None
    branch_id: str | None
    advisor_id: str | None
    risk_level: str | None
    open_date: str | None


class Customer360Read(BaseModel):
    """Everything known about one customer, newest first where it is a history."""

    customer_no: str
    uid: int | None
    attributes: dict[str, Any]
    identities: list[dict[str, Any]]
    sdk_profile: dict[str, Any]
    tags: dict[str, Any]
    indicators: dict[str, Any]
    assets: list[dict[str, Any]]
    holdings: list[dict[str, Any]]
    trades: list[dict[str, Any]]
    events: list[dict[str, Any]]


class DefinitionsDocument(BaseModel):
    """A definitions YAML document (`touchpoint definitions export`): lists of indicators and tags; each entry
    is checked as an IndicatorDef or TagDef afterwards, so that a fault names the entry."""

    model_config = ConfigDict(extra="forbid")

    indicators: list[dict[str, Any]] | None = None
    tags: list[dict[str, Any]] | None = None
