"""Indicator definitions (指标): declared, typed, per-customer metrics computed per business date."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from touchpoint.indicators.formula import formula_inputs

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
Source = Literal["customers", "assets", "holdings", "trades", "cash_flows", "events", "derived"]
Aggregation = Literal[
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "first",
    "last",
    "days_since_first",
    "days_since_last",
    "value",
    "formula",
]
Op = Literal["=", "!=", ">", ">=", "<", "<=", "in", "not_in", "exists"]
NEEDS_COLUMN = {"count_distinct", "sum", "avg", "min", "max", "first", "last", "value"}
# Aggregations that are 0, not missing, for a customer without rows — but only where absence means "none":
# in a window the source has data for (a feed not yet imported is not "no trades"), or, in a snapshot, for
# a customer the snapshot holds but whose rows the filters exclude. A customer a snapshot does not hold at
# all has no value.
ZERO_WHEN_EMPTY = {"count", "count_distinct", "sum"}
# How many trading days a customer's latest snapshot row may trail the business date by default.
SNAPSHOT_MAX_AGE = 5


class Filter(BaseModel):
    """A condition on a source column, or on an event property."""

    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    property: str | None = None
    op: Op = "="
    value: Any = None

    @model_validator(mode="after")
    def _one_target(self) -> Filter:
        if (self.column is None) == (self.property is None):
            raise ValueError("a filter names exactly one of column or property")
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op} needs a list value")
        return self


class Window(BaseModel):
    """Which dates an indicator reads, relative to the business date D."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["days", "trading_days", "month_to_date", "all_time", "snapshot"]
    n: int | None = Field(default=None, ge=1, le=3660)
    max_age: int | None = Field(
        default=None,
        ge=0,
        le=250,
        description=(
            f"snapshot only: how many trading days a customer's latest row may be older than the last "
            f"trading day on or before D (default {SNAPSHOT_MAX_AGE}); older, the customer has no value"
        ),
    )

    @model_validator(mode="after")
    def _n_when_needed(self) -> Window:
        if self.kind in ("days", "trading_days") and self.n is None:
            raise ValueError(f"a {self.kind} window needs n")
        if self.max_age is not None and self.kind != "snapshot":
            raise ValueError("max_age applies to snapshot windows only")
        return self

    @property
    def staleness(self) -> int:
        """The trading days a snapshot row may trail the business date."""
        return SNAPSHOT_MAX_AGE if self.max_age is None else self.max_age

    def label(self) -> str:
        """`30d`, `20td`, `mtd`, `all`, `snapshot`."""
        return {"days": f"{self.n}d", "trading_days": f"{self.n}td", "month_to_date": "mtd"}.get(
            self.kind, "all" if self.kind == "all_time" else "snapshot"
        )


class Named(BaseModel):
    """A definition's name, which the API takes from the path (`PUT /indicators/{name}`, `PUT /tags/{name}`).

    A definition is its request body plus this: `class IndicatorDef(IndicatorCreate, Named)`. Named comes last
    among the bases because pydantic orders fields by the reversed MRO, so `name` stays the first field and
    the stored JSON, the YAML export and the JSON Schema keep the order they always had.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)


class IndicatorCreate(BaseModel):
    """The body of PUT /indicators/{name} and its dry run: an indicator definition without its name.

    Each field is checked here (a fault is a 422); the checks that span fields, and the name, belong to
    IndicatorDef, built from the body and the path (a fault is a 400 naming it).
    """

    model_config = ConfigDict(extra="forbid")

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

    def named(self, name: str) -> dict[str, Any]:
        """The full definition's fields, with the name from the path (validated by the caller)."""
        return self.model_dump(mode="json", exclude_unset=True) | {"name": name}


class IndicatorDef(IndicatorCreate, Named):
    """One indicator: source, aggregation, filters, window, unit."""

    @model_validator(mode="after")
    def _consistent(self) -> IndicatorDef:
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

    def _derived_consistent(self) -> IndicatorDef:
        if not self.formula:
            raise ValueError("a derived indicator needs a formula")
        if self.window is not None or self.filters or self.event or self.column:
            raise ValueError("a derived indicator has a formula only (no window, column, event or filters)")
        try:
            inputs = formula_inputs(self.formula)
        except Exception as exc:
            raise ValueError(str(exc)) from None
        if self.name in inputs:
            raise ValueError(f"formula cycle {self.name} → {self.name}")
        return self

    def inputs(self) -> list[str]:
        """The indicators a derived indicator reads (none for the others)."""
        return formula_inputs(self.formula) if self.formula else []

    @property
    def value_type(self) -> Literal["int", "float"]:
        """Counts and day differences are whole numbers; everything else is a decimal."""
        whole = self.aggregation in ("count", "count_distinct", "days_since_first", "days_since_last")
        return "int" if whole else "float"
