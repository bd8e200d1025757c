from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from touchpoint.core.errors import ValidationError
from touchpoint.ingest.readers import detect_encoding, detect_format, read_csv, read_jsonl, read_parquet


def test_gbk_file_is_detected_and_decoded(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("customer_no,name,city\nC1,张三,上海\nC2,李四,深圳\n".encode("gbk"))
    raw = read_csv(path)
    assert raw.encoding == "gb18030"
    assert raw.table["name"].to_pylist() == ["张三", "李四"]


def test_utf8_with_bom_has_clean_header(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("\ufeffcustomer_no,name\nC1,张三\n".encode())
    raw = read_csv(path)
    assert raw.encoding == "utf-8"
    assert raw.table.column_names == ["customer_no", "name"]


def test_ragged_rows_become_errors_and_row_numbers_stay_true(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("a,b\n1,2\n3\n4,5\n6,7,8\n9,10\n")
    raw = read_csv(path)
    assert raw.table["a"].to_pylist() == ["1", "4", "9"]
    assert raw.row_numbers.tolist() == [1, 3, 5]
    assert [(e.row, e.line) for e in raw.unreadable] == [(2, 3), (4, 5)]
    assert "expected 2 fields, found 1" in raw.unreadable[0].reason


def test_values_stay_text_whatever_they_look_like(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_no,zip\n000123,01234\n")
    raw = read_csv(path)
    assert raw.table["customer_no"].to_pylist() == ["000123"]


def test_jsonl_keeps_unknown_fields_in_properties(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"event": "login", "customer_no": "C1", "time": 1767576600000, '
        '"os": "iOS", "properties": {"a": 1}}\n'
        "\n"
        "not json\n"
        "[1, 2]\n"
    )
    raw = read_jsonl(path)
    assert raw.table["time"].to_pylist() == ["1767576600000"]
    assert raw.table["properties"].to_pylist() == ['{"os":"iOS","a":1}']
    assert raw.row_numbers.tolist() == [1]
    assert [e.row for e in raw.unreadable] == [3, 4]


def test_parquet_keeps_types_and_bad_parquet_is_named(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"customer_no": ["C1"], "total_assets": [1.5]}), path)
    assert read_parquet(path).table["total_assets"].type == pa.float64()
    broken = tmp_path / "b.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(ValidationError, match=r"b\.parquet"):
        read_parquet(broken)


def test_formats_and_encodings() -> None:
    assert detect_format(Path("x.CSV")) == "csv"
    assert detect_format(Path("x.ndjson")) == "jsonl"
    with pytest.raises(ValidationError, match="format"):
        detect_format(Path("x.xlsx"))
    assert detect_encoding("中文".encode()) == "utf-8"
    assert detect_encoding("中文".encode("gbk")) == "gb18030"
    assert detect_encoding("卢伟".encode("gbk")) == "gb18030"  # valid UTF-8 too, as "¬ΰ"


def test_bom_does_not_turn_the_first_column_into_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("\ufeffcustomer_no,b\n000123,007\n".encode())
    assert read_csv(path).table.to_pylist() == [{"customer_no": "000123", "b": "007"}]
