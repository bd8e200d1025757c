"""Computing tag values from an indicator snapshot and customer attributes (vectorised, pure)."""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyroaring import BitMap

from touchpoint.core.errors import ValidationError
from touchpoint.tags.attributes import typed_attribute_value
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
    if condition.attribute is not None and condition.op != "exists":
        value = typed_attribute_value(condition.attribute, value, where)
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


@dataclass(frozen=True)
class Labels:
    """A tag's value for every row as an index into `names` (-1: no value).

    Tags are computed, counted, stored and turned into bitmaps through these codes: a million rows of Python
    strings cost seconds per tag to build, to hash back into values and to convert to Arrow.
    """

    codes: np.ndarray
    names: tuple[str, ...]

    @classmethod
    def of(cls, values: np.ndarray) -> Labels:
        """The labels of an object array of values (None or NaN: no value)."""
        codes, uniques = pd.factorize(values)
        return cls(codes.astype(np.int32), tuple(str(u) for u in uniques))

    @classmethod
    def chosen(cls, picks: np.ndarray, choices: Sequence[str | None]) -> Labels:
        """Row i takes `choices[picks[i]]` (a pick of -1 or a None choice: no value; choices may repeat)."""
        unique: dict[str, int] = {}
        remap = np.full(len(choices) + 1, -1, dtype=np.int32)  # the extra last slot answers a pick of -1
        for i, choice in enumerate(choices):
            if choice is not None:
                remap[i] = unique.setdefault(str(choice), len(unique))
        return cls(remap[np.asarray(picks, dtype=np.int64)], tuple(unique))

    @classmethod
    def none(cls, rows: int) -> Labels:
        """No value for any of `rows` rows."""
        return cls(np.full(rows, -1, dtype=np.int32), ())

    def values(self) -> np.ndarray:
        """The value of each row as an object array (None: no value)."""
        names = np.array([*self.names, None], dtype=object)
        values: np.ndarray = names[self.codes]  # a code of -1 reads the None at the end
        return values

    def arrow(self) -> pa.Array:
        """The value of each row as an Arrow string array."""
        names = pa.array(self.names, type=pa.string())
        return names.take(pa.array(self.codes, mask=self.codes < 0, type=pa.int32()))

    def counts(self) -> dict[str, int]:
        """How many rows hold each value."""
        found = np.bincount(self.codes[self.codes >= 0], minlength=len(self.names))
        return {name: int(n) for name, n in zip(self.names, found, strict=True) if n}

    def members(self, uids: np.ndarray) -> dict[str, BitMap]:
        """A Roaring bitmap of the `uids` (one per row) holding each value; values no row holds have none."""
        order = np.argsort(self.codes, kind="stable")
        bounds = np.searchsorted(self.codes[order], np.arange(len(self.names) + 1))
        as_uint32 = np.asarray(uids, dtype=np.uint32)[order]
        # array('I') is the buffer pyroaring ingests without a Python-level loop.
        return {
            name: BitMap(array("I", as_uint32[bounds[k] : bounds[k + 1]].tobytes()))
            for k, name in enumerate(self.names)
            if bounds[k + 1] > bounds[k]
        }


def rule_values(tag: TagDef, frame: pd.DataFrame) -> Labels:
    """First matching case's value for each row, else the default."""
    where = f"tag {tag.name}"
    cases = tag.rules or []
    picks = np.full(len(frame), len(cases), dtype=np.int64)  # the default, past the cases
    decided = np.zeros(len(frame), dtype=bool)
    for k, case in enumerate(cases):
        case_mask = mask(case.when, frame, tag.params, where)
        picks[case_mask & ~decided] = k
        decided |= case_mask
    return Labels.chosen(picks, [*(case.value for case in cases), tag.default])


def bucket_values(tag: TagDef, frame: pd.DataFrame) -> Labels:
    """The bucket label of each row's indicator value (none where the indicator is missing)."""
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
    picks = np.minimum(index, len(bucket.labels) - 1)
    picks[series.isna().to_numpy()] = -1
    return Labels.chosen(picks, bucket.labels)


def bitmaps(uids: np.ndarray, values: np.ndarray) -> dict[str, BitMap]:
    """A Roaring bitmap of uids per tag value (missing values have none)."""
    return Labels.of(values).members(uids)
