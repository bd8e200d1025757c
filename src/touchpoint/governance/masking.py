"""How personal data is shown: the one set of masking rules used by the CLI, the API and exports.

**Customer numbers.** A customer number is shown whole only where the caller asked for those customers in
order to act on them: one customer looked up by number (`customer show`, `identity show`, a channel's inbox
or consent, the paths of a journey test walk of the customers named), a tag's member list, and an export
(`segment export`, audited). Everywhere a number only illustrates a count — a rule preview's sample, a
journey's run list and its stuck runs, a simulation's sample paths — it is masked with `mask_customer_no`:
enough to tell rows apart, not enough to identify a customer.

**Personal data (PII).** Names, phone numbers, ID numbers, emails and addresses are masked for a caller
without `pii:view` (`138****5678`, `张*`), in every answer and export. Which attributes hold them is declared
(`Settings.pii_attributes`: attribute → kind), not guessed from the values; identifiers of the kinds `phone`
and `email` are masked the same way. `PiiMask` applies the rules for one caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from touchpoint.config import PiiKind
from touchpoint.governance.model import Principal

KEEP_HEAD = 3
KEEP_TAIL = 2

PII_ID_TYPES: dict[str, PiiKind] = {"phone": "phone", "mobile": "phone", "email": "email"}
"""One ID identifier types whose values are personal data."""


def mask_customer_no(number: str) -> str:
    """`C1000123` → `C10***23`; a number of 5 characters or fewer is starred whole (`C12` → `***`), as its
    head and tail together would show all of it."""
    if len(number) <= KEEP_HEAD + KEEP_TAIL:
        return "*" * len(number)
    return f"{number[:KEEP_HEAD]}{'*' * (len(number) - KEEP_HEAD - KEEP_TAIL)}{number[-KEEP_TAIL:]}"


def mask_pii(kind: PiiKind, value: str) -> str:
    """One value of one kind, masked: a phone keeps its first 3 and last 4 digits (`138****5678`), a name its
    first character (`张*`, `欧阳**`), an ID number its first 3 and last 4, an email its first character and
    domain (`z***@broker.cn`), an address its first 6 characters. Too short to keep anything: all stars."""
    if kind == "name":
        return value[:1] + "*" * (len(value) - 1) if len(value) > 1 else "*"
    if kind == "email":
        local, at, domain = value.partition("@")
        return f"{local[:1]}***@{domain}" if at and local else "*" * len(value)
    head, tail = {"phone": (3, 4), "id_number": (3, 4), "address": (6, 0)}[kind]
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + (value[-tail:] if tail else "")


def personal_values(row: Mapping[str, Any], attributes: Mapping[str, PiiKind]) -> list[tuple[PiiKind, str]]:
    """The declared personal values a record holds (its name, phone, …), by kind: what `PiiMask.text`
    masks wherever a message repeats them."""
    return [(kind, str(row[name])) for name, kind in attributes.items() if row.get(name)]


class PiiMask:
    """The masking of personal data for one caller: nothing for a holder of `pii:view`, the rules above for
    everyone else."""

    def __init__(self, principal: Principal, attributes: Mapping[str, PiiKind]) -> None:
        self.active = not principal.can("pii:view")
        self.attributes = attributes

    def record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of an attribute record with each declared attribute's text masked."""
        if not self.active:
            return dict(row)
        return {key: self.value(key, value) for key, value in row.items()}

    def value(self, attribute: str, value: Any) -> Any:
        """One attribute's value, masked when the attribute is declared personal and the value is text."""
        kind = self.attributes.get(attribute)
        if not self.active or kind is None or value is None:
            return value
        return mask_pii(kind, str(value))

    def identifier(self, id_type: str, value: str) -> str:
        """An identifier's value, masked when its type is a phone or an email."""
        kind = PII_ID_TYPES.get(id_type)
        return mask_pii(kind, value) if self.active and kind is not None else value

    def label(self, text: str) -> str:
        """An identifier written `type:value` (One ID's log and separations), its value masked by its type."""
        kind, sep, rest = text.partition(":")
        return f"{kind}{sep}{self.identifier(kind, rest)}" if sep else text

    def text(self, text: str, known: Iterable[tuple[PiiKind, str]]) -> str:
        """Free text (a message's content) with every occurrence of the known values masked, longest first so
        that a value inside another is not half masked."""
        if not self.active:
            return text
        for kind, value in sorted(known, key=lambda pair: -len(pair[1])):
            if value:
                text = text.replace(value, mask_pii(kind, value))
        return text

    def tree(self, value: Any, known: Iterable[tuple[PiiKind, str]]) -> Any:
        """A JSON-like value (a send's evidence) with `text` applied to every string in it."""
        if not self.active:
            return value
        pairs = list(known)
        if isinstance(value, str):
            return self.text(value, pairs)
        if isinstance(value, dict):
            return {k: self.tree(v, pairs) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v, pairs) for v in value]
        return value
