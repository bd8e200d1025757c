"""Looking at tags: the category tree, one tag's coverage, distribution, history and lineage, its members."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyroaring import AbstractBitMap, BitMap

from touchpoint.core.errors import NotFoundError, ValidationError
from touchpoint.governance import Principal
from touchpoint.tags import repo
from touchpoint.tags.layout import TAG_BITMAPS, TAG_VALUES
from touchpoint.tags.model import TagDef
from touchpoint.tags.references import lineage
from touchpoint.tags.service import TagEnv, get_tag, list_tags

# The top of the catalogue in the order brokerage staff read a customer; other categories follow by name.
CATEGORY_ORDER = (
    "基础属性",
    "资产",
    "交易行为",
    "持仓与产品偏好",
    "风险与适当性",
    "生命周期",
    "价值",
    "活跃度",
    "渠道偏好",
)


def catalogue(*, env: TagEnv) -> list[dict[str, Any]]:
    """The category tree: nested {name, children, tags} from each tag's category path."""
    root: dict[str, Any] = {"name": "", "children": {}, "tags": []}
    for tag in list_tags(env=env).values():
        node = root
        for part in [p for p in tag.category.split("/") if p]:
            node = node["children"].setdefault(part, {"name": part, "children": {}, "tags": []})
        node["tags"].append(
            {"name": tag.name, "title": tag.title, "kind": tag.kind, "sensitive": tag.sensitive}
        )
    children: list[dict[str, Any]] = _as_list(root)["children"]
    rank = {name: i for i, name in enumerate(CATEGORY_ORDER)}
    return sorted(children, key=lambda node: (rank.get(node["name"], len(rank)), node["name"]))


def _as_list(node: dict[str, Any]) -> dict[str, Any]:
    return {**node, "children": [_as_list(child) for child in node["children"].values()]}


def _counts_by_date(
    env: TagEnv, name: str, scope: AbstractBitMap | None = None
) -> dict[date, dict[str, int]]:
    """Holders of each value of the tag on each computed date (within `scope`: its uids only)."""
    analytics = env.analytics
    if not analytics.partitions(TAG_BITMAPS.name):
        return {}
    table = analytics.table(TAG_BITMAPS.name)
    columns = ("dt", "value", "count") if scope is None else ("dt", "value", "bitmap")
    rows = table.filter(table.tag == name).select(*columns).to_pyarrow().to_pylist()
    history: dict[date, dict[str, int]] = {}
    for row in rows:
        count = row["count"] if scope is None else len(BitMap.deserialize(row["bitmap"]) & scope)
        history.setdefault(row["dt"], {})[row["value"]] = int(count)
    return dict(sorted(history.items()))


def population_size(env: TagEnv, day: date) -> int:
    """How many customers the snapshot of `day` covers."""
    for partition in env.analytics.partitions("tag_values"):
        if partition.dt == day:
            return partition.rows
    return 0


def tag_detail(*, env: TagEnv, name: str, scope: AbstractBitMap | None = None) -> dict[str, Any]:
    """Definition, coverage and distribution on the latest date, history, lineage, model metrics — of the
    customers in `scope` only, for a user limited to branches (its population: the scope's customers)."""
    tag: TagDef = get_tag(env=env, name=name)
    history = _counts_by_date(env, name, scope)
    latest = max(history) if history else None
    distribution = history.get(latest, {}) if latest else {}
    if scope is not None:
        population = len(scope) if latest else 0
    else:
        population = population_size(env, latest) if latest else 0
    covered = sum(distribution.values())
    with env.ops.begin() as connection:
        metrics = repo.latest_metrics(connection, name) if tag.kind == "model" else None
    return {
        "definition": tag.model_dump(mode="json", by_alias=True, exclude_none=True),
        "business_date": latest.isoformat() if latest else None,
        "population": population,
        "coverage": round(covered / population, 4) if population else 0.0,
        "distribution": [
            {"value": v, "count": n, "share": round(n / population, 4) if population else 0.0}
            for v, n in sorted(distribution.items(), key=lambda kv: -kv[1])
        ],
        "history": [{"date": d.isoformat(), "counts": counts} for d, counts in history.items()],
        "lineage": lineage(tag),
        "model_metrics": metrics,
    }


def members(*, env: TagEnv, name: str, value: str, day: date | None = None) -> BitMap:
    """The uids carrying `value` of tag `name` on `day` (default: the latest computed date)."""
    analytics = env.analytics
    dates = [p.dt for p in analytics.partitions(TAG_BITMAPS.name) if day is None or p.dt <= day]
    if not dates:
        raise NotFoundError("no tag snapshot has been computed yet (run touchpoint compute)")
    table = analytics.read_partition(TAG_BITMAPS.name, max(dates))
    assert table is not None
    for row in table.to_pylist():
        if row["tag"] == name and row["value"] == value:
            return BitMap.deserialize(row["bitmap"])
    return BitMap()


def member_list(
    *, env: TagEnv, principal: Principal, name: str, value: str, day: date | None = None, limit: int = 100
) -> dict[str, Any]:
    """How many customers carry a tag value on a date, and the first `limit` customer numbers — of those the
    caller's scope holds."""
    tag = get_tag(env=env, name=name)
    if value not in tag.possible_values():
        raise ValidationError(f"tag {name!r} has no value {value!r} (values: {tag.possible_values()})")
    analytics = env.analytics
    dates = [p.dt for p in analytics.partitions(TAG_BITMAPS.name) if day is None or p.dt <= day]
    if not dates:
        raise NotFoundError("no tag snapshot has been computed yet (run touchpoint compute)")
    snapshot = max(dates)
    uids = members(env=env, name=name, value=value, day=snapshot)
    if principal.scope is not None:
        uids = uids & principal.scope
    first = pa.array(list(uids[:limit]) if limit else [], type=pa.int64())
    rows = analytics.read_partition(TAG_VALUES.name, snapshot)
    assert rows is not None
    chosen = rows.select(["uid", "customer_no"]).filter(pc.is_in(rows["uid"].cast(pa.int64()), first))
    return {
        "tag": name,
        "value": value,
        "business_date": snapshot.isoformat(),
        "count": len(uids),
        "customers": chosen.sort_by("uid")["customer_no"].to_pylist(),
    }
