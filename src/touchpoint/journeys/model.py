"""The journey definition (客户旅程): a versioned graph of nodes — the one truth the API, YAML files and the
console's canvas all produce and the engine interprets.

A journey has one entry (a segment, once or on a schedule; an event; or an API call with a payload), a start
node, and nodes linked by id: `wait`, `wait_for_event`, `split`, `ab_split`, `action`, `exit`. Settings hold
the goal, exit criteria, re-entry rule, hold-out share, entry caps and priority.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from touchpoint.core.durations import DAY_FORMS, DAY_PATTERN, parse_duration
from touchpoint.governance.approvals import ApprovalRead
from touchpoint.segments.model import PropertyFilter

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
NODE_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"


class Duration:
    """`30m`, `12h`, `3d` or `2td` (XSHG trading days); a leading `-` for offsets before a date. The grammar
    and its ten-year bound are core.durations'; DurationError (a ValueError) names bad text."""

    def __init__(self, text: str) -> None:
        parsed = parse_duration(text.strip(), signed=True)
        self.negative = parsed.negative
        self.n = parsed.n
        self.unit = parsed.unit
        self._span = parsed.span

    def span(self) -> timedelta | None:
        """The length as a timedelta; None for trading days (they depend on the calendar)."""
        return self._span


def _duration(value: str | None, *, signed: bool = False) -> str | None:
    if value is None:
        return value
    parsed = Duration(value)
    if parsed.negative and not signed:
        raise ValueError(f"duration {value!r} must be positive")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Entries ---------------------------------------------------------------------------------------------------


class SegmentEntry(_Strict):
    """Members of a saved segment enter when the journey is published and, with a `schedule` (cron,
    Beijing time), again at each scheduled time (the re-entry rule decides who may enter again)."""

    type: Literal["segment"]
    segment: str
    schedule: str | None = None


class EventEntry(_Strict):
    """A customer enters when they do the event (MOT events included); the event's properties become the
    entry payload."""

    type: Literal["event"]
    event: str
    where: list[PropertyFilter] = Field(default_factory=list)


class ApiEntry(_Strict):
    """A customer enters by `POST /api/v1/journeys/{name}/enter` with a payload holding `required` keys."""

    type: Literal["api"]
    required: list[str] = Field(default_factory=list)


Entry = Annotated[SegmentEntry | EventEntry | ApiEntry, Field(discriminator="type")]


# Actions ---------------------------------------------------------------------------------------------------


class SendMessage(_Strict):
    """Send a message on a channel: a registered, checked template (rendered for the customer when it is
    dispatched, through consent, suitability, quiet hours and caps), or — on the `log` channel only — an
    inline note `text` (Jinja, sandboxed) that is recorded, never sent."""

    kind: Literal["send"]
    channel: str
    template: str | None = Field(default=None, pattern=NAME_PATTERN)
    text: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SendMessage:
        if (self.template is None) == (self.text is None):
            raise ValueError("send: give exactly one of template (a registered template) or text (log only)")
        if self.text is not None and self.channel != "log":
            raise ValueError("send: inline text is only for the log channel; other channels need a template")
        return self


class SetTag(_Strict):
    """Set a value of an imported tag for the customer."""

    kind: Literal["set_tag"]
    tag: str
    value: str


class SetAttribute(_Strict):
    """Set a profile attribute of the customer."""

    kind: Literal["set_attribute"]
    attribute: str
    value: Any


class CallWebhook(_Strict):
    """POST the customer number, journey, node and context as JSON to a URL."""

    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")


class AdvisorTask(_Strict):
    """Hand the customer to their advisor (O2O): a task with a title and talking points (Jinja, sandboxed,
    rendered with the entry `payload`), a priority and a due time after the step (`4h`, `1td`). Its outcome
    comes back as the event `advisor_task_completed` (properties journey, node, outcome), which a later
    `wait_for_event` can wait for."""

    kind: Literal["advisor_task"]
    title: str = Field(min_length=1, max_length=200)
    talking_points: str = Field(default="", max_length=4000)
    priority: Literal["urgent", "high", "normal", "low"] = "normal"
    due: str = "1td"

    @field_validator("due")
    @classmethod
    def _check_due(cls, value: str) -> str:
        _duration(value)
        return value


Action = Annotated[
    SendMessage | SetTag | SetAttribute | CallWebhook | AdvisorTask, Field(discriminator="kind")
]
ACTION_KINDS = ("send", "set_tag", "set_attribute", "webhook", "advisor_task")


# Nodes -----------------------------------------------------------------------------------------------------


class _Node(_Strict):
    id: str = Field(pattern=NODE_PATTERN)
    title: str = ""


class WaitNode(_Node):
    """Wait a `duration`; or until a time of day (`until_time` HH:MM Beijing, on the next trading day when
    `trading_day`); or until a date/time held in the entry payload or the customer's attributes
    (`until_field` such as `payload.pay_deadline`, shifted by `offset` such as `-4h`)."""

    type: Literal["wait"]
    duration: str | None = None
    until_time: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    trading_day: bool = False
    until_field: str | None = Field(default=None, pattern=r"^(payload|attribute)\.[A-Za-z0-9_]+$")
    offset: str | None = None
    next: str

    @field_validator("duration")
    @classmethod
    def _check_duration(cls, value: str | None) -> str | None:
        return _duration(value)

    @field_validator("offset")
    @classmethod
    def _check_offset(cls, value: str | None) -> str | None:
        return _duration(value, signed=True)

    @model_validator(mode="after")
    def _one_kind(self) -> WaitNode:
        given = [self.duration is not None, self.until_time is not None, self.until_field is not None]
        if sum(given) != 1:
            raise ValueError(f"wait {self.id}: give exactly one of duration, until_time, until_field")
        if self.offset is not None and self.until_field is None:
            raise ValueError(f"wait {self.id}: offset applies only with until_field")
        return self


class WaitForEventNode(_Node):
    """Branch on whether the customer does `event` within `timeout` (counting events since they entered the
    journey); `match` correlates event properties with the entry payload (`{"product_code":
    "payload.product_code"}`)."""

    type: Literal["wait_for_event"]
    event: str
    where: list[PropertyFilter] = Field(default_factory=list)
    match: dict[str, str] = Field(default_factory=dict)
    timeout: str
    on_event: str
    on_timeout: str

    @field_validator("timeout")
    @classmethod
    def _check_timeout(cls, value: str) -> str:
        _duration(value)
        return value

    @field_validator("match")
    @classmethod
    def _check_match(cls, value: dict[str, str]) -> dict[str, str]:
        for prop, source in value.items():
            if not source.startswith("payload."):
                raise ValueError(f"match {prop!r}: the value must name an entry payload key, payload.NAME")
        return value


class Branch(_Strict):
    """One branch of a split: a segment rule evaluated for the customer now."""

    name: str
    rule: dict[str, Any]
    next: str


class SplitNode(_Node):
    """The first branch whose rule holds for the customer, else `default`."""

    type: Literal["split"]
    branches: list[Branch] = Field(min_length=1, max_length=20)
    default: str


class Variant(_Strict):
    """One variant of an A/B split and its weight."""

    name: str
    weight: int = Field(ge=1, le=10_000)
    next: str


class AbSplitNode(_Node):
    """A weighted random variant, fixed per (journey, customer) by a stable hash."""

    type: Literal["ab_split"]
    variants: list[Variant] = Field(min_length=2, max_length=10)


class ActionNode(_Node):
    """Do one action, then go on to `next` (or end the run when there is none)."""

    type: Literal["action"]
    action: Action
    next: str | None = None


class ExitNode(_Node):
    """End the customer's run."""

    type: Literal["exit"]


Node = Annotated[
    WaitNode | WaitForEventNode | SplitNode | AbSplitNode | ActionNode | ExitNode, Field(discriminator="type")
]
WAITING_TYPES = ("wait", "wait_for_event")


def successors(node: Any) -> list[tuple[str, str]]:
    """(edge label, node id) of every edge leaving `node`."""
    if isinstance(node, WaitNode):
        return [("next", node.next)]
    if isinstance(node, WaitForEventNode):
        return [("on_event", node.on_event), ("on_timeout", node.on_timeout)]
    if isinstance(node, SplitNode):
        return [(f"branches[{i}]", b.next) for i, b in enumerate(node.branches)] + [("default", node.default)]
    if isinstance(node, AbSplitNode):
        return [(f"variants[{i}]", v.next) for i, v in enumerate(node.variants)]
    if isinstance(node, ActionNode):
        return [("next", node.next)] if node.next else []
    return []


# Settings --------------------------------------------------------------------------------------------------


class Goal(_Strict):
    """Doing `event` within `within` of entering counts as converted and ends the run."""

    event: str
    where: list[PropertyFilter] = Field(default_factory=list)
    within: str = "7d"

    @field_validator("within")
    @classmethod
    def _check_within(cls, value: str) -> str:
        _duration(value)
        return value


class ExitCriterion(_Strict):
    """Doing `event`, or being a member of `segment` when checked, ends the run."""

    event: str | None = None
    where: list[PropertyFilter] = Field(default_factory=list)
    segment: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ExitCriterion:
        if (self.event is None) == (self.segment is None):
            raise ValueError("an exit criterion names exactly one of event, segment")
        return self


class Reentry(_Strict):
    """`never`; `after_exit` (once the previous run ended); `interval` (and at least `interval` after the
    previous entry). Never two runs of one journey at once for a customer."""

    mode: Literal["never", "after_exit", "interval"] = "never"
    interval: str | None = None

    @model_validator(mode="after")
    def _interval(self) -> Reentry:
        if (self.mode == "interval") != (self.interval is not None):
            raise ValueError("re-entry: give interval exactly when mode is interval")
        _duration(self.interval)
        return self


class Caps(_Strict):
    """At most `total` entries ever and `per_day` per Beijing day (None: no cap)."""

    total: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)


class Point(_Strict):
    """Where a node sits on the canvas."""

    x: float = Field(ge=-1_000_000, le=1_000_000)
    y: float = Field(ge=-1_000_000, le=1_000_000)


LayoutKey = Annotated[str, Field(pattern=r"^(entry|[A-Za-z][A-Za-z0-9_-]{0,63})$")]


class JourneyDef(_Strict):
    """A journey: entry, start node, nodes and settings."""

    name: str = Field(pattern=NAME_PATTERN)
    title: str
    description: str = ""
    owner: str = "system"
    entry: Entry
    start: str
    nodes: list[Node] = Field(min_length=1, max_length=200)
    goal: Goal | None = None
    exit_criteria: list[ExitCriterion] = Field(default_factory=list)
    reentry: Reentry = Field(default_factory=Reentry)
    holdout_percent: float = Field(default=0.0, ge=0.0, le=50.0)
    caps: Caps = Field(default_factory=Caps)
    priority: int = Field(default=0, ge=0, le=100)
    layout: dict[LayoutKey, Point] = Field(
        default_factory=dict,
        max_length=201,
        description="where the canvas drew each node (`entry` for the entry); the engine ignores it",
    )

    def node(self, node_id: str) -> Any:
        """The node with this id (KeyError when absent)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)


def journey_schema() -> dict[str, Any]:
    """The published JSON Schema of a journey definition."""
    return JourneyDef.model_json_schema()


# Over HTTP: what routes take and answer -------------------------------------------------------------------


class JourneyWrite(JourneyDef):
    """A journey definition as `PUT /journeys/{name}` takes it: the name comes from the path (a `name` in the
    body, if any, must be the same)."""

    name: str | None = Field(default=None, pattern=NAME_PATTERN)  # type: ignore[assignment]


class JourneySchemaRead(BaseModel):
    """The JSON Schema of a journey definition (draft 2020-12, as pydantic writes it)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    title: str
    type: str
    properties: dict[str, Any]
    required: list[str] = Field(default_factory=list)
    defs: dict[str, Any] = Field(default_factory=dict, alias="$defs")


class JourneyRead(BaseModel):
    """A journey in the list: its lifecycle status, the live version and the newest saved one."""

    name: str
    title: str
    status: str
    live_version: int | None = None
    latest_version: int


class JourneySaved(BaseModel):
    """The version a save made (a draft until published)."""

    name: str
    version: int


class PublishRequest(_Strict):
    """What happens to runs on older versions: keep them, move them (old node → new node), or end them."""

    in_flight: Literal["keep", "move", "end"] = "keep"
    node_map: dict[str, str] = Field(default_factory=dict)


class PublishRead(BaseModel):
    """The journey made live: its version and how many older runs were moved or ended."""

    name: str
    status: str = Field(description="live; pending while the publication awaits approval")
    version: int
    runs_changed: int
    pending_approval: ApprovalRead | None = Field(
        default=None, description="the request holding the publication (journey.publish needs approval)"
    )


CustomerNo = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]


class EnterRequest(_Strict):
    """Customers to admit, with the entry payload."""

    # Customer numbers as the collector accepts identifiers: no control characters, at most 255 characters.
    customers: list[CustomerNo] = Field(min_length=1, max_length=10_000)
    payload: dict[str, Any] = Field(default_factory=dict)


class AdmissionRead(BaseModel):
    """How many were admitted, how many of them are in the hold-out, how many the rules refused."""

    admitted: int
    holdout: int
    refused_by_reentry: int
    refused_by_cap: int


class StatusRead(BaseModel):
    """A journey's new lifecycle status and the runs the change ended."""

    name: str
    status: str
    runs_ended: int


class GoalRate(BaseModel):
    """Runs, runs that reached the goal, and their rate (None without runs)."""

    runs: int
    converted: int
    rate: float | None = None


class GoalStats(BaseModel):
    """Goal conversion of the treated runs against the hold-out group."""

    treated: GoalRate
    holdout: GoalRate


class NodeStats(BaseModel):
    """One node: runs that entered it = those that left it by an edge (`passed`), ended there (`ended`:
    converted, stopped, failed) and wait there now; `outcomes` counts each edge and end."""

    node: str
    type: str
    entered: int
    passed: int
    ended: int
    waiting: int
    outcomes: dict[str, int]
    actions: dict[str, int]
    failure_reasons: dict[str, int] = Field(default_factory=dict)
    skip_reasons: dict[str, int] = Field(default_factory=dict)


class JourneyStatsRead(BaseModel):
    """Per-node statistics, runs by status (`entered` is their sum) and goal conversion."""

    name: str
    entered: int
    runs: dict[str, int]
    nodes: list[NodeStats]
    goal: GoalStats


class StepRead(BaseModel):
    """A node a run passed through and how it left it."""

    node: str
    outcome: str
    detail: str | None = None
    at: str


class EffectRead(BaseModel):
    """An effect of a run: its status, attempts and, when it did not go, why."""

    node: str
    kind: str
    status: str
    attempts: int
    reason: str | None = None


class CustomerRunRead(BaseModel):
    """A customer's run: where it is, what it waits for, its steps and effects."""

    run: str
    journey: str
    version: int
    status: str
    node: str | None = None
    wake_at: str | None = None
    waiting_for: str | None = None
    holdout: bool
    entered_at: str
    end_reason: str | None = None
    last_error: str | None = None
    steps: list[StepRead]
    effects: list[EffectRead]


RunStatus = Literal[
    "active", "ready", "waiting", "waiting_event", "done", "converted", "exited", "stopped", "failed"
]  # `active`: any status of a run not ended yet


class RunRead(BaseModel):
    """A run in a journey's bulk listing (the customer number masked)."""

    run: str
    journey: str
    version: int
    customer_no: str
    status: str
    node: str | None = None
    waiting_for: str | None = None
    wake_at: str | None = None
    entered_at: str
    holdout: bool
    end_reason: str | None = None
    errors: int = 0


class RunPage(BaseModel):
    """A page of a journey's runs; `next_cursor` fetches the next (None on the last page)."""

    journey: str
    runs: list[RunRead]
    next_cursor: str | None = None


class StuckRunRead(BaseModel):
    """An active run past its wake-at that no worker took (resumed or stopped by its run id)."""

    run: str
    journey: str
    customer_no: str = Field(description="masked, as in every run list")
    node: str | None = None
    wake_at: str | None = None
    errors: int = 0


class RunChangeRead(BaseModel):
    """A run resumed or stopped by an operator."""

    run: str
    status: str
    wake_at: str | None = None


class JourneyFault(BaseModel):
    """One fault of a definition, placed on the node it concerns (None: the entry or the settings)."""

    node: str | None = None
    place: str = Field(description="where in the definition: `nodes[2] (wait_1).next`, `entry.segment`")
    message: str


class JourneyCheckRead(BaseModel):
    """What stops a save (`faults`) and what would stop publication (`not_ready`: a template not active, a
    channel without its provider)."""

    faults: list[JourneyFault]
    not_ready: list[JourneyFault]


class SimulateRequest(_Strict):
    """A period to replay through a saved version (default the newest); with `customers`, a test walk of
    just them, step by step, with the reason at each node."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: str = Field(alias="from", pattern=DAY_PATTERN, description=f"first day: {DAY_FORMS}")
    end: str = Field(alias="to", pattern=DAY_PATTERN, description=f"last day: {DAY_FORMS}")
    version: int | None = Field(default=None, ge=1)
    customers: list[CustomerNo] | None = Field(default=None, min_length=1, max_length=20)
    payload: dict[str, Any] = Field(default_factory=dict, description="the entry payload of a test walk")
    sample: int = Field(default=5, ge=0, le=50, description="how many runs' paths to show")
