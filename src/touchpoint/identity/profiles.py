"""Profile operations with their SDK semantics (pure): set, set once, increment, append, unset, delete."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Number
from typing import Any


@dataclass
class ProfileChange:
    """What an operation does to a profile: values to write, keys to remove, or remove everything."""

    writes: dict[str, Any] = field(default_factory=dict)
    removes: set[str] = field(default_factory=set)
    delete_all: bool = False


def apply_operation(
    current: dict[str, Any], op: str, values: dict[str, Any], once: dict[str, Any]
) -> ProfileChange:
    """The change `op` makes to a profile whose present values are `current`."""
    change = ProfileChange()
    if op == "profile_delete":
        change.delete_all = True
    elif op == "profile_unset":
        change.removes = {k for k, v in values.items() if v}
    elif op == "profile_increment":
        change.writes = _increments(current, values)
    elif op == "profile_append":
        change.writes = _appends(current, values)
    elif op == "profile_set_once":
        change.writes = {k: v for k, v in values.items() if k not in current}
    else:
        change.writes = dict(values)
    change.writes.update({k: v for k, v in once.items() if k not in current and k not in change.writes})
    return change


def _increments(current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, delta in values.items():
        if isinstance(delta, bool) or not isinstance(delta, Number):
            continue
        base = current.get(key, 0)
        base = base if isinstance(base, Number) and not isinstance(base, bool) else 0
        out[key] = base + delta  # type: ignore[operator]
    return out


def _appends(current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, items in values.items():
        additions = items if isinstance(items, list) else [items]
        existing = current.get(key)
        merged = list(existing) if isinstance(existing, list) else []
        merged.extend(str(item) for item in additions if str(item) not in merged)
        out[key] = merged
    return out
