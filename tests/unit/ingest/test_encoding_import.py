"""Issue 13, fault 6, end to end: a GBK file of the 930 ambiguous hanzi imports exactly, so does a UTF-8 file
of names with emoji and symbols, a mixed file is refused with both line numbers (by the use case, the CLI and
the API), and `--encoding` forces an encoding."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support import api_client
from touchpoint.bootstrap import Container
from touchpoint.cli.main import app
from touchpoint.core.errors import ValidationError
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_file

D = date(2026, 3, 2)
MIXED = (
    b"customer_no,name\n"
    + "C1,张三丰\n".encode()  # line 2: UTF-8
    + "C2,王五\n".encode("gbk")  # line 3: GBK
)


def _ambiguous_hanzi() -> list[str]:
    """GB2312 hanzi (lead bytes B0–F7, trail bytes A1–FE) whose two GBK bytes are also one UTF-8 character."""
    found = []
    for lead in range(0xB0, 0xF8):
        for trail in range(0xA1, 0xFF):
            cell = bytes([lead, trail])
            try:
                cell.decode("gb2312")
                cell.decode("utf-8")
            except UnicodeDecodeError:
                continue
            found.append(cell.decode("gb2312"))
    return found


def _import(container: Container, path: Path, **options: object):  # type: ignore[no-untyped-def]
    return import_file(
        env=container,
        principal=SYSTEM,
        table="customers",
        path=path,
        options=ImportOptions(business_date=D, **options),  # type: ignore[arg-type]
    )


def test_a_gbk_file_of_the_930_ambiguous_hanzi_round_trips(container: Container, tmp_path: Path) -> None:
    hanzi = _ambiguous_hanzi()
    assert len(hanzi) == 930
    names = {f"C{i:03d}": a + b for i, (a, b) in enumerate(zip(hanzi, hanzi[1:] + hanzi[:1], strict=True))}
    path = tmp_path / "customers.csv"
    data = ("customer_no,name\n" + "".join(f"{no},{name}\n" for no, name in names.items())).encode("gbk")
    data.decode("utf-8")  # valid UTF-8 as well, as the file was
    path.write_bytes(data)
    report = _import(container, path)
    assert (report.status, report.rows_imported, report.encoding) == ("imported", 930, "gb18030")
    stored = container.analytics.table("customers").to_pyarrow().to_pandas()
    assert dict(zip(stored["customer_no"], stored["name"], strict=True)) == names


def test_a_utf8_file_of_names_with_emoji_and_symbols_imports_exactly(
    container: Container, tmp_path: Path
) -> None:
    # The review of fault 6: each of these lines once voted GBK, and 张伟 was stored as 寮犱紵
    names = {"C1": "张伟", "C2": "小张🌸", "C3": "Copyright ©", "C4": "VIP®", "C5": "【VIP】王芳👍🏻"}
    path = tmp_path / "customers.csv"
    path.write_bytes(
        ("customer_no,name\n" + "".join(f"{no},{name}\n" for no, name in names.items())).encode()
    )
    report = _import(container, path)
    assert (report.status, report.rows_imported, report.encoding) == ("imported", 5, "utf-8")
    stored = container.analytics.table("customers").to_pyarrow().to_pandas()
    assert dict(zip(stored["customer_no"], stored["name"], strict=True)) == names


def test_a_mixed_file_is_refused_with_both_lines_and_nothing_written(
    container: Container, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(MIXED)
    with pytest.raises(ValidationError, match=r"line 2 is UTF-8 but line 3 is GBK"):
        _import(container, path)
    assert container.analytics.partitions("customers") == []


def test_a_forced_encoding_reads_the_file_its_way(container: Container, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_no,name\nC1,路碌\n".encode("gbk"))
    report = _import(container, path, encoding="gbk")
    assert report.encoding == "gb18030"
    stored = container.analytics.table("customers").to_pyarrow().to_pandas()
    assert stored["name"].tolist() == ["路碌"]


def test_the_cli_refuses_a_mixed_file_naming_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(MIXED)
    args = ["--home", str(tmp_path / "h"), "import", "customers", str(path), "--date", "2026-03-02"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1  # one error line, no traceback
    assert "line 2 is UTF-8 but line 3 is GBK" in refused.output
    forced = CliRunner().invoke(app, [*args, "--encoding", "utf-8", "--json"])
    assert forced.exit_code == 1
    assert "line 3 is not valid UTF-8" in forced.output


def test_the_cli_takes_an_encoding(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_no,name\nC1,路碌\n".encode("gbk"))
    args = ["--home", str(tmp_path / "h"), "import", "customers", str(path), "--date", "2026-03-02", "--json"]
    result = CliRunner().invoke(app, [*args, "--encoding", "gbk"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert '"encoding": "gb18030"' in result.output


def test_the_api_takes_an_encoding_and_refuses_a_mixed_file(container: Container) -> None:
    with api_client(container) as client:
        refused = client.post(
            "/api/v1/import/customers", params={"date": "2026-03-02"}, files={"file": ("c.csv", MIXED)}
        )
        assert refused.status_code == 400
        assert "line 2 is UTF-8 but line 3 is GBK" in refused.text
        gbk = "customer_no,name\nC1,路碌\n".encode("gbk")
        forced = client.post(
            "/api/v1/import/customers",
            params={"date": "2026-03-02", "encoding": "gbk"},
            files={"file": ("c.csv", gbk)},
        )
        assert forced.status_code == 200, forced.text
        assert forced.json()["encoding"] == "gb18030"
