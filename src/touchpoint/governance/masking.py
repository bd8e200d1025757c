"""How customer numbers are shown: the one rule used by the CLI, the API and exports.

A customer number is shown whole only where the caller asked for those customers in order to act on them:
one customer looked up by number (`customer show`, `identity show`, a channel's inbox or consent, the paths
of a journey test walk of the customers named), a tag's member list, and an export (`segment export`,
audited). Everywhere a number only illustrates a count — a rule preview's sample, a journey's run list and
its stuck runs, a simulation's sample paths — it is masked with `mask_customer_no`: enough to tell rows
apart, not enough to identify a customer.
"""

from __future__ import annotations

KEEP_HEAD = 3
KEEP_TAIL = 2


def mask_customer_no(number: str) -> str:
    """`C1000123` → `C10***23`; a number of 5 characters or fewer is starred whole (`C12` → `***`), as its
    head and tail together would show all of it."""
    if len(number) <= KEEP_HEAD + KEEP_TAIL:
        return "*" * len(number)
    return f"{number[:KEEP_HEAD]}{'*' * (len(number) - KEEP_HEAD - KEEP_TAIL)}{number[-KEEP_TAIL:]}"
