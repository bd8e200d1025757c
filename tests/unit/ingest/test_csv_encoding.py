"""Issue 13, fault 6: a CSV file's encoding is judged from all of it, GBK that is also valid UTF-8 is read as
GBK, a file mixing encodings is refused naming a line of each, and nothing ends in a traceback.

Expected values are built independently: the ambiguous hanzi from the GB2312 code table and Python's codecs,
the names and lines from the text the test itself wrote.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from touchpoint.core.errors import ValidationError
from touchpoint.ingest import readers
from touchpoint.ingest.readers import read_csv


def gb2312_hanzi() -> list[str]:
    """Every GB2312 hanzi: rows 16–87 (lead bytes B0–F7), cells 1–94 (trail bytes A1–FE), minus the holes."""
    hanzi = []
    for lead in range(0xB0, 0xF8):
        for trail in range(0xA1, 0xFF):
            try:
                hanzi.append(bytes([lead, trail]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return hanzi


def decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


ALL_HANZI = gb2312_hanzi()
# A GBK character is two bytes, so in any pairing with its neighbours it stays valid UTF-8 exactly when its
# own two bytes are a whole UTF-8 sequence (a lead C2–DF and a continuation 80–BF): then a text made only of
# such characters is valid UTF-8 however they are combined.
AMBIGUOUS = [c for c in ALL_HANZI if decodes(c.encode("gbk"), "utf-8")]
PUNCTUATION = "，。、：；“”（）《》—…！？％"


def test_the_ambiguous_set_is_the_issues_930_characters() -> None:
    assert len(ALL_HANZI) == 6763
    assert len(AMBIGUOUS) == 930
    assert set("业专值券伟卢叶园") <= set(AMBIGUOUS)
    assert "卢伟".encode("gbk").decode("utf-8") == "¬ΰ"  # the misreading the issue shows


def write_customers(path: Path, names: list[str], codec: str) -> bytes:
    text = "customer_no,name\n" + "".join(f"C{i},{name}\n" for i, name in enumerate(names))
    data = text.encode(codec)
    path.write_bytes(data)
    return data


def test_a_gbk_file_of_every_ambiguous_hanzi_round_trips(tmp_path: Path) -> None:
    # names of two characters, each ambiguous character used twice (first and second place)
    names = [a + b for a, b in zip(AMBIGUOUS, AMBIGUOUS[1:] + AMBIGUOUS[:1], strict=True)]
    names += ["卢伟", "叶园"]
    data = write_customers(tmp_path / "c.csv", names, "gbk")
    assert decodes(data, "utf-8")  # the whole file is valid UTF-8 too: validity alone cannot tell
    raw = read_csv(tmp_path / "c.csv")
    assert raw.encoding == "gb18030"
    assert raw.table["name"].to_pylist() == names


_names = st.lists(st.text(st.sampled_from(AMBIGUOUS), min_size=1, max_size=4), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=_names)
@example(names=["卢伟"])
@example(names=["叶园"])
@example(names=["路楼", "卤"])  # UTF-8 reads these as "·¥" and "±": symbols, but not beside Chinese
@example(names=["尾魏"])  # UTF-8 reads "βκ": Greek letters
@example(names=["1卢", "卢A"])  # "1¬", "¬A": a symbol beside a digit or letter is still not Chinese
def test_gbk_names_of_ambiguous_hanzi_read_as_gbk(tmp_path: Path, names: list[str]) -> None:
    write_customers(tmp_path / "c.csv", names, "gbk")
    raw = read_csv(tmp_path / "c.csv")
    assert raw.table["name"].to_pylist() == names


# Chinese text as a UTF-8 export holds it: hanzi, Chinese punctuation, digits and Latin letters
_chinese_text = st.text(st.sampled_from([*ALL_HANZI, *PUNCTUATION, *"0123456789AZ"]), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_chinese_text, min_size=1, max_size=20))
@example(names=["中文"])  # GB18030 reads these six bytes too, as "涓枃"
@example(names=["阿依古丽·买买提", "John·Smith"])  # a middle dot between name parts
@example(names=["¥100", "25°C", "3×4"])
@example(names=["张伟", "小张🌸"])  # the review: GB18030 read these as 寮犱紵, 灏忓紶馃尭
@example(names=["Copyright ©"])  # GB18030: "Copyright 漏"
@example(names=["张三", "VIP®"])  # refused as mixing encodings
def test_utf8_chinese_text_stays_utf8(tmp_path: Path, names: list[str]) -> None:
    write_customers(tmp_path / "c.csv", names, "utf-8")
    raw = read_csv(tmp_path / "c.csv")
    assert raw.table["name"].to_pylist() == names


def test_latin_names_in_utf8_are_not_taken_for_gbk(tmp_path: Path) -> None:
    names = ["José", "Zoë Müller"]
    data = write_customers(tmp_path / "c.csv", names, "utf-8")
    assert decodes(data, "gb18030")  # GB18030 reads "Jos茅", "Zo毛 M眉ller"
    assert read_csv(tmp_path / "c.csv").table["name"].to_pylist() == names


@pytest.fixture(params=[64, 4 << 20], ids=["64-byte-chunks", "4MB-chunks"])
def scan_bytes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Judge files in small chunks too, so that votes cross chunk edges."""
    monkeypatch.setattr(readers, "SCAN_BYTES", request.param)
    return int(request.param)


@pytest.mark.usefixtures("scan_bytes")
def test_a_file_mixing_utf8_and_gbk_rows_is_refused_naming_a_line_of_each(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"customer_no,name\nC1,plain\n"
        + "C2,张三\n".encode()  # line 3, UTF-8
        + "C3,李四\n".encode()
        + "C4,王五\n".encode("gbk")  # line 5, GBK
        + "C5,赵六\n".encode("gbk")
    )
    with pytest.raises(ValidationError) as refused:
        read_csv(path)
    message = str(refused.value)
    assert re.search(r"line 3\b.*UTF-8", message), message
    assert re.search(r"line 5\b.*GB", message), message
    assert "--encoding" in message


@pytest.mark.usefixtures("scan_bytes")
def test_a_mixed_file_whose_gbk_rows_are_also_valid_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"customer_no,name\n"
        + "C1,卢伟\n".encode("gbk")  # line 2: GBK, valid UTF-8 as "¬ΰ"
        + "C2,张三丰\n".encode()  # line 3: UTF-8, not valid GB18030 (nine bytes)
    )
    with pytest.raises(ValidationError, match=r"line 3 is UTF-8.*line 2 is GBK"):
        read_csv(path)


@pytest.mark.usefixtures("scan_bytes")
def test_the_first_line_of_each_encoding_is_named(tmp_path: Path) -> None:
    line_3 = "C2,张喆\n".encode()  # UTF-8 with a rare hanzi, which GB18030 reads as three odd ones
    assert decodes(line_3, "gb18030")
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"customer_no,name\n" + "C1,张三丰\n".encode() + line_3 + "C3,王五\n".encode("gbk") + b"C4,x\n"
    )
    with pytest.raises(ValidationError, match=r"line 2 is UTF-8 but line 4 is GBK"):
        read_csv(path)


@pytest.mark.usefixtures("scan_bytes")
def test_lines_that_read_alike_both_ways_do_not_hide_the_ones_after(tmp_path: Path) -> None:
    either = b"C1,\xf0\xa6\x85\xae\n"  # UTF-8 "𦅮", GB18030 "穰叜": one rare hanzi in each reading
    assert either.decode("utf-8") == "C1,𦅮\n"
    assert either.decode("gb18030") == "C1,穰叜\n"
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"customer_no,name\n" + either + "C2,张三丰\n".encode() + "C3,卢伟\n".encode("gbk"))
    with pytest.raises(ValidationError, match=r"line 3 is UTF-8 but line 4 is GBK"):
        read_csv(path)


def test_gbk_past_the_first_four_megabytes_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    filler = b"".join(b"C%07d,plain ascii name\n" % i for i in range(200_000))
    assert len(filler) > 4 << 20
    path.write_bytes(b"customer_no,name\n" + filler + "C9999999,王五\n".encode("gbk"))
    raw = read_csv(path)
    assert raw.encoding == "gb18030"
    assert raw.table["name"].to_pylist()[-1] == "王五"
    assert raw.table.num_rows == 200_001


def test_ambiguous_gbk_past_the_first_four_megabytes_is_read_as_gbk(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    filler = b"".join(b"C%07d,plain ascii name\n" % i for i in range(200_000))
    path.write_bytes(b"customer_no,name\n" + filler + "C9999999,卢伟\n".encode("gbk"))
    raw = read_csv(path)
    assert raw.table["name"].to_pylist()[-1] == "卢伟"


def test_utf8_after_four_megabytes_of_gbk_is_refused_not_garbled(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    filler = "".join(f"C{i:07d},张三\n" for i in range(350_000)).encode("gbk")
    path.write_bytes(b"customer_no,name\n" + filler + "C9999999,李四丰\n".encode())
    with pytest.raises(ValidationError, match=r"line 350002 is UTF-8.*line 2 is GBK"):
        read_csv(path)


def test_bytes_that_are_neither_encoding_are_named_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"customer_no,name\nC1,ok\nC2,\xff\xfe\n")
    with pytest.raises(ValidationError, match=r"line 3 is neither UTF-8 nor GBK"):
        read_csv(path)


def test_a_forced_encoding_wins_and_a_line_it_cannot_read_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    write_customers(path, ["路碌"], "gbk")  # alone, these bytes read as UTF-8 "·µ" too
    assert read_csv(path, encoding="gbk").table["name"].to_pylist() == ["路碌"]
    assert read_csv(path, encoding="utf-8").table["name"].to_pylist() == ["路碌".encode("gbk").decode()]
    write_customers(path, ["张三"], "gbk")
    with pytest.raises(ValidationError, match=r"line 2 is not valid UTF-8"):
        read_csv(path, encoding="utf-8")
    with pytest.raises(ValidationError, match="unknown encoding"):
        read_csv(path, encoding="latin-1")


def test_a_utf8_byte_order_mark_with_gbk_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("\ufeffcustomer_no,name\n".encode() + "C1,王五\n".encode("gbk"))
    with pytest.raises(ValidationError, match=r"line 1 is UTF-8.*line 2 is GBK"):
        read_csv(path)
