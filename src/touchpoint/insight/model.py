"""The shapes of crowd insight (人群洞察) as the API answers them: TGI profiles, overlaps, lookalike jobs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TagValueTgi(BaseModel):
    """One tag value in the segment and in the base, and its TGI (segment share ÷ base share × 100)."""

    value: str
    segment_count: int
    segment_share: float
    base_count: int
    base_share: float
    tgi: float | None = Field(description="None when no one in the base carries the value")


class TagProfile(BaseModel):
    """A tag's values in the segment against the base; `distance` 0 = alike, 1 = nothing in common."""

    tag: str
    distance: float
    values: list[TagValueTgi]


class Quartiles(BaseModel):
    """An indicator's mean and quartiles over a group (None when no one has a value)."""

    mean: float | None
    p25: float | None
    median: float | None
    p75: float | None


class IndicatorComparison(BaseModel):
    """An indicator summarised over the segment and over the base."""

    indicator: str
    segment: Quartiles
    base: Quartiles


class TgiProfileRead(BaseModel):
    """What sets a segment apart: every tag ranked by distance from the base, indicator summaries."""

    segment: str
    against: str
    segment_size: int
    base_size: int
    snapshot_date: str
    tags: list[TagProfile]
    indicators: list[IndicatorComparison]


class OverlapRegion(BaseModel):
    """Customers in all of `segments` (`intersection`), and in exactly those (`exactly`, a Venn region)."""

    segments: list[str]
    intersection: int
    exactly: int


class OverlapRead(BaseModel):
    """Sizes of 2–4 segments and of every overlap."""

    sizes: dict[str, int]
    regions: list[OverlapRegion]


class LookalikeCreate(BaseModel):
    """A lookalike expansion: the segment to save, and how many to keep (exactly one of top or min_score)."""

    model_config = ConfigDict(extra="forbid")

    target: str | None = Field(default=None, description="the segment to save (default: SEED_lookalike)")
    top: int | None = Field(
        default=None, ge=1, le=10_000_000, description="keep the K best-scoring customers"
    )
    min_score: float | None = Field(
        default=None, ge=0, le=1, description="keep everyone scoring at least this"
    )
    pool: str | None = Field(default=None, description="a segment to draw from (default: every customer)")
