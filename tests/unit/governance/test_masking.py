"""Customer numbers and personal data are masked by one set of rules everywhere (issues 14 and 15)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import touchpoint
from touchpoint.config import DEFAULT_PII_ATTRIBUTES, PiiKind
from touchpoint.governance import Principal
from touchpoint.governance.masking import PiiMask, mask_customer_no, mask_pii

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
    hidden = [i for i, c in enumerate(masked) if c == "*"]
    assert hidden
    # The masked text differs from the number unless every hidden character was a star already.
    assert masked != number or all(number[i] == "*" for i in hidden)


def test_there_is_one_masking_function() -> None:
    """No module defines its own way of masking customer numbers."""
    definitions = [
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if re.search(r"^def \w*mask\w*customer", path.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert definitions == ["governance/masking.py"]


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("phone", "13812345678", "138****5678"),
        ("name", "张伟", "张*"),
        ("name", "欧阳娜娜", "欧***"),
        ("name", "王", "*"),
        ("id_number", "110101199003071234", "110***********1234"),
        ("email", "zhang.wei@broker.cn", "z***@broker.cn"),
        ("email", "not-an-email", "************"),
        ("address", "上海市浦东新区世纪大道100号", "上海市浦东新*********"),
        ("phone", "1234567", "*******"),
    ],
)
def test_personal_data_is_masked_by_kind(kind: PiiKind, value: str, masked: str) -> None:
    assert mask_pii(kind, value) == masked


@given(st.sampled_from(["name", "phone", "id_number", "email", "address"]), st.text(min_size=2, max_size=40))
def test_masked_personal_data_never_shows_the_whole_value(kind: PiiKind, value: str) -> None:
    masked = mask_pii(kind, value)
    assert "*" in masked
    # Equal only when every character the mask hides was a star already ('0*' masks to itself).
    assert masked != value or all(value[i] == "*" for i, c in enumerate(masked) if c == "*")


def test_the_mask_applies_to_callers_without_pii_view_only() -> None:
    row = {"customer_no": "C1000001", "name": "张伟", "phone": "13812345678", "city": "上海"}
    blind = PiiMask(Principal(user="ops", permissions=frozenset({"customer:read"})), DEFAULT_PII_ATTRIBUTES)
    seeing = PiiMask(Principal(user="adv", permissions=frozenset({"pii:view"})), DEFAULT_PII_ATTRIBUTES)
    assert blind.record(row) == {
        "customer_no": "C1000001",
        "name": "张*",
        "phone": "138****5678",
        "city": "上海",
    }
    assert seeing.record(row) == row
    known = [("name", "张伟"), ("phone", "13812345678")]
    text = "尊敬的张伟, 您尾号13812345678的账户"
    assert blind.text(text, known) == "尊敬的张*, 您尾号138****5678的账户"
    assert blind.tree({"to": "13812345678", "n": [1, "张伟"]}, known) == {
        "to": "138****5678",
        "n": [1, "张*"],
    }
    assert seeing.text(text, known) == text
    assert blind.identifier("phone", "13812345678") == "138****5678"
    assert blind.identifier("customer_no", "C1000001") == "C1000001"
