"""What behaviour analytics is asked and answers (行为分析的请求与结果): one pydantic model per query (the API
parses request bodies into them, the command line builds them) and one `XRead` model per result.

Days are Beijing dates, or days relative to today as on the command line (`today`, `yesterday`, `-30d`,
`-5td`), resolved on the deployment's clock when the query runs; dates run from 1900 to 2100. Windows use the
one duration grammar of `core.durations` (`30m`, `12h`, `7d`, `5td`, at most ten years). Event properties are
named exactly (`$os`, `fund.type`); filter values are scalars or lists of scalars (`segments.model`).

What the JSON Schema can state is checked here (a 422 naming the field) exactly as the schema states it, so a
body the schema allows is never refused as malformed; rules across fields (a repeated step in an unordered
funnel, a group-by of an unknown kind) are the queries' own (a 400).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
)

from touchpoint.core.durations import (
    DAY_FORMS,
    DAY_PATTERN,
    UNSIGNED_PATTERN,
    DayRef,
    Duration,
    parse_day,
    parse_duration,
)
from touchpoint.segments.model import PropertyFilter

MODES = ("ordered", "strict", "unordered")
TrendUnit = Literal["day", "week", "month", "trading_day"]
RetentionUnit = Literal["day", "week", "month"]
NAME = Field(min_length=1, max_length=200)
MEASURE_PATTERN = r"^(sum|avg|max):.+$"
BY_PATTERN = r"^((property|attribute|tag):)?.+$"


def _day(value: object) -> DayRef:
    """A day from a request: a date object as it is, text as `core.durations.parse_day` reads it."""
    return parse_day(value)


Day = Annotated[
    DayRef,
    PlainValidator(_day),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DAY_PATTERN,
            "description": DAY_FORMS,
            "examples": ["2026-03-02", "-30d"],
        }
    ),
]


def parse_window(text: str) -> Duration:
    """A conversion window (`30m`, `12h`, `7d`, `5td`, positive, at most ten years); DurationError else."""
    return parse_duration(text)


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FunnelStep(_Query):
    """One step: an event with property filters."""

    event: str = NAME
    where: list[PropertyFilter] = Field(default_factory=list, max_length=50)


class Exclusion(_Query):
    """An event that, done between step `after` and step `before` (default: the last), stops the chain."""

    event: str = NAME
    where: list[PropertyFilter] = Field(default_factory=list, max_length=50)
    after: int = Field(default=1, ge=1, le=20)
    before: int | None = Field(default=None, ge=1, le=20)


class _Range(_Query):
    """Beijing days `from` … `to` (inclusive)."""

    start: Day = Field(alias="from")
    end: Day = Field(alias="to")


class FunnelQuery(_Range):
    """2–20 steps, a conversion window (`30m`, `12h`, `7d`, `5td`), Beijing days (inclusive), a mode,
    exclusion steps and a breakdown (`by`: a property, `attribute:NAME` or `tag:NAME`; top N + 其他)."""

    steps: list[FunnelStep] = Field(min_length=2, max_length=20)
    window: str = Field(json_schema_extra={"pattern": UNSIGNED_PATTERN}, examples=["7d", "5td"])
    mode: Literal["ordered", "strict", "unordered"] = "ordered"
    exclusions: list[Exclusion] = Field(default_factory=list, max_length=20)
    by: str | None = Field(default=None, min_length=1, max_length=200)
    top: int = Field(default=10, ge=1, le=100)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value


class SaveFunnelCustomers(_Query):
    """Which customers of a funnel to keep as a static segment."""

    segment: str = NAME
    title: str | None = Field(default=None, max_length=200)
    step: int = Field(ge=1, le=20)
    who: Literal["reached", "dropped"] = "dropped"


class FunnelSegmentQuery(FunnelQuery):
    """A funnel query plus which of its customers to save."""

    save: SaveFunnelCustomers


class RetentionQuery(_Range):
    """Start and return events (with filters), Beijing days (`from`, `to`), periods and unit."""

    start_event: str = NAME
    return_event: str = NAME
    periods: int = Field(default=7, ge=1, le=120)
    unit: RetentionUnit = "day"
    first_time: bool = False
    start_where: list[PropertyFilter] = Field(default_factory=list, max_length=50)
    return_where: list[PropertyFilter] = Field(default_factory=list, max_length=50)


class SaveRetentionCell(_Query):
    """Which cell of a retention triangle to keep as a static segment (offset 0: the whole cohort)."""

    segment: str = NAME
    title: str | None = Field(default=None, max_length=200)
    cohort: Day
    offset: int = Field(ge=0, le=120)


class RetentionSegmentQuery(RetentionQuery):
    """A retention query plus which cell to save."""

    save: SaveRetentionCell


class TrendQuery(_Range):
    """One event (with filters) over Beijing days by day, week, month or trading day; optionally grouped
    (`by`: a property, `attribute:NAME`, `tag:NAME`), measured (`sum:PROP`…) and compared with as long a
    period starting `compare_from`."""

    event: str = NAME
    unit: TrendUnit = "day"
    by: str | None = Field(default=None, min_length=1, max_length=200)
    top: int = Field(default=10, ge=1, le=100)
    measure: str | None = Field(default=None, max_length=200, pattern=MEASURE_PATTERN)
    compare_from: Day | None = None
    where: list[PropertyFilter] = Field(default_factory=list, max_length=50)


class DistributionQuery(_Range):
    """Customers by how many times they did one event (with filters) over Beijing days."""

    event: str = NAME
    where: list[PropertyFilter] = Field(default_factory=list, max_length=50)


class PathQuery(_Range):
    """Paths after `from_event` or before `to_event` (exactly one) over Beijing days."""

    from_event: str | None = Field(default=None, min_length=1, max_length=200)
    to_event: str | None = Field(default=None, min_length=1, max_length=200)
    steps: int = Field(default=5, ge=2, le=10)
    limit: int = Field(default=50, ge=1, le=1000)


# Results ---------------------------------------------------------------------------------------------------


class _Read(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class FunnelStepRead(_Read):
    """One step's customers, conversions and time from the previous step (seconds)."""

    event: str
    customers: int
    conversion_from_previous: float
    conversion_from_first: float
    median_seconds_from_previous: float | None
    avg_seconds_from_previous: float | None


class FunnelGroupRead(_Read):
    """The steps of one breakdown group."""

    group: str
    steps: list[FunnelStepRead]


class FunnelRead(_Read):
    """A funnel: overall steps and, with `by`, the steps per group."""

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    window: str
    mode: str
    steps: list[FunnelStepRead]
    by: str | None = None
    breakdown: list[FunnelGroupRead] | None = None


class CohortRead(_Read):
    """One cohort: its first day, size, and how many came back in each later period."""

    start: str
    size: int
    retained: list[int | None] = Field(description="per later period; null: the period has not begun yet")


class RetentionRead(_Read):
    """The cohort triangle."""

    unit: str
    periods: int
    first_time: bool
    cohorts: list[CohortRead]


class TrendRowRead(_Read):
    """Figures of one period (and group), or of the whole range."""

    date: str | None = None
    group: str | None = None
    count: int
    customers: int
    per_customer: float
    value: float | None = None


class ComparisonRead(_Read):
    """The same figures for the comparison period, and the relative change of the totals."""

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    series: list[TrendRowRead]
    total: TrendRowRead
    change: dict[str, float | None]


class TrendRead(_Read):
    """An event's figures by period (and group), with totals and, when asked, a comparison."""

    event: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    unit: str
    by: str | None
    measure: str | None
    series: list[TrendRowRead]
    total: TrendRowRead
    comparison: ComparisonRead | None = None


class BucketRead(_Read):
    """Customers who did the event `times` (low … high, high None: open-ended) times."""

    times: str
    low: int
    high: int | None
    customers: int


class DistributionRead(_Read):
    """Customers by how many times they did the event."""

    event: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    buckets: list[BucketRead]


class PathNodeRead(_Read):
    """An event at one step of the paths, and how many sessions passed it."""

    id: str
    step: int
    event: str
    sessions: int


class PathLinkRead(_Read):
    """How many sessions went from one node to the next."""

    source: str
    target: str
    value: int


class PathsRead(_Read):
    """Sankey data: nodes and the heaviest links, after (`from`) or before (`to`) an event."""

    from_event: str | None = Field(default=None, alias="from")
    to_event: str | None = Field(default=None, alias="to")
    steps: int
    nodes: list[PathNodeRead]
    links: list[PathLinkRead]


class SavedSegmentRead(_Read):
    """The static segment the customers were saved as (its definition, size and upload report)."""

    model_config = ConfigDict(extra="allow")

    name: str
    size: int | None = None
    upload: dict[str, Any] | None = None
