"""Rule values compared with customer attributes take the attribute's own type."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.core.errors import ValidationError
from touchpoint.tags.attributes import ATTRIBUTE_KINDS, typed_attribute_value
from touchpoint.tags.evaluate import rule_values
from touchpoint.tags.model import TagDef
from touchpoint.tags.references import check_tag


@pytest.mark.parametrize(
    ("attribute", "value", "typed"),
    [
        ("branch_id", "3101", "3101"),
        ("branch_id", 3101, "3101"),  # a code written without quotes means its digits
        ("branch_id", ["3101", 3102], ["3101", "3102"]),
        ("consent_marketing", "true", True),  # a form field's text
        ("open_date", "2020-06-01", date(2020, 6, 1)),
        ("open_date", ["2020-01-01", "2024-02-29"], [date(2020, 1, 1), date(2024, 2, 29)]),
        ("consent_marketing", False, False),
        ("not_an_attribute", 5, 5),  # names are the callers' check
    ],
)
def test_a_value_of_the_attributes_type_is_read_as_the_column_holds_it(
    attribute: str, value: Any, typed: Any
) -> None:
    assert typed_attribute_value(attribute, value) == typed


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("branch_id", 31.5, 'attribute branch_id is text, not 31.5: write it in quotes, "31.5"'),
        ("risk_level", True, 'attribute risk_level is text, not True: write it in quotes, "True"'),
        ("open_date", "2020-6-1", "attribute open_date is a date: write it as YYYY-MM-DD, not '2020-6-1'"),
        (
            "open_date",
            "2023-02-29",
            "attribute open_date is a date: write it as YYYY-MM-DD, not '2023-02-29'",
        ),
        ("open_date", "20200601", "attribute open_date is a date: write it as YYYY-MM-DD, not '20200601'"),
        ("open_date", 20200601, "attribute open_date is a date: write it as YYYY-MM-DD, not 20200601"),
        ("consent_marketing", "yes", "attribute consent_marketing is true or false, not 'yes'"),
        ("consent_marketing", 0, "attribute consent_marketing is true or false, not 0"),
        ("city", None, "attribute city: no value to compare with (customers without one: exists false)"),
        (
            "city",
            ["上海", None],
            "attribute city: no value to compare with (customers without one: exists false)",
        ),
    ],
)
def test_a_value_of_another_type_is_refused_naming_the_attribute(
    attribute: str, value: Any, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        typed_attribute_value(attribute, value, None)
    assert str(refused.value) == message
    with pytest.raises(ValidationError) as placed:
        typed_attribute_value(attribute, value, "tag t")
    assert str(placed.value) == f"tag t: {message}"


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_every_date_written_as_yyyy_mm_dd_is_that_date(day: date) -> None:
    assert typed_attribute_value("birth_date", day.isoformat()) == day


def test_every_customers_column_but_the_key_has_a_kind() -> None:
    assert "customer_no" not in ATTRIBUTE_KINDS
    assert {"risk_level", "open_date", "consent_marketing", "branch_id"} <= set(ATTRIBUTE_KINDS)


def _tag(when: dict[str, Any]) -> TagDef:
    return TagDef(
        name="t", title="t", category="c", kind="rule", rules=[{"when": when, "value": "hit"}], default="no"
    )


def test_a_tag_compares_a_date_attribute_as_a_date() -> None:
    """The tag computation reads the customers snapshot's dates as dates (Arrow date32 → Python dates): a rule
    written with YYYY-MM-DD compares them (it raised TypeError), and `in` finds the day (it matched none)."""
    frame = pa.table(
        {"open_date": pa.array([date(2020, 1, 1), None, date(2021, 3, 15), date(2020, 6, 1)], pa.date32())}
    ).to_pandas()
    since = _tag({"attribute": "open_date", "op": ">=", "value": "2020-06-01"})
    assert list(rule_values(since, frame).values()) == ["no", "no", "hit", "hit"]
    day = _tag({"attribute": "open_date", "op": "in", "value": ["2020-06-01"]})
    assert list(rule_values(day, frame).values()) == ["no", "no", "no", "hit"]
    span = _tag({"attribute": "open_date", "op": "between", "value": ["2020-01-01", "2020-06-01"]})
    assert list(rule_values(span, frame).values()) == ["hit", "no", "no", "hit"]


def test_a_tag_comparing_an_attribute_with_another_type_is_refused_when_saved() -> None:
    """A branch number written without quotes matched nobody; it now reads as its digits, and a value with no
    such reading is refused when the tag is checked, naming it."""
    branch = pd.DataFrame({"branch_id": ["3101", "3102"]})
    by_number = _tag({"attribute": "branch_id", "op": "=", "value": 3101})
    assert list(rule_values(by_number, branch).values()) == ["hit", "no"]
    check_tag(by_number, indicators=[])
    fraction = _tag({"attribute": "branch_id", "op": "=", "value": 31.5})
    with pytest.raises(ValidationError, match=r"^tag t: attribute branch_id is text, not 31.5"):
        check_tag(fraction, indicators=[])
    with pytest.raises(ValidationError, match=r"^tag t: attribute branch_id is text, not 31.5"):
        rule_values(fraction, branch)


def test_an_attribute_of_a_kind_rules_do_not_compare_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the customers table to gain a timestamp or JSON column, a rule could not compare it as text."""
    from touchpoint.ingest.model import Kind

    monkeypatch.setitem(ATTRIBUTE_KINDS, "last_seen_at", Kind.TIMESTAMP)  # type: ignore[index]
    with pytest.raises(
        ValidationError, match="attribute last_seen_at holds timestamp values, which rules do not"
    ):
        typed_attribute_value("last_seen_at", "2026-01-01 09:30")
