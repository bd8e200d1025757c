"""The audit log: who changed, exported, viewed or signed in to what, from where, with before and after.

Append-only and chained: each entry carries the hash of the one before (store/operational/audit.py), so
`verify` finds an entry that was edited, removed or moved, and says at which position.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from touchpoint.core.clock import Clock
from touchpoint.governance.model import AuditEntryRead, AuditProblem, AuditVerifyRead, Principal
from touchpoint.store import OperationalStore
from touchpoint.store.operational import audit as rows


def record_operation(
    connection: Connection,
    *,
    clock: Clock,
    principal: Principal,
    action: str,
    target_type: str,
    target_id: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one entry to the audit log inside the caller's transaction."""
    rows.append(
        connection,
        {
            "at": clock.now(),
            "actor": principal.user,
            "source": principal.source,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "before": before,
            "after": after,
        },
    )


def record(
    ops: OperationalStore,
    *,
    clock: Clock,
    principal: Principal,
    action: str,
    target_type: str,
    target_id: str,
    after: Any = None,
) -> None:
    """Append one entry in a transaction of its own (a view, an export, a sign-in: nothing else changes)."""
    with ops.begin() as connection:
        record_operation(
            connection,
            clock=clock,
            principal=principal,
            action=action,
            target_type=target_type,
            target_id=target_id,
            after=after,
        )


def search(
    ops: OperationalStore,
    *,
    actor: str | None = None,
    kind: str | None = None,
    target: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_seq: int | None = None,
) -> list[AuditEntryRead]:
    """Entries matching every filter given, newest first (`before_seq` pages further back)."""
    with ops.begin() as connection:
        found = rows.search(
            connection,
            actor=actor,
            kind=kind,
            target=target,
            action=action,
            since=since,
            until=until,
            limit=limit,
            before_seq=before_seq,
        )
    return [AuditEntryRead.model_validate(entry) for entry in found]


def verify(ops: OperationalStore) -> AuditVerifyRead:
    """Walk the chain from the first entry and report every place it breaks.

    An edited entry no longer matches its own hash; a removed one leaves a gap in the positions and a
    previous-hash that names no entry; moved entries come out of position order. The head row must name the
    last entry, so removing entries from the end is found too."""
    problems: list[AuditProblem] = []
    count, expected_seq, prev_hash = 0, 1, rows.GENESIS
    with ops.begin() as connection:
        for entry in rows.walk(connection):
            count += 1
            problems.extend(_check_entry(entry, expected_seq, prev_hash))
            if (
                entry["seq"] is not None
            ):  # a row outside the chain is reported alone; the chain goes on past it
                expected_seq = entry["seq"] + 1
                prev_hash = entry["hash"] or ""
        head_seq, head_hash = rows.head(connection)
    if (head_seq, head_hash) != (expected_seq - 1, prev_hash):
        problems.append(
            AuditProblem(
                seq=None,
                id=None,
                problem=f"the head names entry {head_seq} but the log ends at {expected_seq - 1}"
                " (entries removed from the end, or the head edited)",
            )
        )
    return AuditVerifyRead(entries=count, ok=not problems, problems=problems)


def _check_entry(entry: dict[str, Any], expected_seq: int, prev_hash: str) -> list[AuditProblem]:
    seq = entry["seq"]
    found: list[AuditProblem] = []

    def problem(text: str) -> None:
        found.append(AuditProblem(seq=seq, id=entry["id"], problem=text))

    if seq is None:
        problem("the entry has no position (written outside the chain)")
        return found
    if seq != expected_seq:
        problem(
            f"position {seq} follows {expected_seq - 1}: "
            + ("entries are missing before it" if seq > expected_seq else "entries were moved")
        )
    if entry["prev_hash"] != prev_hash:
        problem("its previous-hash does not name the entry before it (an entry removed or moved)")
    if entry["hash"] != rows.entry_hash(entry["prev_hash"] or "", entry):
        problem("its content does not match its hash (the entry was edited)")
    return found
