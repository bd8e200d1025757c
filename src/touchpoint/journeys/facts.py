"""What the engine may ask about a customer, answered from the stores: segment rules evaluated on the newest
tag snapshot (one evaluation per rule per batch, shared by every run in it), saved segments' members, profile
attributes, the kept events runs wait for, and notes rendered as message templates are
(channels/templates.py)."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any

from pyroaring import BitMap

from touchpoint.channels.recipients import KeyedRows, snapshot_rows
from touchpoint.channels.templates import TemplateRenderError, render_text, variables
from touchpoint.journeys import repo
from touchpoint.journeys.model import WaitForEventNode
from touchpoint.segments.bitmap import evaluate
from touchpoint.segments.context import Context
from touchpoint.segments.model import PropertyFilter
from touchpoint.segments.service import context_at, current_members, read_rule
from touchpoint.tags.service import TagEnv


class Snapshot:
    """The segment context of one batch, loaded on first use, with evaluated rules and segments cached."""

    def __init__(self, env: TagEnv, batch: list[str] | None = None) -> None:
        self.env = env
        self.batch = set(batch or [])
        self._rules: dict[str, BitMap] = {}
        self._by_identity: dict[int, tuple[dict[str, Any], BitMap]] = {}
        self._segments: dict[str, set[str]] = {}
        self._inbox: dict[str, dict[str, list[dict[str, Any]]]] = {}

    @cached_property
    def context(self) -> Context:
        """The rule context as of now. Its snapshot data (the base, tag bitmaps, indicator columns and the
        conditions built from them) is shared with earlier batches while the snapshot's files are unchanged,
        because loading a million customers' base costs more than the batch itself."""
        return context_at(env=self.env)

    def rule_members(self, rule: dict[str, Any]) -> BitMap:
        """Who satisfies a rule now (evaluated once per batch)."""
        # Every run at a split asks with the same rule object of the journey's definition: known by identity
        # (the rule is kept with its answer, so its id is not reused), spelled out only once.
        known = self._by_identity.get(id(rule))
        if known is not None and known[0] is rule:
            return known[1]
        key = repr(sorted(rule.items()))
        if key not in self._rules:
            self._rules[key] = evaluate(read_rule(rule), self.context)
        self._by_identity[id(rule)] = (rule, self._rules[key])
        return self._rules[key]

    def segment_members(self, name: str) -> set[str]:
        """A saved segment's current members as customer numbers."""
        if name not in self._segments:
            context, members = current_members(env=self.env, name=name)
            self._segments[name] = set(context.customer_numbers(members))
        return self._segments[name]

    @cached_property
    def attributes(self) -> KeyedRows:
        """The customers snapshot on or before today (else the earliest); it needs no tag snapshot, so
        templates render before the first computation too. Kept across batches while its file holds."""
        env = self.env
        today = env.calendar.business_date(env.clock.now())
        return snapshot_rows(env.analytics, "customers", today, "customer_no")

    def kept_events(
        self, connection: Any, customer: str, event: str, since: datetime
    ) -> list[dict[str, Any]]:
        """A customer's kept events of one name since `since`: read once per event name for the batch."""
        if event not in self._inbox:
            self._inbox[event] = repo.inbox_of(connection, list(self.batch), event)
        return [e for e in self._inbox[event].get(customer, []) if e["time"] >= since]


class LiveFacts:
    """The engine's questions about one customer, answered within the batch's transaction."""

    def __init__(self, connection: Any, snapshot: Snapshot, customer_no: str) -> None:
        self.connection = connection
        self.snapshot = snapshot
        self.customer_no = customer_no

    def matches(self, rule: dict[str, Any]) -> bool:
        """Whether the customer satisfies the rule now."""
        uid = self.snapshot.context.uid_of.get(self.customer_no)
        return uid is not None and uid in self.snapshot.rule_members(rule)

    def in_segment(self, name: str) -> bool:
        """Whether the customer is in the saved segment now."""
        return self.customer_no in self.snapshot.segment_members(name)

    def attribute(self, name: str) -> Any:
        """A column of the customers snapshot for this customer (None when absent)."""
        return self.snapshot.attributes.value(self.customer_no, name)

    def event_since(self, node: WaitForEventNode, payload: dict[str, Any], since: datetime) -> bool:
        """Whether a kept event of the node's name, filters and payload match happened at or after `since`."""
        if self.customer_no in self.snapshot.batch:
            kept_events = self.snapshot.kept_events(self.connection, self.customer_no, node.event, since)
        else:
            kept_events = repo.inbox_events(self.connection, self.customer_no, node.event, since)
        for kept in kept_events:
            props = kept["properties"] or {}
            correlated = all(
                props.get(prop) == payload.get(source.removeprefix("payload."))
                for prop, source in node.match.items()
            )
            if correlated and passes(props, node.where):
                return True
        return False

    def render(self, template: str, context: dict[str, Any]) -> str:
        """A note's text rendered with `customer` (attributes, looked up only when the text reads them),
        `customer_no` and `payload`, bounded as a message is. A text that cannot be rendered for this
        customer (a value it names is missing, the sandbox refuses it) gives a note naming the fault: trying
        again would fail the same way, and the run goes on."""
        reads = variables(template)
        values = {
            "customer": self.snapshot.attributes.row(self.customer_no) if "customer" in reads else {},
            "customer_no": self.customer_no,
            "payload": context,
        }
        try:
            return render_text("text", template, values)
        except TemplateRenderError as exc:
            return f"[not rendered: {exc}]"


def passes(props: dict[str, Any], where: list[PropertyFilter]) -> bool:
    """Whether event properties pass filters (the same operators as segment rules; a missing value fails)."""
    return all(_holds(props.get(f.property), f.op, f.value) for f in where)


def _holds(value: Any, op: str, wanted: Any) -> bool:
    if op == "exists":
        return (value is not None) == (wanted in (None, True))
    if value is None:
        return False
    if op in ("in", "not_in"):
        inside = value in wanted or str(value) in [str(w) for w in wanted]
        return inside if op == "in" else not inside
    if op in ("=", "!="):
        same = value == wanted or str(value) == str(wanted)
        return same if op == "=" else not same
    try:
        left, right = float(value), float(wanted)
    except (TypeError, ValueError):
        return False
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]
