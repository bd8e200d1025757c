"""Customer attributes in rules: a value compared with an attribute is of the attribute's own type.

Tags and segments read the customers snapshot as typed columns — text, dates, yes/no, numbers — and a rule is
JSON, where a date is text. Every rule value compared with an attribute goes through `typed_attribute_value`,
so that a date is compared as a date on every path, a whole number written for a text code (a branch 3101)
reads as its digits, and a value of another type is refused naming the attribute instead of matching nobody
or failing inside an engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from touchpoint.core.errors import ValidationError
from touchpoint.ingest import TABLES
from touchpoint.ingest.model import Kind

ATTRIBUTE_KINDS: Mapping[str, Kind] = {
    column.name: column.kind for column in TABLES["customers"].columns if column.name != "customer_no"
}
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def typed_attribute_value(attribute: str, value: Any, where: str | None = None) -> Any:
    """`value` (or each value of a list) as the customers column `attribute` holds it: text, a number, true
    or false, or a date from its `YYYY-MM-DD` text. ValidationError naming the attribute (after `where`, the
    place of the rule) for a value of another type or no value; a name that is not a customers attribute is
    left to the caller's check of names."""
    kind = ATTRIBUTE_KINDS.get(attribute)
    if kind is None:
        return value
    subject = f"{where}: attribute {attribute}" if where else f"attribute {attribute}"
    if isinstance(value, list):
        return [_typed(subject, kind, item) for item in value]
    return _typed(subject, kind, value)


def _typed(subject: str, kind: Kind, value: Any) -> Any:
    """One value as a column of `kind` holds it."""
    if value is None:
        raise ValidationError(f"{subject}: no value to compare with (customers without one: exists false)")
    if kind is Kind.DATE:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value  # typed already (a segment's condition passes through here twice)
        if isinstance(value, str) and DATE_TEXT.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise ValidationError(f"{subject} is a date: write it as YYYY-MM-DD, not {value!r}")
    if kind is Kind.BOOL:
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):  # what a form field holds
            return value == "true"
        raise ValidationError(f"{subject} is true or false, not {value!r}")
    if kind in (Kind.INT, Kind.FLOAT):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise ValidationError(f"{subject} is a number, not {value!r}")
    if kind is not Kind.STRING:
        raise ValidationError(f"{subject} holds {kind.value} values, which rules do not compare")
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # A code written without quotes (branch 3101) means its digits; rules saved so still select
        # what they name.
        return str(value)
    raise ValidationError(f"{subject} is text, not {value!r}: write it in quotes, {json.dumps(str(value))}")
