"""Tag definitions, computation runs, imported lists, YAML round trips and the schedule, on both stores."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from touchpoint.bootstrap import Container
from touchpoint.core.clock import VirtualClock
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.indicators import IndicatorDef, save_indicator
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.tags import service
from touchpoint.tags.computation import PreparedTags
from touchpoint.tags.customer360 import customer_view
from touchpoint.tags.definitions_io import apply_import, export_yaml, plan_import
from touchpoint.tags.evaluate import Labels
from touchpoint.tags.inspect import member_list, tag_detail
from touchpoint.tags.model import TagDef
from touchpoint.tags.service import (
    compute,
    compute_due,
    read_imported_csv,
    save_tag,
    upload_imported,
)

D1, D2 = date(2026, 2, 26), date(2026, 2, 27)
CUSTOMERS = ["C1", "C2", "C3", "C4"]


def _load(container: Container, table: str, data: pa.Table, day: date | None = None) -> None:
    import_arrow(
        env=container,
        principal=SYSTEM,
        table=table,
        data=data,
        options=ImportOptions(business_date=day, force=True),
        source_name=f"{table}-{day}",
    )


def _assets(container: Container, day: date, values: list[float]) -> None:
    _load(
        container, "assets", pa.table({"customer_no": CUSTOMERS, "date": [day] * 4, "total_assets": values})
    )


def _library(container: Container) -> None:
    _load(
        container,
        "customers",
        pa.table({"customer_no": CUSTOMERS, "risk_level": ["C1", "C3", "C5", None]}),
        D1,
    )
    _assets(container, D1, [100.0, 50_000.0, 7_000_000.0, 0.0])
    save_indicator(
        env=container,
        principal=SYSTEM,
        definition=IndicatorDef(
            name="total_assets",
            title="总资产",
            source="assets",
            aggregation="sum",
            column="total_assets",
            window={"kind": "snapshot"},
        ),
    )
    save_tag(env=container, principal=SYSTEM, tag=_tier())


def _tier(**params: float) -> TagDef:
    return TagDef(
        name="tier",
        title="资产等级",
        category="资产/资产等级",
        kind="rule",
        params={"rich": 6_000_000, "mass": 10_000, **params},
        rules=[
            {
                "when": {"indicator": "total_assets", "op": ">=", "value": {"param": "rich"}},
                "value": "高净值",
            },
            {"when": {"indicator": "total_assets", "op": ">=", "value": {"param": "mass"}}, "value": "大众"},
        ],
        default="长尾",
    )


def _values(container: Container, day: date) -> dict[str, str]:
    table = container.analytics.read_partition("tag_values", day)
    assert table is not None
    return dict(zip(table["customer_no"].to_pylist(), table["tier"].to_pylist(), strict=True))


def test_compute_writes_values_bitmaps_and_a_run(container: Container) -> None:
    _library(container)
    result = compute(env=container, principal=SYSTEM, day=D1)
    assert (result["customers"], result["indicators"], result["tags"]) == (4, 1, 1)
    assert _values(container, D1) == {"C1": "长尾", "C2": "大众", "C3": "高净值", "C4": "长尾"}
    listed = member_list(env=container, principal=SYSTEM, name="tier", value="长尾")
    assert (listed["count"], sorted(listed["customers"])) == (2, ["C1", "C4"])
    detail = tag_detail(env=container, name="tier")
    assert detail["coverage"] == 1.0
    assert detail["lineage"] == {"indicators": ["total_assets"], "attributes": []}
    with pytest.raises(ValidationError, match="no value '富裕'"):
        member_list(env=container, principal=SYSTEM, name="tier", value="富裕")


def test_a_failed_computation_leaves_the_previous_snapshot(
    container: Container, monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> None:
    _library(container)
    compute(env=container, principal=SYSTEM, day=D1)
    before = _values(container, D1)
    clock.advance(timedelta(hours=1))
    _assets(container, D2, [9_000_000.0] * 4)

    label = PreparedTags.label
    calls: list[int] = []

    def fails_on_the_third_range(self: PreparedTags, frame: pd.DataFrame) -> dict[str, Labels]:
        calls.append(len(frame))
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return label(self, frame)

    # Two ranges of customers are labelled and written before the third fails: nothing of them is kept.
    monkeypatch.setattr(PreparedTags, "label", fails_on_the_third_range)
    with pytest.raises(RuntimeError, match="disk full"):
        compute(env=container, principal=SYSTEM, day=D2, range_rows=1)
    assert calls == [1, 1, 1]
    root = container.analytics.root
    for table in ("indicator_values", "tag_values", "tag_bitmaps"):
        assert [p.dt for p in container.analytics.partitions(table)] == [D1]
        assert not list((root / table).glob("dt=2026-02-27/*")), table
    assert not any((root / ".staging").iterdir())
    assert _values(container, D1) == before
    assert tag_detail(env=container, name="tier")["business_date"] == D1.isoformat()
    with container.ops.begin() as connection:
        run = service.repo.last_run_of(connection, D2)
    assert run is not None
    assert (run["status"], run["error"]) == ("failed", "disk full")
    listed = service.recent_compute_runs(env=container)
    assert [(r["business_date"], r["status"]) for r in listed] == [
        (D2.isoformat(), "failed"),
        (D1.isoformat(), "succeeded"),
    ]


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (
            {"rules": [{"when": {"indicator": "nope", "op": ">", "value": 1}, "value": "x"}]},
            "unknown indicator",
        ),
        ({"rules": [{"when": {"attribute": "shoe_size", "op": "=", "value": 1}, "value": "x"}]}, "shoe_size"),
        (
            {
                "rules": [
                    {"when": {"indicator": "total_assets", "op": ">", "value": {"param": "q"}}, "value": "x"}
                ]
            },
            "unknown parameter 'q'",
        ),
        (
            {"rules": [{"when": {"indicator": "total_assets", "op": ">=", "value": "lots"}, "value": "x"}]},
            "needs a number",
        ),
        (
            {
                "kind": "model",
                "model": {
                    "label": {"indicator": "total_assets", "op": ">", "value": 1},
                    "features": ["total_assets"],
                    "bands": ["低", "高"],
                    "cutoffs": [0.5],
                },
            },
            "its own label",
        ),
    ],
)
def test_faulty_tags_are_refused_naming_the_fault(
    container: Container, change: dict[str, object], fault: str
) -> None:
    _library(container)
    body = _tier().model_dump(by_alias=True, exclude_none=True) | change
    with pytest.raises(ValidationError, match=fault):
        save_tag(env=container, principal=SYSTEM, tag=TagDef.model_validate(body))


def test_wrong_shapes_are_refused_by_the_model() -> None:
    with pytest.raises(ValueError, match="2 edges need 3 labels"):
        TagDef(
            name="b",
            title="b",
            category="c",
            kind="bucket",
            bucket={"indicator": "x", "edges": [1, 2], "labels": ["a"]},
        )
    with pytest.raises(ValueError, match="a rule tag needs its rule section"):
        TagDef(name="r", title="r", category="c", kind="rule")


def test_imported_tags_take_listed_values_and_report_unknown_customers(container: Container) -> None:
    _library(container)
    save_tag(
        env=container,
        principal=SYSTEM,
        tag=TagDef(name="vip", title="VIP", category="价值", kind="imported", values=["VIP"]),
    )
    rows = read_imported_csv("customer_no,value\nC2,VIP\nC9,VIP\n".encode("gbk"))
    result = upload_imported(env=container, principal=SYSTEM, tag="vip", rows=rows)
    assert result["unknown_customers"] == ["C9"]
    with pytest.raises(ValidationError, match=r"values \['Gold'\] are not among \['VIP'\]"):
        upload_imported(env=container, principal=SYSTEM, tag="vip", rows=[("C1", "Gold")])
    with pytest.raises(ValidationError, match="missing value"):
        read_imported_csv(b"customer_no,level\nC1,VIP\n")
    compute(env=container, principal=SYSTEM, day=D1)
    assert member_list(env=container, principal=SYSTEM, name="vip", value="VIP")["customers"] == ["C2"]


def test_yaml_plan_shows_changes_before_they_are_applied(container: Container) -> None:
    _library(container)
    exported = export_yaml(env=container)
    unchanged = plan_import(registry=container.registry, text=exported)
    assert {i.action for i in unchanged.items} == {"unchanged"}
    assert unchanged.changes == 0
    changed = exported.replace("rich: 6000000", "rich: 5000000")
    assert changed != exported
    plan = plan_import(registry=container.registry, text=changed)
    assert [(i.kind, i.name, i.action) for i in plan.items if i.action != "unchanged"] == [
        ("tag", "tier", "update")
    ]
    assert "-  rich: 6000000\n+  rich: 5000000\n" in plan.items[-1].diff
    assert service.get_tag(env=container, name="tier").params["rich"] == 6_000_000  # only planned
    apply_import(registry=container.registry, principal=SYSTEM, text=changed)
    assert service.get_tag(env=container, name="tier").params["rich"] == 5_000_000
    with pytest.raises(ValidationError, match=r"tag broken: .*kind"):
        plan_import(
            registry=container.registry,
            text="tags:\n  - {name: broken, title: b, category: c, kind: weird}\n",
        )
    cycle = (
        "indicators:\n"
        "  - {name: a, title: a, source: derived, aggregation: formula, formula: b + 1}\n"
        "  - {name: b, title: b, source: derived, aggregation: formula, formula: a * 2}\n"
    )
    with pytest.raises(ValidationError, match="cycle"):
        plan_import(registry=container.registry, text=cycle)


def test_the_schedule_computes_when_data_or_definitions_change(
    container: Container, clock: VirtualClock
) -> None:
    refresh, retry = timedelta(hours=24), timedelta(minutes=15)
    assert compute_due(env=container, refresh=refresh, retry=retry) is None  # nothing yet
    _library(container)
    assert compute_due(env=container, refresh=refresh, retry=retry) == D1
    clock.advance(timedelta(minutes=1))
    compute(env=container, principal=SYSTEM, day=D1)
    assert compute_due(env=container, refresh=refresh, retry=retry) is None
    clock.advance(timedelta(minutes=1))
    _assets(container, D2, [1.0] * 4)
    assert compute_due(env=container, refresh=refresh, retry=retry) == D2
    clock.advance(timedelta(minutes=1))
    compute(env=container, principal=SYSTEM, day=D2)
    assert compute_due(env=container, refresh=refresh, retry=retry) is None
    clock.advance(timedelta(hours=25))
    assert compute_due(env=container, refresh=refresh, retry=retry) == D2


def test_customer_360_shows_profile_tags_indicators_and_assets(container: Container) -> None:
    _library(container)
    _assets(container, D2, [200.0, 1.0, 1.0, 1.0])
    compute(env=container, principal=SYSTEM, day=D2)
    view = customer_view(env=container, principal=SYSTEM, customer_no="C1")
    assert view["attributes"]["risk_level"] == "C1"
    assert view["indicators"]["values"]["total_assets"] == 200.0
    assert view["tags"]["values"]["tier"] == "长尾"
    assert [a["total_assets"] for a in view["assets"]][-2:] in ([100.0, 200.0], [200.0, 100.0])


def test_every_view_of_a_customer_is_in_the_audit_log(container: Container) -> None:
    from touchpoint.governance import Principal
    from touchpoint.governance.audit import search

    _library(container)
    compute(env=container, principal=SYSTEM, day=D1)
    viewer = Principal(user="adv.wang", permissions=frozenset({"customer:read"}), source="api:10.1.2.3")
    customer_view(env=container, principal=viewer, customer_no="C2")
    customer_view(env=container, principal=viewer, customer_no="C3")
    views = search(container.ops, action="customer.view")
    assert [(e.actor, e.source, e.target_type, e.target_id) for e in views] == [
        ("adv.wang", "api:10.1.2.3", "customer", "C3"),
        ("adv.wang", "api:10.1.2.3", "customer", "C2"),
    ]


def test_sensitive_tags_are_masked_for_callers_without_tag_sensitive(container: Container) -> None:
    from touchpoint.governance import Principal

    _library(container)
    save_tag(env=container, principal=SYSTEM, tag=_tier().model_copy(update={"sensitive": True}))
    compute(env=container, principal=SYSTEM, day=D1)
    operator = Principal(user="ops", roles=frozenset({"operator"}), permissions=frozenset({"customer:read"}))
    seen = customer_view(env=container, principal=operator, customer_no="C3")["tags"]
    assert (seen["values"]["tier"], seen["masked"]) == ("***", ["tier"])
    reader = Principal(user="risk", permissions=frozenset({"customer:read", "tag:sensitive"}))
    assert (
        customer_view(env=container, principal=reader, customer_no="C3")["tags"]["values"]["tier"] == "高净值"
    )
