"""The collector's limits: the value count before parsing, depth against what storage writes, the crc."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint.config import Settings
from touchpoint.ingest.collector import native
from touchpoint.ingest.collector.limits import MAX_STORABLE_DEPTH, CollectorLimits, _values_exceed
from touchpoint.ingest.collector.model import Batch, EventProblem
from touchpoint.ingest.collector.payload import PayloadError, java_string_hash
from touchpoint.ingest.collector.timing import TimeWindow

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
# Text that looks like JSON structure, so that strings full of commas, brackets and escapes are exercised.
TRICKY = st.text(alphabet=st.sampled_from(list(',[]{}":\\ab\x00中')), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | TRICKY,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TRICKY, inner, max_size=5),
    max_leaves=40,
)


def _values(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_values(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_values(v) for v in value)
    return 1


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_the_value_count_before_parsing_never_undercounts(document: Any) -> None:
    """Never fewer than there are (a limit cannot be passed), never more than twice (only an empty object or
    array counts twice), whatever the strings hold."""
    data = orjson.dumps(document)
    count = _values(document)
    assert not _values_exceed(data, 2 * count)
    assert _values_exceed(data, count - 1)


def test_values_at_the_limit_pass_and_one_more_is_413() -> None:
    limits = CollectorLimits(max_values=1_000)
    at_limit = orjson.dumps([",[{" for _ in range(999)])  # 999 strings + the array
    limits.check_values(at_limit)
    with pytest.raises(PayloadError) as refused:
        limits.check_values(orjson.dumps(["x"] * 1_000))
    assert (refused.value.status, refused.value.reason) == (413, "too_many_values")


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def test_an_event_at_the_deepest_setting_is_writable_everywhere_it_is_stored() -> None:
    limits = CollectorLimits(max_depth=MAX_STORABLE_DEPTH)
    # the event is level 1, so properties nested this far fill every level the limit allows
    message = {"event": "x", "customer_no": "C1", "time": 1, "properties": _nested(MAX_STORABLE_DEPTH - 1)}
    limits.check_batch([message])
    batch = Batch(source="native", project="default", messages=[message])
    event = native.normalise(
        message, batch, NOW, TimeWindow(age_limit_lifted=True, max_age=TimeWindow().max_age)
    )
    orjson.dumps({"event_id": "e", "received_at": "t", "payload": event.payload})  # the NATS record
    orjson.dumps({"format": 1, "message": message, "context": {}})  # the quarantine's envelope
    deeper = {**message, "properties": _nested(MAX_STORABLE_DEPTH)}
    with pytest.raises(PayloadError) as refused:
        limits.check_batch([deeper])
    assert refused.value.reason == "too_deep"


def test_the_depth_setting_stops_where_storage_does() -> None:
    field = Settings.model_fields["collector_max_depth"]
    assert max(m.le for m in field.metadata if hasattr(m, "le")) == MAX_STORABLE_DEPTH
    with pytest.raises(ValueError, match="collector_max_depth"):
        CollectorLimits(max_depth=MAX_STORABLE_DEPTH + 1)


def test_members_of_nested_objects_and_arrays_count_too() -> None:
    limits = CollectorLimits(max_properties=3)
    limits.check_event({"properties": {"a": [1, 2, 3]}})
    with pytest.raises(EventProblem) as wide:
        limits.check_event({"properties": {"a": {"b": [1, 2, 3, 4]}}})
    assert wide.value.reason == "too_many_properties"


def _java_hash(text: str) -> int:
    units = text.encode("utf-16-be")
    value = 0
    for i in range(0, len(units), 2):
        value = (31 * value + (units[i] << 8 | units[i + 1])) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_the_crc_is_javas_string_hash(text: str) -> None:
    assert java_string_hash(text) == _java_hash(text)


def test_the_crc_of_a_long_body_spans_chunks() -> None:
    text = "aZ+/=" * 500_000
    assert java_string_hash(text) == _java_hash(text)
