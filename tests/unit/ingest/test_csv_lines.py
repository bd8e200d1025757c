"""Issue 13, fault 6: the file line a report names is the physical line where the row starts, also after a
quoted value that spans lines and after blank lines. Expected lines are counted in the text the test wrote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from touchpoint.bootstrap import Container
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, ImportRejected, import_file, readers
from touchpoint.ingest.readers import read_csv

MULTI_LINE = (
    "customer_no,name,note\n"  # line 1
    'C1,张三,"first line\n'  # line 2
    'second line"\n'  # line 3
    "C2,李四\n"  # line 4: two fields where three are expected
    "C3,王五,ok\n"  # line 5
)


def test_a_multi_line_value_followed_by_a_bad_row_names_the_right_line(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(MULTI_LINE, encoding="utf-8")
    raw = read_csv(path)
    assert raw.table["note"].to_pylist() == ["first line\nsecond line", "ok"]
    assert [(e.row, e.line) for e in raw.unreadable] == [(2, 4)]
    assert [raw.line_of(int(r)) for r in raw.row_numbers] == [2, 5]


def test_the_import_report_names_the_physical_line_of_a_bad_value(
    sqlite_container: Container, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "customer_no,name,risk_level\n"  # line 1
        '"C1","多行\n'  # line 2
        '名字",C3\n'  # line 3
        "\n"  # line 4: blank, skipped
        "C2,李四,C9\n",  # line 5: C9 is no risk level
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as rejected:
        import_file(
            env=sqlite_container,
            principal=SYSTEM,
            table="customers",
            path=path,
            options=ImportOptions(business_date=date(2026, 3, 2)),
        )
    errors = rejected.value.report.errors
    assert [(e.row, e.line, e.column) for e in errors] == [(2, 5, "risk_level")]


@dataclass(frozen=True)
class Record:
    fields: tuple[str, ...]
    blank_lines_before: int
    crlf: bool


_value = st.lists(st.sampled_from([*'ab张三,"\n', "\r\n"]), max_size=6).map("".join)


def _field(value: str) -> str:
    """The field as a CSV writer would put it: quoted when it holds a delimiter, quote or line break."""
    if any(ch in value for ch in ',"\r\n') or value == "":
        return '"' + value.replace('"', '""') + '"'
    return value


_literal_quote = st.sampled_from(['5"x', 'a"', 'b""c'])  # a quote inside an unquoted value is kept as is


@st.composite
def _records(draw: st.DrawFn) -> list[Record]:
    records = []
    for _ in range(draw(st.integers(1, 12))):
        width = draw(st.sampled_from([3, 3, 3, 2, 4]))  # 3 is right; 2 and 4 are unreadable rows
        values = [draw(st.one_of(_value.map(_field), _literal_quote)) for _ in range(width)]
        records.append(Record(tuple(values), draw(st.sampled_from([0, 0, 0, 1, 2])), draw(st.booleans())))
    return records


def _file(records: list[Record], open_end: str | None) -> tuple[str, list[tuple[int, int, bool]]]:
    """The file text and, per record, (row number, line where it starts, whether it has 3 fields).

    With `open_end` the last value opens a quote that the file never closes (pyarrow reads to the end).
    """
    text = "a,b,c\n"
    expected = []
    for row, record in enumerate(records, start=1):
        line_break = "\r\n" if record.crlf else "\n"
        text += line_break * record.blank_lines_before
        expected.append((row, text.count("\n") + 1, len(record.fields) == 3))
        last = row == len(records)
        fields = (
            (*record.fields[:-1], f'"open\n{open_end}') if last and open_end is not None else record.fields
        )
        text += ",".join(fields) + ("" if last and open_end is not None else line_break)
    return text, expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=_records(),
    open_end=st.sampled_from([None, None, "", "to the end"]),
    scan_bytes=st.sampled_from([7, 64, 1 << 20]),
)
@example(  # the case: a value on two lines, then a row with too few fields
    records=[Record(('"x\ny"', "b", "c"), 0, False), Record(("1", "2"), 0, False)],
    open_end=None,
    scan_bytes=1 << 20,
)
@example(  # blank lines inside a value and between rows, Windows line breaks, chunks of 7 bytes
    records=[Record(('"\n\n"', '""', '"a""\n"'), 2, True), Record(("1", "2", "3"), 1, True)],
    open_end="",
    scan_bytes=7,
)
@example(  # quotes inside unquoted values are text, not the start of a quoted value
    records=[Record(('5"x', '"p\nq"', "c"), 0, False), Record(('a"', "2", "3"), 0, False)],
    open_end=None,
    scan_bytes=7,
)
def test_rows_and_lines_match_the_text_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    records: list[Record],
    open_end: str | None,
    scan_bytes: int,
) -> None:
    monkeypatch.setattr(readers, "SCAN_BYTES", scan_bytes)
    text, expected = _file(records, open_end)
    path = tmp_path / "c.csv"
    path.write_text(text, encoding="utf-8", newline="")
    raw = read_csv(path)
    good = [(row, line) for row, line, ok in expected if ok]
    bad = [(row, line) for row, line, ok in expected if not ok]
    assert [(int(r), raw.line_of(int(r))) for r in raw.row_numbers] == good
    assert [(e.row, e.line) for e in raw.unreadable] == bad


@pytest.mark.parametrize(
    ("text", "rows_and_lines"),
    [
        ("a,b\n1,2\n\r", [(1, 2)]),  # a last line holding only a carriage return is blank
        ("a,b\r\n\r\n1,2\r\n\r\n\r\n3,4", [(1, 3), (2, 6)]),
        ('a,b\n1,"x\n', [(1, 2)]),  # an unclosed quote runs to the end of the file
        ('a,"b\nc"\n1,2\n\n3,"x\n\ny"\n\n4,5', [(1, 3), (2, 5), (3, 9)]),  # a header on two lines
    ],
)
def test_lines_at_the_edges_of_the_file(
    tmp_path: Path, text: str, rows_and_lines: list[tuple[int, int]]
) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(text.encode())
    raw = read_csv(path)
    assert [(int(r), raw.line_of(int(r))) for r in raw.row_numbers] == rows_and_lines


def test_a_row_longer_than_a_parser_block_is_refused_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "_BLOCK_BYTES", 1 << 16)
    monkeypatch.setattr(readers, "SCAN_BYTES", 1 << 12)
    path = tmp_path / "c.csv"
    path.write_text("a,b\n1,2\n3," + "x" * (1 << 17) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"line 3 is longer than"):
        read_csv(path)
    path.write_text('a,b\n1,2\n3,"' + "x\n" * (1 << 16) + '"\n', encoding="utf-8")  # short lines, long row
    with pytest.raises(ValidationError, match=r"c\.csv is not a readable CSV file"):
        read_csv(path)
