"""A MOT rule (关键时刻规则): which detector finds the moment, its thresholds, when it is looked for, its
class (service notice or marketing), its SLA and owner, and the advisor task it creates — a definition in the
registry like every other kind, exported and applied as YAML.

A firing becomes the derived event `mot_<rule name>` with the facts that caused it in its properties, which a
journey can start on or wait for; with `owner: advisor` it also becomes an advisor task.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticError

from touchpoint.core.durations import duration_pattern
from touchpoint.moments.catalogue import DETECTORS

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,59}$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
EVENT_PREFIX = "mot_"
Classification = Literal["service", "marketing"]
Priority = Literal["urgent", "high", "normal", "low"]


DURATION = duration_pattern()
Clock = Annotated[str, Field(pattern=TIME_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskSpec(_Strict):
    """The advisor task a firing creates: its title and talking points (Jinja, sandboxed, rendered with
    `facts`, `customer` and `rule`), priority, and its due time — `due` after the firing (`4h`, `1td`), or
    `due_before` the moment's own deadline (`30m` before the 16:00 payment cut-off) when it has one."""

    title: str = Field(min_length=1, max_length=200)
    talking_points: str = Field(default="", max_length=4000)
    priority: Priority = "normal"
    due: str | None = Field(default=None, pattern=DURATION)
    due_before: str | None = Field(default=None, pattern=DURATION)


class MotRuleFields(_Strict):
    """The fields of a rule and the constraints the JSON Schema states (the API's request body)."""

    name: str = Field(pattern=NAME_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    catalogue: int | None = Field(default=None, ge=1, le=99, description="the number in DOMAIN.md §2.1")
    detector: str = Field(
        min_length=1, max_length=64, description="a detector of the library (touchpoint mot list)"
    )
    classification: Classification
    params: dict[str, Any] = Field(default_factory=dict)
    at: list[Clock] = Field(default_factory=list, max_length=24)
    sla: str = Field(default="1d", pattern=DURATION)
    owner: Literal["system", "advisor"] = "system"
    task: TaskSpec | None = None
    enabled: bool = True


class MotRule(MotRuleFields):
    """One moment of truth: `detector` from the library, `params` overriding its thresholds, `at` the Beijing
    times a condition or calendar rule is evaluated (the detector's own by default), `sla` the time within
    which it should be served, `owner` system (journeys serve it) or advisor (a task)."""

    @field_validator("at")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        """Each time once, in order (their form is the field's pattern)."""
        return sorted(set(value))

    @model_validator(mode="after")
    def _detector_and_params(self) -> MotRule:
        detector = DETECTORS.get(self.detector)
        if detector is None:
            raise ValueError(
                f"detector {self.detector!r} is unknown; choose from {', '.join(sorted(DETECTORS))}"
            )
        try:
            detector.params.model_validate(self.params)
        except PydanticError as exc:
            fault = exc.errors()[0]
            place = ".".join(str(p) for p in fault["loc"])
            raise ValueError(f"params.{place}: {fault['msg']}") from None
        if detector.kind == "event" and self.at:
            raise ValueError(
                "at: an event rule fires on its event; times apply to condition and calendar rules"
            )
        if self.owner == "advisor" and self.task is None:
            raise ValueError("task: a rule owned by the advisor says what the advisor's task is")
        return self

    @property
    def event(self) -> str:
        """The derived event a firing becomes."""
        return EVENT_PREFIX + self.name

    def parsed_params(self) -> Any:
        """The detector's thresholds, the rule's overrides applied."""
        return DETECTORS[self.detector].params.model_validate(self.params)

    def times(self) -> tuple[str, ...]:
        """When a condition or calendar rule is evaluated (Beijing), its own or the detector's."""
        return tuple(self.at) or DETECTORS[self.detector].at


# Over HTTP -------------------------------------------------------------------------------------------------


class MotRuleRead(BaseModel):
    """A rule in the list, with its detector's kind and what it did in the last 30 days."""

    name: str
    title: str
    catalogue: int | None
    detector: str
    kind: str
    classification: str
    owner: str
    sla: str
    enabled: bool
    times: list[str]
    fired_30d: int
    journeys: list[str] = Field(
        default_factory=list,
        description="the journeys that listen for its event mot_<name>, as entry or wait",
    )


class FiringRead(BaseModel):
    """One firing: who (masked per rights), which occurrence, what caused it, its task."""

    id: str
    rule: str
    customer_no: str
    occurrence: str
    classification: str
    facts: dict[str, Any]
    fired_at: str
    due_at: str | None
    task_id: str | None


class RuleStatsRead(BaseModel):
    """A rule's firings over a period: how many were served (a message sent or the task done) and how many
    of those within the SLA."""

    rule: str
    fired: int
    served: int
    on_time: int
    served_rate: float | None
    on_time_rate: float | None
    by_day: dict[str, int]


class EvaluationRead(BaseModel):
    """What one evaluation (or event batch) of the rules found."""

    evaluated: list[str]
    fired: dict[str, int]
    errors: dict[str, str]


class SuggestionRead(BaseModel):
    """One suggested next action: its score, why, what to do (`task`, `call`, `product`) and the facts."""

    score: int
    reason: str
    action: dict[str, Any]
    facts: dict[str, Any]


class GuidanceRead(BaseModel):
    """A customer and their suggestions, best first."""

    customer_no: str
    score: int
    suggestions: list[SuggestionRead]
