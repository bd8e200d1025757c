"""Property: through the whole dispatcher, no marketing message for a product ever goes to a customer whose
risk level does not admit it — over random customers (level, investor type, lowest category, assessment age,
consent) and random products, judged against the regulation's matching table written out here."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from touchpoint.bootstrap import Container, build
from touchpoint.channels import service
from touchpoint.channels.dispatcher import Staged, conclude, prepare, stage, transmit
from touchpoint.channels.model import SendRequest
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.ingest.service import ImportOptions, import_arrow
from touchpoint.store.operational.schema import channel_sends

DAY = date(2026, 3, 31)
_EXAMPLES = itertools.count()
ADMITS = {"C1": 1, "C2": 2, "C3": 3, "C4": 4, "C5": 5}
customer = st.tuples(
    st.sampled_from(["C1", "C2", "C3", "C4", "C5", None]),
    st.sampled_from(["ordinary", "professional"]),
    st.booleans(),  # lowest category
    st.integers(min_value=-30, max_value=1200),  # days since the risk assessment (below 0: dated after today)
)
products = st.lists(st.sampled_from(["R1", "R2", "R3", "R4", "R5"]), min_size=1, max_size=5)


def _allowed(level: str | None, investor: str, lowest: bool, age: int, product: str) -> bool:
    rank = int(product[1])
    if lowest:
        return rank == 1
    if investor == "professional":
        return True
    if level is None or not 0 <= age <= 730:  # valid through its 730th day; a future date is no assessment
        return rank == 1
    return rank <= ADMITS[level]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """One store for every example (each example imports its own customers and products over the last)."""
    caps = {"caps_all_channels": {"per_day": 1000, "per_week": 1000}}  # caps are not under test here
    container = build(
        load_settings(
            tmp_path_factory.mktemp("suitability") / "home",
            channels={"sms": {"provider": "log"}},
            channel_policy=caps,
        ),
        clock=VirtualClock(datetime(2026, 3, 31, 4, tzinfo=UTC)),
    )
    template = {
        "name": "offer",
        "title": "offer",
        "channel": "sms",
        "classification": "marketing",
        "product": "payload.code",
        "provider_template_id": "S1",
        "body": "{{ product.name }} 市场有风险，投资需谨慎。",
    }
    env = container
    service.save_template(env=env, principal=SYSTEM, template=service.parse_template(template))
    service.activate_template(env=env, principal=SYSTEM, name="offer")
    yield container
    container.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(customer, min_size=1, max_size=12), shelf=products)
# The limits of the expiry and a future date, each on a customer whose level would admit R3 when valid.
@example(
    people=[("C3", "ordinary", False, age) for age in (729, 730, 731, -1, 0)],
    shelf=["R1", "R3"],
)
def test_no_unsuitable_product_message_is_ever_sent(
    shop: Container, people: list[tuple[str | None, str, bool, int]], shelf: list[str]
) -> None:
    example = next(_EXAMPLES)
    _import(shop, people, shelf)
    requests = [
        SendRequest(f"e{example}-{i}-{j}", f"P{i}", "sms", "offer", {"code": f"F{j}"})
        for i in range(len(people))
        for j in range(len(shelf))
    ]
    env = shop
    with shop.ops.begin() as connection:  # as the journey dispatcher does: stage, send, then record
        prepared = prepare(connection, env, requests)
        staged = [stage(connection, env, request, prepared) for request in requests]
    answers = [(s, transmit(env, s)) for s in staged if isinstance(s, Staged)]
    with shop.ops.begin() as connection:
        for message, answer in answers:
            conclude(connection, env, message, answer)
        rows = connection.execute(select(channel_sends.c.id, channel_sends.c.status)).all()
    sent = {send_id for send_id, status in rows if status == "sent" and send_id.startswith(f"e{example}-")}
    expected = {
        f"e{example}-{i}-{j}"
        for i, person in enumerate(people)
        for j, level in enumerate(shelf)
        if _allowed(*person, level)
    }
    assert sent == expected  # every suitable offer goes, no unsuitable one ever does


def _import(container: Container, people: list[tuple[str | None, str, bool, int]], shelf: list[str]) -> None:
    customers = pa.table(
        {
            "customer_no": [f"P{i}" for i in range(len(people))],
            "name": [f"客户{i}" for i in range(len(people))],
            "risk_level": [p[0] for p in people],
            "risk_assessed_at": [(DAY - timedelta(days=p[3])).isoformat() for p in people],
            "investor_type": [p[1] for p in people],
            "consent_marketing": [True] * len(people),
            "phone": [f"1390000{i:04d}" for i in range(len(people))],
            "lowest_risk_category": [p[2] for p in people],
        }
    )
    products_table = pa.table(
        {
            "product_code": [f"F{j}" for j in range(len(shelf))],
            "name": [f"基金{j}" for j in range(len(shelf))],
            "product_type": ["fund"] * len(shelf),
            "risk_level": shelf,
        }
    )
    for table, data in (("customers", customers), ("products", products_table)):
        import_arrow(
            env=container,
            principal=SYSTEM,
            table=table,
            data=data,
            options=ImportOptions(business_date=DAY, replace=True),
            source_name=table,
        )
