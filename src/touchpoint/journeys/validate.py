"""Checks a journey graph before it is saved: every fault named with its place (`nodes[2] (wait_1).next: …`).

Structure: unique node ids, a start that exists, no dangling edges, no unreachable nodes, no cycle that could
spin without waiting. References: events collected or catalogued, saved segments, valid split rules, known
tags and channels, templates that parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from touchpoint.channels.templates import parse_fault
from touchpoint.core.errors import ValidationError
from touchpoint.journeys.model import (
    WAITING_TYPES,
    ActionNode,
    AdvisorTask,
    EventEntry,
    JourneyDef,
    SegmentEntry,
    SendMessage,
    SetTag,
    SplitNode,
    WaitForEventNode,
    successors,
)


@dataclass(frozen=True)
class Known:
    """What a journey may refer to."""

    events: Collection[str]
    segments: Collection[str]
    tags: Mapping[str, Collection[str]]  # imported tags and their values (empty: any value)
    channels: Collection[str]
    check_rule: Callable[[dict[str, Any]], None]
    template_fault: Callable[[str, str], str | None] = lambda name, channel: None


def finding(text: str) -> dict[str, str | None]:
    """A fault as the canvas shows it: the node it concerns (None for the entry or the settings), its
    place and what is wrong. `text` is `place: message` as `problems` writes it."""
    place, _, message = text.partition(": ")
    at = _NODE_PLACE.match(place)
    return {"node": (at.group(1) or at.group(2)) if at else None, "place": place, "message": message}


def shape_fault(body: Mapping[str, Any], loc: Sequence[int | str], message: str) -> dict[str, str | None]:
    """A fault of the definition's shape (pydantic's `loc` and message), placed on its node when the body
    names one there."""
    node = None
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        nodes = body.get("nodes")
        if isinstance(nodes, list) and 0 <= loc[1] < len(nodes) and isinstance(nodes[loc[1]], dict):
            found = nodes[loc[1]].get("id")
            node = found if isinstance(found, str) else None
    place = ".".join(str(p) for p in loc)
    return {"node": node, "place": place, "message": message.removeprefix("Value error, ")}


# `nodes[2] (wait_1)…` as the checks write a place, or `nodes.wait_1…` as publication's readiness does.
_NODE_PLACE = re.compile(r"^nodes(?:\[\d+\] \(([^)]*)\)|\.([A-Za-z][A-Za-z0-9_-]*))")


def problems(journey: JourneyDef, known: Known) -> list[str]:
    """Every fault of the journey, each naming where it is; empty when the journey is sound."""
    found = _structure(journey)
    found += _references(journey, known)
    return found


def _place(index: int, node: Any) -> str:
    return f"nodes[{index}] ({node.id})"


def _structure(journey: JourneyDef) -> list[str]:
    found: list[str] = []
    ids: dict[str, int] = {}
    for i, node in enumerate(journey.nodes):
        if node.id in ids:
            found.append(f"{_place(i, node)}: id {node.id!r} is also nodes[{ids[node.id]}]")
        ids.setdefault(node.id, i)
    if journey.start not in ids:
        found.append(f"start: {_unknown(journey.start)}")
    for i, node in enumerate(journey.nodes):
        for label, target in successors(node):
            if target not in ids:
                found.append(f"{_place(i, node)}.{label}: {_unknown(target)}")
    if found:
        return found
    reachable = _reachable(journey)
    for i, node in enumerate(journey.nodes):
        if node.id not in reachable:
            found.append(f"{_place(i, node)}: unreachable from start {journey.start!r}")
    cycle = _cycle_without_wait(journey)
    if cycle:
        found.append(f"nodes {' → '.join(cycle)}: a cycle without a wait would repeat at once, forever")
    return found


def _unknown(target: str) -> str:
    if not target:
        return "leads nowhere: connect it to the next node (未连接下一个节点)"
    return f"unknown node {target!r}"


def _reachable(journey: JourneyDef) -> set[str]:
    seen, todo = {journey.start}, [journey.start]
    while todo:
        for _, target in successors(journey.node(todo.pop())):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _cycle_without_wait(journey: JourneyDef) -> list[str]:
    """A cycle among nodes that pass straight on (no wait in it), as the ids around it; empty when none."""
    instant = {n.id: [t for _, t in successors(n)] for n in journey.nodes if n.type not in WAITING_TYPES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node_id: str) -> list[str]:
        state[node_id] = 1
        path.append(node_id)
        for target in instant.get(node_id, []):
            if target not in instant:
                continue
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node_id] = 2
        path.pop()
        return []

    for node_id in instant:
        if node_id not in state and (cycle := visit(node_id)):
            return cycle
    return []


def _references(journey: JourneyDef, known: Known) -> list[str]:
    found: list[str] = []
    entry = journey.entry
    if isinstance(entry, SegmentEntry) and entry.segment not in known.segments:
        found.append(f"entry.segment: unknown segment {entry.segment!r}")
    if isinstance(entry, EventEntry) and entry.event not in known.events:
        found.append(f"entry.event: unknown event {entry.event!r}")
    if journey.goal is not None and journey.goal.event not in known.events:
        found.append(f"goal.event: unknown event {journey.goal.event!r}")
    for i, criterion in enumerate(journey.exit_criteria):
        if criterion.event is not None and criterion.event not in known.events:
            found.append(f"exit_criteria[{i}].event: unknown event {criterion.event!r}")
        if criterion.segment is not None and criterion.segment not in known.segments:
            found.append(f"exit_criteria[{i}].segment: unknown segment {criterion.segment!r}")
    for i, node in enumerate(journey.nodes):
        found += [f"{_place(i, node)}{fault}" for fault in _node_references(node, known)]
    return found


def _node_references(node: Any, known: Known) -> list[str]:
    found: list[str] = []
    if isinstance(node, WaitForEventNode) and node.event not in known.events:
        found.append(f".event: unknown event {node.event!r}")
    if isinstance(node, SplitNode):
        for j, branch in enumerate(node.branches):
            try:
                known.check_rule(branch.rule)
            except (ValidationError, ValueError) as exc:  # the checker names the fault; we add the place
                found.append(f".branches[{j}].rule: {exc}")
    if isinstance(node, ActionNode):
        action = node.action
        if isinstance(action, SendMessage):
            if action.channel not in known.channels:
                found.append(f".action.channel: unknown channel {action.channel!r}")
            elif action.template is not None:
                fault = known.template_fault(action.template, action.channel)
                if fault:
                    found.append(f".action.template: {fault}")
            if action.text is not None:
                fault = template_fault(action.text)
                if fault:
                    found.append(f".action.text: {fault}")
        if isinstance(action, AdvisorTask):
            for place, text in (("title", action.title), ("talking_points", action.talking_points)):
                fault = template_fault(text)
                if fault:
                    found.append(f".action.{place}: {fault}")
        if isinstance(action, SetTag):
            if action.tag not in known.tags:
                found.append(f".action.tag: {action.tag!r} is not an imported tag (only those can be set)")
            elif known.tags[action.tag] and action.value not in known.tags[action.tag]:
                found.append(f".action.value: {action.value!r} is not a value of tag {action.tag!r}")
    return found


def template_fault(text: str) -> str | None:
    """Why a note's or a task's text does not parse (or compile) as a template, or None: the same check
    as a message template's, since the text is rendered as one."""
    return parse_fault(text)
