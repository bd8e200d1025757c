from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint.ingest.convert import convert_column
from touchpoint.ingest.model import ColumnSpec, Kind

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _convert(values: list[object], kind: Kind, naive_ok: bool = True):  # type: ignore[no-untyped-def]
    return convert_column(pa.array(values, type=pa.string()), ColumnSpec("c", kind), SHANGHAI, naive_ok)


def test_date_formats_core_systems_export() -> None:
    out = _convert(["2026-01-05", "20260106", "2026/01/07", "2026-01-08 10:00:00", None, ""], Kind.DATE)
    assert out.bad == {}
    assert out.values.to_pylist() == [date(2026, 1, d) for d in (5, 6, 7, 8)] + [None, None]


def test_bad_dates_name_their_positions() -> None:
    out = _convert(["2026-01-05", "2026-02-30", "soon"], Kind.DATE)
    assert set(out.bad) == {1, 2}
    assert out.values.to_pylist()[0] == date(2026, 1, 5)


def test_naive_times_are_beijing_time_and_offsets_are_honoured() -> None:
    out = _convert(
        ["2026-01-05 09:30:00", "2026-01-05T09:30:00+08:00", "2026-01-05T01:30:00Z", "1767576600000"],
        Kind.TIMESTAMP,
    )
    assert out.bad == {}
    expected = datetime(2026, 1, 5, 1, 30, tzinfo=UTC)
    assert [v.astimezone(UTC) for v in out.values.to_pylist()] == [expected] * 4


def test_events_refuse_times_without_offset() -> None:
    out = _convert(["2026-01-05T09:30:00+08:00", "2026-01-05 09:30:00"], Kind.TIMESTAMP, naive_ok=False)
    assert list(out.bad) == [1]
    assert "offset" in out.bad[1]


def test_booleans_in_chinese_and_english() -> None:
    out = _convert(["是", "否", "TRUE", "0", "Y", "maybe", None], Kind.BOOL)
    assert out.values.to_pylist() == [True, False, True, False, True, None, None]
    assert list(out.bad) == [5]


def test_json_must_be_an_object() -> None:
    out = _convert(['{"a": 1}', "[1]", None], Kind.JSON)
    assert list(out.bad) == [1]


numbers = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e12, max_value=1e12)
junk = st.text(alphabet="abcxyz-#", min_size=1, max_size=4)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.one_of(numbers.map(lambda x: ("ok", x)), junk.map(lambda j: ("bad", j))), max_size=30)
)
def test_floats_convert_exactly_and_flag_exactly_the_junk(values: list[tuple[str, object]]) -> None:
    text = [repr(v) if tag == "ok" else v for tag, v in values]
    out = _convert(text, Kind.FLOAT)
    assert set(out.bad) == {i for i, (tag, _) in enumerate(values) if tag == "bad"}
    for i, (tag, v) in enumerate(values):
        assert out.values[i].as_py() == (v if tag == "ok" else None)


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
renderings = st.sampled_from(["iso_utc", "iso_cn", "naive_cn", "epoch_ms"])


def _render(instant: datetime, how: str) -> str:
    if how == "iso_utc":
        return instant.isoformat().replace("+00:00", "Z")
    local = instant.astimezone(SHANGHAI)
    if how == "iso_cn":
        return local.isoformat()
    if how == "naive_cn":
        return local.replace(tzinfo=None).isoformat(sep=" ")
    return str((instant - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(instants, renderings), min_size=1, max_size=20))
def test_any_mix_of_time_renderings_lands_on_the_same_instant(rows: list[tuple[datetime, str]]) -> None:
    out = _convert([_render(i, how) for i, how in rows], Kind.TIMESTAMP)
    assert out.bad == {}
    got = [v.astimezone(UTC) for v in out.values.to_pylist()]
    assert all(abs(g - i) < timedelta(milliseconds=1) for g, (i, _) in zip(got, rows, strict=True))
