"""Customer search (客户查询): by number prefix, phone tail or masked phone, or name — checked against a
pandas filter of the customers snapshot, within the caller's scope and masked without `pii:view`."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from support import examples
from touchpoint.bootstrap import Container
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM, Principal
from touchpoint.identity.scopes import scope_for
from touchpoint.tags.customer360 import SEARCH_LIMIT, search_customers


@pytest.fixture(scope="module")
def world(demo_brokerage: Container) -> Container:
    """The shared demo brokerage (read only here)."""
    return demo_brokerage


def _snapshot(container: Container) -> pd.DataFrame:
    newest = container.analytics.partitions("customers")[-1].dt
    table = container.analytics.read_partition("customers", newest)
    assert table is not None
    return table.to_pandas()


def _found(container: Container, text: str, principal: Principal = SYSTEM) -> list[str]:
    hits = search_customers(env=container, principal=principal, text=text, limit=50)
    return [h["customer_no"] for h in hits]


def _brute(frame: pd.DataFrame, keep: pd.Series) -> list[str]:
    return sorted(frame.loc[keep, "customer_no"].astype(str))[:SEARCH_LIMIT]


def test_a_number_prefix_finds_exactly_the_numbers_that_start_with_it(world: Container) -> None:
    frame = _snapshot(world)
    for prefix in ("C10000", "c100001", "C1000199", "X"):
        expected = _brute(frame, frame["customer_no"].str.upper().str.startswith(prefix.upper()))
        assert _found(world, prefix) == expected


@hsettings(max_examples=examples(40), deadline=None)
@given(data=st.data())
def test_a_phone_tail_a_masked_phone_or_a_name_part_finds_what_pandas_finds(
    world: Container, data: st.DataObject
) -> None:
    frame = _snapshot(world)
    row = frame.iloc[data.draw(st.integers(0, len(frame) - 1))]
    phone, name = str(row["phone"]), str(row["name"])
    tail, masked = phone[-4:], f"{phone[:3]}****{phone[-4:]}"
    start = data.draw(st.integers(0, len(name) - 1))
    part = name[start : data.draw(st.integers(start + 1, len(name)))]

    phones, numbers = frame["phone"].astype(str), frame["customer_no"]
    by_tail = phones.str.endswith(tail) | numbers.str.startswith(tail)
    assert _found(world, tail) == _brute(frame, by_tail)
    by_mask = phones.str.startswith(phone[:3]) & phones.str.endswith(tail)
    assert _found(world, masked) == _brute(frame, by_mask)
    by_name = frame["name"].astype(str).str.contains(part, regex=False) | numbers.str.startswith(part)
    assert _found(world, part) == _brute(frame, by_name)
    assert row["customer_no"] in _found(world, masked)


def test_a_scoped_caller_finds_only_their_customers_masked(world: Container) -> None:
    frame = _snapshot(world)
    scope = scope_for(world, branches=("B1",), advisor_id=None)
    caller = Principal(user="mgr", permissions=frozenset({"customer:read"}), scope=scope)
    hits = search_customers(env=world, principal=caller, text="C", limit=50)
    expected = sorted(frame.loc[frame["branch_id"] == "B1", "customer_no"])[:50]
    assert [h["customer_no"] for h in hits] == expected
    assert hits
    assert all(h["branch_id"] == "B1" for h in hits)
    for hit in hits:
        full = frame.loc[frame["customer_no"] == hit["customer_no"]].iloc[0]
        assert hit["phone"] == f"{full['phone'][:3]}****{full['phone'][-4:]}"
        assert hit["name"] == full["name"][0] + "*" * (len(full["name"]) - 1)


def test_a_full_phone_number_finds_only_for_a_holder_of_pii_view(world: Container) -> None:
    frame = _snapshot(world)
    row = frame.iloc[0]
    caller = Principal(user="c", permissions=frozenset({"customer:read"}))
    assert _found(world, str(row["phone"])) == [row["customer_no"]]
    assert _found(world, str(row["phone"]), caller) == []


def test_an_empty_query_is_refused(world: Container) -> None:
    with pytest.raises(ValidationError, match="customer number"):
        search_customers(env=world, principal=SYSTEM, text="   ")
