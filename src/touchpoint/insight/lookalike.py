"""Lookalike expansion (种群扩散): customers who resemble a seed segment, scored by a classifier.

A gradient-boosting model learns seed members against the rest of the candidate pool from indicators and
tag values — leaving out whatever the seed's own rule reads, so the model has to find resemblance rather than
re-read the definition — reports its hold-out AUC, scores the pool outside the seed, and saves the top K (or
everyone above a score) as a new static segment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from touchpoint.core.errors import ValidationError
from touchpoint.core.ids import new_id
from touchpoint.core.jobs import Job
from touchpoint.governance import Principal
from touchpoint.indicators import list_indicators
from touchpoint.indicators.validate import gives_number
from touchpoint.segments.context import Context
from touchpoint.segments.model import IndicatorCondition, SegmentCondition, TagCondition
from touchpoint.segments.service import (
    SegmentEnv,
    check_list_target,
    current_members,
    get_segment,
    read_rule,
    save_list_segment,
)
from touchpoint.segments.validate import nodes
from touchpoint.tags.learn import gradient_boosting, holdout_auc, holdout_split
from touchpoint.tags.model import TagDef
from touchpoint.tags.references import lineage
from touchpoint.tags.service import TagEnv, list_tags

SEED = 7


def lookalike(
    *,
    env: SegmentEnv,
    principal: Principal,
    seed: str,
    target: str,
    top: int | None = None,
    min_score: float | None = None,
    pool: str | None = None,
    job: Job | None = None,
) -> dict[str, Any]:
    """Train seed-vs-pool, report hold-out AUC, save the best-scoring non-members as segment `target`."""
    if (top is None) == (min_score is None):
        raise ValidationError("give exactly one of top (K customers) or min_score (0–1)")
    check_list_target(env=env, name=target, title=target)  # refused before training, not after
    job = job or lookalike_job(principal, seed, target)
    job.report("loading", 0.05)
    context, members = current_members(env=env, name=seed)
    candidates = current_members(env=env, name=pool)[1] if pool else context.universe
    features = _features(env, context, _read_by(env, seed))
    positions = context.positions(np.frombuffer((candidates | members).to_array(), dtype=np.uint32))
    x = features.iloc[positions].to_numpy(dtype=float)
    y = np.isin(context.uids[positions], np.frombuffer(members.to_array(), dtype=np.uint32))
    if y.sum() < 10 or (~y).sum() < 10:
        raise ValidationError(f"seed {seed!r} needs at least 10 members and 10 non-members in the pool")
    job.report("training", 0.2)
    train_x, test_x, train_y, test_y = holdout_split(x, y)
    model = gradient_boosting(SEED).fit(train_x, train_y)
    auc = holdout_auc(test_y, model.predict_proba(test_x)[:, 1])
    job.report("scoring", 0.6)
    outside = ~y
    scores = model.predict_proba(x[outside])[:, 1]
    uids = context.uids[positions][outside]
    order = np.argsort(-scores, kind="stable")
    chosen = order[:top] if top is not None else order[scores[order] >= (min_score or 0.0)]
    job.report("saving", 0.85)
    numbers = context.base.to_pandas().set_index("uid")["customer_no"]
    listed = [str(numbers[int(u)]) for u in uids[chosen]]
    if not listed:
        raise ValidationError("no candidate scored high enough; lower min_score or use top")
    save_list_segment(
        env=env,
        principal=principal,
        name=target,
        title=target,
        numbers=listed,
        source=f"lookalike of {seed}",
        description=f"种群扩散 lookalike of {seed}: hold-out AUC {auc:.3f}",
    )
    result = {
        "seed": seed,
        "seed_size": int(y.sum()),
        "pool_size": len(y),
        "target": target,
        "size": len(listed),
        "auc_holdout": round(auc, 4),
        "min_score_taken": round(float(scores[chosen].min()), 4),
        "features": list(features.columns),
    }
    job.finish(result)
    return result


def lookalike_job(principal: Principal, seed: str, target: str) -> Job:
    """A new lookalike job of `principal` expanding `seed` into `target`."""
    return Job(
        id=new_id("lal"), kind="lookalike", owner=principal.user, subject={"seed": seed, "target": target}
    )


def _read_by(env: TagEnv, seed: str) -> set[str]:
    """Tags and indicators the seed's rule reads (through nested segments too)."""
    read: set[str] = set()
    stack = [read_rule(get_segment(env=env, name=seed).rule)]
    while stack:
        for _, node in nodes(stack.pop()):
            if isinstance(node, TagCondition):
                read.add(node.tag)
            elif isinstance(node, IndicatorCondition):
                read.add(node.indicator)
            elif isinstance(node, SegmentCondition):
                stack.append(read_rule(get_segment(env=env, name=node.segment).rule))
    return read


def _features(env: TagEnv, context: Context, excluded: set[str]) -> pd.DataFrame:
    """Numeric indicators and one-hot tag values for every customer of the base (in base order)."""
    tags = list_tags(env=env)
    columns: dict[str, np.ndarray] = {}
    for name, definition in list_indicators(env=env).items():
        if name not in excluded and gives_number(definition):
            columns[name] = context.indicator(name)
    # Whatever reads the same indicators as the seed's rule would re-read the definition: leave it out too.
    hidden = {i for t in excluded if t in tags for i in _tag_inputs(tags[t])} | (excluded - set(tags))
    for name in hidden:
        columns.pop(name, None)
    for (tag, value), holders in context.tag_bitmaps.items():
        if tag in excluded or tag not in tags or tags[tag].kind == "model":
            continue
        if hidden & set(_tag_inputs(tags[tag])):
            continue
        positions = context.positions(np.frombuffer(holders.to_array(), dtype=np.uint32))
        column = np.zeros(len(context.uids))
        column[positions] = 1.0
        columns[f"{tag}={value}"] = column
    if not columns:
        raise ValidationError("no features left once the seed's own tags and indicators are set aside")
    return pd.DataFrame(columns)


def _tag_inputs(tag: TagDef) -> list[str]:
    return list(lineage(tag)["indicators"])
