"""The event id map has one row per identifier value, chosen by the stated precedence (brute force)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import example, given
from hypothesis import strategies as st

from touchpoint.identity.service import event_id_map

TYPES = ["customer_no", "anonymous_id", "phone", "email", "wechat_openid"]
links = st.dictionaries(
    st.tuples(st.sampled_from(TYPES), st.sampled_from(["x", "y", "C1", "C2", "13800000000"])),
    st.integers(1, 6),
    max_size=20,
)


def _expected(found: dict[tuple[str, str], int]) -> dict[str, tuple[int, str | None]]:
    owner = {}
    for (id_type, value), uid in found.items():
        if id_type == "customer_no":
            owner[uid] = value  # a person with two customer numbers is refused by the graph
    best: dict[str, tuple[int, str, int]] = {}
    for (id_type, value), uid in found.items():
        rank = {"customer_no": 0, "anonymous_id": 1}.get(id_type, 2)
        if value not in best or (rank, id_type) < best[value][:2]:
            best[value] = (rank, id_type, uid)
    return {value: (uid, owner.get(uid)) for value, (_, _, uid) in best.items()}


@given(found=links)
@example(found={("anonymous_id", "x"): 1, ("phone", "x"): 2, ("customer_no", "C1"): 2})
@example(found={("customer_no", "x"): 3, ("anonymous_id", "x"): 1, ("email", "x"): 2})
@example(found={("phone", "x"): 2, ("email", "x"): 1})
def test_one_row_per_value_by_precedence(found: dict[tuple[str, str], int]) -> None:
    customers = {(t, v): u for (t, v), u in found.items() if t == "customer_no"}
    # the graph never gives one person two customer numbers
    found = {
        k: u for k, u in found.items() if k[0] != "customer_no" or list(customers.values()).count(u) == 1
    }
    table = pa.table(
        {
            "id_type": pa.array([t for t, _ in found], pa.string()),
            "id_value": pa.array([v for _, v in found], pa.string()),
            "uid": pa.array(list(found.values()), pa.int64()),
        }
    )
    owners = table.filter(pc.equal(table["id_type"], "customer_no"))
    uid_table = pa.table({"customer_no": owners["id_value"], "uid": owners["uid"]})
    got = event_id_map(table, uid_table).to_pylist()
    assert len(got) == len({v for _, v in found})
    assert {r["id_value"]: (r["person_uid"], r["customer_no"]) for r in got} == _expected(found)
