"""Computing tag values from an indicator snapshot and customer attributes (vectorised, pure)."""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pyroaring import BitMap

from touchpoint.core.errors import ValidationError
from touchpoint.tags.model import AllOf, AnyOf, Bucket, Compare, Condition, NotOf, ParamRef, TagDef


def resolve(value: Any, params: Mapping[str, Any], where: str) -> Any:
    """A literal, or the parameter a ParamRef names (lists resolved item by item)."""
    if isinstance(value, list):
        return [resolve(v, params, where) for v in value]
    if isinstance(value, ParamRef) or (isinstance(value, dict) and set(value) == {"param"}):
        name = value.param if isinstance(value, ParamRef) else value["param"]
        if name not in params:
            raise ValidationError(f"{where}: unknown parameter {name!r}")
        return params[name]
    return value


def mask(condition: Condition, frame: pd.DataFrame, params: Mapping[str, Any], where: str) -> np.ndarray:
    """Where `condition` holds (a missing value never satisfies a comparison)."""
    if isinstance(condition, AllOf):
        result = np.ones(len(frame), dtype=bool)
        for part in condition.all:
            result &= mask(part, frame, params, where)
        return result
    if isinstance(condition, AnyOf):
        result = np.zeros(len(frame), dtype=bool)
        for part in condition.any:
            result |= mask(part, frame, params, where)
        return result
    if isinstance(condition, NotOf):
        return ~mask(condition.not_, frame, params, where)
    return _compare(condition, frame, params, where)


def _compare(condition: Compare, frame: pd.DataFrame, params: Mapping[str, Any], where: str) -> np.ndarray:
    column = condition.indicator or condition.attribute
    assert column is not None
    if column not in frame.columns:
        raise ValidationError(
            f"{where}: unknown {'indicator' if condition.indicator else 'attribute'} {column!r}"
        )
    series = frame[column]
    value = resolve(condition.value, params, where)
    present = series.notna().to_numpy()
    op = condition.op
    if op == "exists":
        return present if value in (None, True) else ~present
    if op in ("in", "not_in"):
        hit = series.isin(value).to_numpy()
        return (hit if op == "in" else ~hit) & present
    if op == "between":
        low, high = value
        return (series.ge(low) & series.le(high)).fillna(False).to_numpy(dtype=bool)
    compared = {
        "=": series.eq,
        "!=": series.ne,
        ">": series.gt,
        ">=": series.ge,
        "<": series.lt,
        "<=": series.le,
    }[op](value)
    return compared.fillna(False).to_numpy(dtype=bool) & present


def rule_values(tag: TagDef, frame: pd.DataFrame) -> np.ndarray:
    """First matching case's value for each row, else the default."""
    where = f"tag {tag.name}"
    masks = [mask(case.when, frame, tag.params, where) for case in tag.rules or []]
    values = [case.value for case in tag.rules or []]
    result = np.full(len(frame), tag.default, dtype=object)
    decided = np.zeros(len(frame), dtype=bool)
    for case_mask, value in zip(masks, values, strict=True):
        chosen = case_mask & ~decided
        result[chosen] = value
        decided |= case_mask
    return result


def bucket_values(tag: TagDef, frame: pd.DataFrame) -> np.ndarray:
    """The bucket label of each row's indicator value (None where the indicator is missing)."""
    bucket: Bucket | None = tag.bucket
    assert bucket is not None
    where = f"tag {tag.name}"
    if bucket.indicator not in frame.columns:
        raise ValidationError(f"{where}: unknown indicator {bucket.indicator!r}")
    edges = [float(resolve(e, tag.params, where)) for e in bucket.edges]
    if edges != sorted(edges):
        raise ValidationError(f"{where}: bucket edges must ascend, got {edges}")
    series = pd.to_numeric(frame[bucket.indicator], errors="coerce")
    index = np.searchsorted(np.array(edges), series.to_numpy(dtype=float), side="right")
    labels = np.array(bucket.labels, dtype=object)[np.minimum(index, len(bucket.labels) - 1)]
    labels[series.isna().to_numpy()] = None
    return labels


def bitmaps(uids: np.ndarray, values: np.ndarray) -> dict[str, BitMap]:
    """A Roaring bitmap of uids per tag value (missing values have none)."""
    codes, uniques = pd.factorize(values)
    as_uint32 = np.asarray(uids, dtype=np.uint32)
    # array('I') is the buffer pyroaring ingests without a Python-level loop.
    return {
        str(value): BitMap(array("I", as_uint32[codes == code].tobytes()))
        for code, value in enumerate(uniques)
    }
