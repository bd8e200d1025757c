"""One definitions registry: the same verbs for every kind (indicator, tag, segment, template, journey).

As Feast's registry does for its objects, every kind is read and written through `apply`, `get`, `list`,
`delete`, `history` and `diff`; a domain registers its kind once (`DefinitionKind`: how a body is parsed,
checked against the other definitions, and written with its side rows). A whole configuration travels as a
directory (`DIR/<kind>/<name>.yaml`): `export`, `plan` (what would change, with a diff) and `apply` — which
writes every change in one transaction, or holds them all in one approval request when `definitions.apply`
needs approval or any one change needs approval on its own (a live journey's segment, `segment.change`).
"""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticError
from sqlalchemy import Connection

from touchpoint.core.clock import Clock
from touchpoint.core.errors import ConflictError, NotFoundError, ValidationError, pydantic_faults
from touchpoint.governance import approvals
from touchpoint.governance.audit import record_operation
from touchpoint.governance.model import Principal
from touchpoint.store import OperationalStore
from touchpoint.store.operational import definitions as store

M = TypeVar("M", bound=BaseModel)
Bundle = Mapping[str, Mapping[str, Any]]
"""Parsed definitions by kind and name: what a directory brings, seen by each check beside the live ones."""


@dataclass(frozen=True)
class DefinitionKind:
    """How one kind of definition is parsed, checked, written and deleted (registered by its domain)."""

    name: str
    parse: Callable[[str, Any], BaseModel]
    """(name, body) → the parsed definition, or ValidationError naming the faults."""
    dump: Callable[[BaseModel], dict[str, Any]]
    """The stored body of a parsed definition (what export writes and plan compares)."""
    check: Callable[[BaseModel, Bundle], None]
    """Refuse references to definitions that neither exist nor come in the same bundle."""
    write: Callable[[Connection, Principal, BaseModel], int]
    """Write a new version with its side rows and audit entry, in the caller's transaction."""
    delete: Callable[[Principal, str], None]
    read: str
    """The permission that reads this kind (a name of the permissions catalogue: mot_rule → moment:read)."""
    gate: Callable[[str, dict[str, Any] | None, dict[str, Any]], str | None] = field(
        default=lambda name, before, after: None
    )
    """The approval action a single save needs (a live segment's rule), or None."""


class DefinitionVersionRead(BaseModel):
    """One stored version of a definition (a None body marks a deletion)."""

    kind: str
    name: str
    version: int
    body: dict[str, Any] | None
    actor: str
    created_at: datetime


class PlanItem(BaseModel):
    """What applying a directory does to one definition."""

    kind: str
    name: str
    action: Literal["create", "update", "unchanged", "absent"] = Field(
        description="absent: live but not in the directory (kept; apply never deletes)"
    )
    live_version: int = Field(description="the version live now (0: none)")
    diff: str = ""


class PlanRead(BaseModel):
    """Every definition a directory touches, in the order apply writes them."""

    items: list[PlanItem]
    changes: int


class ApplyRead(PlanRead):
    """What apply did: written at once, or held in one approval request."""

    applied: bool
    pending_approval: approvals.ApprovalRead | None = None


class SaveRead(BaseModel):
    """One definition saved through the registry: its version, or the request holding it."""

    kind: str
    name: str
    version: int | None = None
    changed: bool = False
    pending_approval: approvals.ApprovalRead | None = None


def write_definition(
    connection: Connection,
    *,
    clock: Clock,
    principal: Principal,
    kind: str,
    name: str,
    body: dict[str, Any],
) -> int:
    """Store a new version with its audit entry, in the caller's transaction; an unchanged body adds
    nothing. Returns the definition's version (the existing one when nothing changed)."""
    before = store.current(connection, kind).get(name)
    if before == body:
        return len(store.history(connection, kind, name))
    version = store.save(connection, kind, name, body, actor=principal.user, now=clock.now())
    record_operation(
        connection,
        clock=clock,
        principal=principal,
        action=f"{kind}.save",
        target_type=kind,
        target_id=name,
        before=before,
        after=body,
    )
    return version


def remove_definition(
    connection: Connection, *, clock: Clock, principal: Principal, kind: str, name: str
) -> None:
    """Delete a live definition (a version without a body) with its audit entry, in the caller's
    transaction; NotFoundError when there is none."""
    before = store.current(connection, kind).get(name)
    if before is None:
        raise NotFoundError(f"no {kind} named {name!r}")
    store.save(connection, kind, name, None, actor=principal.user, now=clock.now())
    record_operation(
        connection,
        clock=clock,
        principal=principal,
        action=f"{kind}.delete",
        target_type=kind,
        target_id=name,
        before=before,
        after=None,
    )


def parse_named(model: type[M], kind: str, name: str, body: Any) -> M:
    """A definition from a mapping, its name taken from where it is stored; faults named with the kind."""
    if not isinstance(body, dict):
        raise ValidationError(f"{kind} {name}: a definition is a mapping, not {type(body).__name__}")
    try:
        return model.model_validate({**body, "name": name})
    except PydanticError as exc:
        raise ValidationError(f"{kind} {name}: {pydantic_faults(exc)}") from None


def yaml_text(body: Any) -> str:
    """A body as the YAML a directory holds (keys in their stored order, Chinese kept readable)."""
    return str(yaml.safe_dump(body, allow_unicode=True, sort_keys=False))


def body_diff(kind: str, name: str, before: Any, after: Any) -> str:
    """A unified diff of two bodies as YAML (empty when they are equal)."""
    old = [] if before is None else yaml_text(before).splitlines(keepends=True)
    new = [] if after is None else yaml_text(after).splitlines(keepends=True)
    where = f"{kind}/{name}.yaml"
    return "".join(difflib.unified_diff(old, new, fromfile=f"live/{where}", tofile=where))


class Registry:
    """The definitions of every registered kind, behind one set of verbs."""

    def __init__(self, *, ops: OperationalStore, clock: Clock, kinds: Sequence[DefinitionKind]) -> None:
        """`kinds` in dependency order: a kind may only reference kinds before it."""
        self._ops = ops
        self._clock = clock
        self._kinds = {k.name: k for k in kinds}

    @property
    def kinds(self) -> builtins.list[str]:
        """Kind names in the order apply writes them."""
        return list(self._kinds)

    def kind(self, name: str) -> DefinitionKind:
        """A registered kind, or NotFoundError naming the known ones."""
        found = self._kinds.get(name)
        if found is None:
            raise NotFoundError(f"no definition kind {name!r} (kinds: {', '.join(self._kinds)})")
        return found

    def list(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every live body of `kind`, by name."""
        self.kind(kind)
        with self._ops.begin() as connection:
            return dict(sorted(store.current(connection, kind).items()))

    def history(self, kind: str, name: str) -> builtins.list[DefinitionVersionRead]:
        """Every version of one definition, oldest first (NotFoundError when it never existed)."""
        self.kind(kind)
        with self._ops.begin() as connection:
            versions = store.history(connection, kind, name)
        if not versions:
            raise NotFoundError(f"no {kind} named {name!r}")
        return [DefinitionVersionRead.model_validate(v) for v in versions]

    def get(self, kind: str, name: str, version: int | None = None) -> DefinitionVersionRead:
        """The newest live version, or the given one."""
        versions = self.history(kind, name)
        if version is None:
            if versions[-1].body is None:
                raise NotFoundError(f"{kind} {name!r} was deleted (version {versions[-1].version})")
            return versions[-1]
        chosen = [v for v in versions if v.version == version]
        if not chosen:
            raise NotFoundError(f"{kind} {name!r} has no version {version}")
        return chosen[0]

    def diff(self, kind: str, name: str, body: Any) -> str:
        """What saving `body` would change in the live version, as a unified diff."""
        definition = self.kind(kind).parse(name, body)
        return body_diff(kind, name, self.list(kind).get(name), self.kind(kind).dump(definition))

    def delete(self, principal: Principal, kind: str, name: str) -> None:
        """Delete one definition through its domain (which refuses while others depend on it)."""
        self.kind(kind).delete(principal, name)

    def save(self, principal: Principal, kind: str, name: str, body: Any) -> SaveRead:
        """Check and store one definition, or hold it for approval when its kind's gate says so."""
        entry = self.kind(kind)
        definition = entry.parse(name, body)
        entry.check(definition, {})
        after = entry.dump(definition)
        before = self.list(kind).get(name)
        if before == after:
            return SaveRead(kind=kind, name=name, version=self._live_version(kind, name))
        gate = self._gate(kind, name, before, after)
        if gate is not None:
            held = approvals.request(
                self._ops,
                clock=self._clock,
                principal=principal,
                name=gate,
                target=f"{kind}/{name}",
                summary=f"save {kind} {name}",
                payload={"items": [self._item(kind, name, after)]},
                diff=body_diff(kind, name, before, after),
            )
            return SaveRead(kind=kind, name=name, pending_approval=held)
        with self._ops.begin() as connection:
            version = entry.write(connection, principal, definition)
        return SaveRead(kind=kind, name=name, version=version, changed=True)

    def held_by(self, kind: str, name: str, body: dict[str, Any]) -> str | None:
        """The approval action that saving `body` (as `dump` gives it) as `name` would be held for now —
        its kind's gate, switched on — or None when it would be written at once."""
        before = self.list(kind).get(name)
        return None if before == body else self._gate(kind, name, before, body)

    def _gate(self, kind: str, name: str, before: dict[str, Any] | None, after: dict[str, Any]) -> str | None:
        gate = self.kind(kind).gate(name, before, after)
        return gate if gate is not None and approvals.required(self._ops, gate) else None

    def export(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every live body of every kind: what `definitions export DIR` writes."""
        return {kind: self.list(kind) for kind in self._kinds}

    def plan(self, documents: Bundle) -> PlanRead:
        """What applying `documents` (raw bodies by kind and name) would change; nothing is written.

        Every body is parsed and checked against the live definitions together with the whole bundle, so a
        tag may read an indicator that comes in the same directory."""
        bundle = self._parse(documents)
        for kind, definitions in bundle.items():
            entry = self._kinds[kind]
            for definition in definitions.values():
                entry.check(definition, bundle)
        items: list[PlanItem] = []
        for kind in self._kinds:
            live = self.list(kind)
            with self._ops.begin() as connection:
                versions = {name: len(store.history(connection, kind, name)) for name in live}
            for name, definition in bundle.get(kind, {}).items():
                after = self._kinds[kind].dump(definition)
                before = live.get(name)
                action: Literal["create", "update", "unchanged"] = (
                    "create" if before is None else "unchanged" if before == after else "update"
                )
                items.append(
                    PlanItem(
                        kind=kind,
                        name=name,
                        action=action,
                        live_version=versions.get(name, 0),
                        diff=body_diff(kind, name, before, after),
                    )
                )
            items += [
                PlanItem(kind=kind, name=name, action="absent", live_version=versions[name])
                for name in sorted(set(live) - set(bundle.get(kind, {})))
            ]
        return PlanRead(items=items, changes=sum(1 for i in items if i.action in ("create", "update")))

    def apply(self, principal: Principal, documents: Bundle) -> ApplyRead:
        """Write every change of a directory in one transaction, or hold them all in one approval request:
        when `definitions.apply` needs approval, or else when any change needs it on its own (its kind's
        gate, as saving it alone would: a live journey's segment) — the request then names that action."""
        plan = self.plan(documents)
        changes = [i for i in plan.items if i.action in ("create", "update")]
        if not changes:
            return ApplyRead(**plan.model_dump(), applied=True)
        bundle = self._parse(documents)
        items = [
            {
                **self._item(i.kind, i.name, self._kinds[i.kind].dump(bundle[i.kind][i.name])),
                "base": i.live_version,
            }
            for i in changes
        ]
        summary = f"apply {len(changes)} definition change(s): "
        gate: str | None = "definitions.apply"
        if not approvals.required(self._ops, "definitions.apply"):
            gated = self._gated(items)
            gate = next(iter(gated.values()), None)
            if gated:
                summary += f"held because {', '.join(gated)} need(s) {gate}; "
        if gate is not None:
            held = approvals.request(
                self._ops,
                clock=self._clock,
                principal=principal,
                name=gate,
                target=", ".join(sorted({i.kind for i in changes})),
                summary=summary + ", ".join(f"{i.kind}/{i.name}" for i in changes[:20]),
                payload={"items": items},
                diff="".join(i.diff for i in changes),
            )
            return ApplyRead(**plan.model_dump(), applied=False, pending_approval=held)
        self.writer(items, principal)(None)
        return ApplyRead(**plan.model_dump(), applied=True)

    def _gated(self, items: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """`kind/name` → the approval action each item needs on its own now (items that need none left
        out)."""
        live = {kind: self.list(kind) for kind in {i["kind"] for i in items}}
        gated: dict[str, str] = {}
        for item in items:
            kind, name = item["kind"], item["name"]
            gate = self._gate(kind, name, live[kind].get(name), item["body"])
            if gate is not None:
                gated[f"{kind}/{name}"] = gate
        return gated

    def handler(self, payload: Mapping[str, Any], maker: Principal) -> approvals.Writer:
        """The approval handler of `definitions.apply` and `segment.change`: check again, then write."""
        return self.writer(list(payload["items"]), maker)

    def writer(
        self, items: Sequence[Mapping[str, Any]], principal: Principal
    ) -> Callable[[Connection | None], dict[str, Any]]:
        """Parse and check `items` now (outside any transaction); the writer refuses, in its transaction, an
        item whose live version moved since it was planned, and writes the rest in dependency order."""
        documents: dict[str, dict[str, Any]] = {}
        for item in items:
            documents.setdefault(item["kind"], {})[item["name"]] = item["body"]
        bundle = self._parse(documents)
        for kind, definitions in bundle.items():
            for definition in definitions.values():
                self._kinds[kind].check(definition, bundle)
        ordered = sorted(items, key=lambda i: self.kinds.index(i["kind"]))

        def write(connection: Connection | None) -> dict[str, Any]:
            if connection is None:
                with self._ops.begin() as own:
                    return write(own)
            versions: dict[str, int] = {}
            for item in ordered:
                kind, name = item["kind"], item["name"]
                live = len(store.history(connection, kind, name))
                if "base" in item and live != item["base"]:
                    raise ConflictError(
                        f"{kind} {name} changed since the request (version {item['base']} → {live}); "
                        "plan and apply again"
                    )
                version = self._kinds[kind].write(connection, principal, bundle[kind][name])
                versions[f"{kind}/{name}"] = version
            return {"versions": versions}

        return write

    def _item(self, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"kind": kind, "name": name, "body": body, "base": self._live_version(kind, name)}

    def _live_version(self, kind: str, name: str) -> int:
        with self._ops.begin() as connection:
            return len(store.history(connection, kind, name))

    def _parse(self, documents: Bundle) -> dict[str, dict[str, BaseModel]]:
        parsed: dict[str, dict[str, BaseModel]] = {}
        for kind, bodies in documents.items():
            entry = self.kind(kind)
            parsed[kind] = {name: entry.parse(name, body) for name, body in bodies.items()}
        return parsed


def read_directory(root: Path) -> dict[str, dict[str, Any]]:
    """Bodies from `root/<kind>/<name>.yaml`, by kind and name (a file's name is its definition's name)."""
    base = Path(root)
    if not base.is_dir():
        raise ValidationError(f"{base} is not a directory")
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(base.glob("*/*.yaml")):
        kind, name = path.parent.name, path.stem
        try:
            body = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ValidationError(f"{kind}/{path.name}: not valid UTF-8 YAML: {exc}") from None
        if not isinstance(body, dict):
            raise ValidationError(f"{kind}/{path.name}: a definition is a mapping, not {type(body).__name__}")
        if body.get("name", name) != name:
            raise ValidationError(
                f"{kind}/{path.name}: the file names {name!r} but its body names {body['name']!r}"
            )
        documents.setdefault(kind, {})[name] = body
    return documents


def write_directory(root: Path, exported: Mapping[str, Mapping[str, Any]]) -> tuple[int, int]:
    """Write each body to `root/<kind>/<name>.yaml`, and remove the YAML files of definitions that are no
    longer live, so that the directory mirrors the registry (a git diff then shows every change).

    `root` may be new, but its parent must exist. Returns (files written, files removed)."""
    base = Path(root)
    if not base.parent.is_dir():
        raise ValidationError(f"{base.parent} does not exist; create it first (export writes {base}/<kind>/)")
    if base.exists() and not base.is_dir():
        raise ValidationError(f"{base} is a file; export writes a directory")
    written = removed = 0
    for kind, bodies in exported.items():
        folder = base / kind
        folder.mkdir(parents=True, exist_ok=True)
        for name, body in bodies.items():
            (folder / f"{name}.yaml").write_text(yaml_text(body), encoding="utf-8")
            written += 1
        for stale in folder.glob("*.yaml"):
            if stale.stem not in bodies:
                stale.unlink()
                removed += 1
    return written, removed
