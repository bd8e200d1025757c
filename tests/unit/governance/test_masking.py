"""Customer numbers are masked by one rule everywhere (issue 14, item 9)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import touchpoint
from touchpoint.governance.masking import mask_customer_no

SRC = Path(touchpoint.__file__).parent


@pytest.mark.parametrize(
    ("number", "masked"),
    [("C1000123", "C10***23"), ("C123456", "C12**56"), ("C1234", "*****"), ("C12", "***"), ("", "")],
)
def test_masking_keeps_three_leading_and_two_trailing_characters(number: str, masked: str) -> None:
    assert mask_customer_no(number) == masked


@given(st.text(min_size=1, max_size=30))
def test_a_masked_number_never_shows_the_whole_number(number: str) -> None:
    masked = mask_customer_no(number)
    assert len(masked) == len(number)
    assert "*" in masked
    assert masked != number or set(number) == {"*"}


def test_there_is_one_masking_function() -> None:
    """No module defines its own way of masking customer numbers."""
    definitions = [
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if re.search(r"^def \w*mask\w*customer", path.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert definitions == ["governance/masking.py"]
