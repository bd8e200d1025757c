"""Tag definitions (标签): rule, bucket, model and imported tags in a category tree."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from touchpoint.indicators.model import NAME_PATTERN

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
