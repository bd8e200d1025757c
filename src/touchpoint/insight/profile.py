"""What sets a segment apart: TGI per tag value against a base, indicator summaries, and overlaps."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from pyroaring import BitMap, FrozenBitMap

from touchpoint.core.errors import ValidationError
from touchpoint.segments.context import Context
from touchpoint.segments.service import current_members
from touchpoint.tags.service import TagEnv, list_tags


def tgi_profile(
    *,
    env: TagEnv,
    segment: str,
    against: str | None = None,
    tags: list[str] | None = None,
    indicators: list[str] | None = None,
    scope: FrozenBitMap | None = None,
) -> dict[str, Any]:
    """Per tag, each value's share in the segment and in the base and its TGI (segment ÷ base × 100).

    Tags are ranked by how far the segment's distribution is from the base's (half the sum of the absolute
    share differences: 0 = alike, 1 = nothing in common). The base is every customer, or another segment;
    with a `scope`, both hold only the scope's customers.
    """
    context, members = current_members(env=env, name=segment)
    base = current_members(env=env, name=against)[1] if against else context.universe
    if scope is not None:
        members, base = members & scope, base & scope
    if not members:
        raise ValidationError(f"segment {segment!r} has no members to profile")
    catalogue = list_tags(env=env)
    chosen = tags or [name for name, tag in catalogue.items() if not tag.sensitive]
    unknown = [t for t in chosen if t not in catalogue]
    if unknown:
        raise ValidationError(f"unknown tag(s) {', '.join(unknown)}")
    computed = set(context.indicator_names)
    missing = [name for name in indicators or [] if name not in computed]
    if missing:  # a name absent from the snapshot is the caller's mistake, not a lookup that may fail later
        raise ValidationError(
            f"unknown indicator(s) {', '.join(missing)} (not in the {context.snapshot} snapshot)"
        )
    profiles = [_tag_profile(context, name, members, base) for name in chosen]
    profiles.sort(key=lambda p: -p["distance"])
    return {
        "segment": segment,
        "against": against or "全部客户 · all customers",
        "segment_size": len(members),
        "base_size": len(base),
        "snapshot_date": context.snapshot.isoformat(),
        "tags": profiles,
        "indicators": [_summary(context, name, members, base) for name in indicators or []],
    }


def _tag_profile(context: Context, tag: str, members: BitMap, base: BitMap) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for (name, value), holders in context.tag_bitmaps.items():
        if name != tag:
            continue
        in_segment = members.intersection_cardinality(holders)
        in_base = base.intersection_cardinality(holders)
        segment_share = in_segment / len(members)
        base_share = in_base / len(base) if base else 0.0
        rows.append(
            {
                "value": value,
                "segment_count": in_segment,
                "segment_share": round(segment_share, 4),
                "base_count": in_base,
                "base_share": round(base_share, 4),
                "tgi": round(segment_share / base_share * 100, 1) if base_share else None,
            }
        )
    rows.sort(key=lambda r: -(r["tgi"] or 0))
    distance = sum(abs(r["segment_share"] - r["base_share"]) for r in rows) / 2
    return {"tag": tag, "distance": round(distance, 4), "values": rows}


def _summary(context: Context, indicator: str, members: BitMap, base: BitMap) -> dict[str, Any]:
    def describe(group: BitMap) -> dict[str, float | None]:
        positions = context.positions(np.frombuffer(group.to_array(), dtype=np.uint32))
        picked = context.indicator_at(indicator, positions)
        picked = picked[~np.isnan(picked)]
        if not len(picked):
            return {"mean": None, "p25": None, "median": None, "p75": None}
        p25, median, p75 = np.percentile(picked, [25, 50, 75])
        return {"mean": float(picked.mean()), "p25": float(p25), "median": float(median), "p75": float(p75)}

    return {"indicator": indicator, "segment": describe(members), "base": describe(base)}


def overlap(*, env: TagEnv, segments: list[str], scope: FrozenBitMap | None = None) -> dict[str, Any]:
    """Sizes of 2–4 segments, of every intersection, and of every Venn region (in exactly those segments);
    with a `scope`, of its customers only."""
    if not 2 <= len(segments) <= 4 or len(set(segments)) != len(segments):
        raise ValidationError("overlap takes 2 to 4 different segments")
    members = {name: current_members(env=env, name=name)[1] for name in segments}
    if scope is not None:
        members = {name: found & scope for name, found in members.items()}
    regions = []
    for size in range(1, len(segments) + 1):
        for combo in itertools.combinations(segments, size):
            inside = BitMap.intersection(*(members[n] for n in combo)) if size > 1 else members[combo[0]]
            outside = [members[n] for n in segments if n not in combo]
            exactly = inside - BitMap.union(*outside) if outside else inside
            regions.append({"segments": list(combo), "intersection": len(inside), "exactly": len(exactly)})
    return {"sizes": {name: len(m) for name, m in members.items()}, "regions": regions}
