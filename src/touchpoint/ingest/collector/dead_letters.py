"""Dead letters as an operator sees them: list the event-log records a consumer could not process, and ask
for one to be tried again (the consumer does so on its next pass: the worker, not the caller, runs it)."""

from __future__ import annotations

from touchpoint.core.clock import Clock
from touchpoint.core.errors import ConflictError, NotFoundError, UnauthorizedError
from touchpoint.governance import Principal, record_operation
from touchpoint.ingest.collector.model import DeadLetterPage, DeadLetterRead
from touchpoint.store import OperationalStore
from touchpoint.store.operational import dead_letters

ACTION = "collector.dead_letter.retry"


def list_dead_letters(
    *,
    ops: OperationalStore,
    principal: Principal,
    consumer: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> DeadLetterPage:
    """The newest dead letters (optionally of one consumer or status) and the counts of all of them.

    They hold events of any customer, so only a caller who sees every customer may read them."""
    _require_all_customers(principal)
    with ops.begin() as connection:
        letters = dead_letters.list_letters(connection, consumer=consumer, status=status, limit=limit)
        counts = dead_letters.counts(connection)
    unresolved = sum(n for by in counts.values() for s, n in by.items() if s != dead_letters.RESOLVED)
    return DeadLetterPage(unresolved=unresolved, counts=counts, items=[_read(d) for d in letters])


def retry_dead_letter(
    *, ops: OperationalStore, clock: Clock, principal: Principal, letter_id: int
) -> DeadLetterRead:
    """Ask the letter's consumer to process the record again on its next pass (recorded in the audit log);
    asking again while it waits changes nothing. A resolved letter cannot be retried (ConflictError)."""
    _require_all_customers(principal)
    with ops.begin() as connection:
        letter = dead_letters.get_letter(connection, letter_id)
        if letter is None:
            raise NotFoundError(f"no dead letter {letter_id}")
        if letter.status == dead_letters.RESOLVED:
            raise ConflictError(f"dead letter {letter_id} is resolved already")
        if letter.status == dead_letters.OPEN:
            letter = dead_letters.request_retry(connection, letter_id) or letter
            record_operation(
                connection,
                clock=clock,
                principal=principal,
                action=ACTION,
                target_type="dead_letter",
                target_id=str(letter_id),
                before={"status": dead_letters.OPEN, "consumer": letter.consumer, "offset": letter.offset},
                after={"status": letter.status},
            )
    return _read(letter)


def dead_letter_counts(*, ops: OperationalStore) -> dict[str, dict[str, int]]:
    """Letters per consumer and status (for status output and metrics)."""
    with ops.begin() as connection:
        return dead_letters.counts(connection)


def _require_all_customers(principal: Principal) -> None:
    if not principal.sees_everything:
        raise UnauthorizedError("dead letters hold events of every customer: the caller must see all")


def _read(letter: dead_letters.DeadLetter) -> DeadLetterRead:
    return DeadLetterRead.model_validate(letter, from_attributes=True)
