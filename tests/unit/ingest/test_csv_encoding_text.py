"""Issue 13, fault 6, review: UTF-8 text with emoji or Latin-1 symbols is read as UTF-8, and GB2312 text that
happens to form 3- or 4-byte UTF-8 sequences is still read as GBK.

The first detector compared (doubtful, rare) readings doubtful first, so a UTF-8 line with hanzi and one
emoji or one symbol voted GB18030: 小张🌸 became 灏忓紶馃尭, "Copyright ©" became "Copyright 漏", and a file
with 张三 on one line and VIP® on another was refused as mixed. Expected values are the text each test
wrote; which GBK bytes chain into UTF-8 sequences is worked out here from the GB2312 code table and Python's
codecs alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from touchpoint.core.errors import ValidationError
from touchpoint.ingest import readers
from touchpoint.ingest.encoding import Verdict, judge_line
from touchpoint.ingest.readers import read_csv


def decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def in_gb2312(text: str) -> bool:
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def gb2312_cells(leads: range | list[int], trails: range | list[int]) -> list[bytes]:
    """The two-byte GB2312 characters with these lead and trail bytes (holes in the table left out)."""
    cells = (bytes([lead, trail]) for lead in leads for trail in trails)
    return [cell for cell in cells if decodes(cell, "gb2312")]


HANZI = [cell.decode("gb2312") for cell in gb2312_cells(range(0xB0, 0xF8), range(0xA1, 0xFF))]
EMOJI = ["🌸", "😀", "👍🏻", "❤️", "👨‍👩‍👧", "🇨🇳", "1️⃣", "⭐", "☀️", "✅", "🀄", "🧧", "🥇", "🐂"]
LATIN_1 = [chr(code) for code in range(0xA1, 0x100)]  # ¡ … ÿ: every printable Latin-1 character
OTHER_LETTERS = list("αβΩЖжЯяÅßñ")  # Greek, Cyrillic and Latin letters of two UTF-8 bytes
PUNCTUATION = list("，。、：；“”‘’（）《》【】「」—…！？％～·")
ASCII = list("abcXYZ019 -_./@#")  # nothing a CSV parser treats specially


def write_rows(path: Path, rows: list[list[str]], codec: str) -> None:
    width = max(len(row) for row in rows)
    header = ",".join(["customer_no", *(f"f{i}" for i in range(1, width))])
    text = header + "\n" + "".join(",".join(row) + "\n" for row in rows)
    path.write_bytes(text.encode(codec))


def read_rows(path: Path) -> tuple[str, list[list[str]]]:
    raw = read_csv(path)
    return raw.encoding, [list(row.values()) for row in raw.table.to_pylist()]


@pytest.fixture(params=[48, 4 << 20], ids=["48-byte-chunks", "4MB-chunks"])
def scan_bytes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Judge files in small chunks too, so that lines are judged in chunks of one or two."""
    monkeypatch.setattr(readers, "SCAN_BYTES", request.param)
    return int(request.param)


REVIEWED = [
    pytest.param([["C1", "张伟", "小张🌸"]], id="hanzi-and-an-emoji"),
    pytest.param([["C1", "Li Si", "Copyright ©"]], id="a-lone-copyright-sign"),
    pytest.param([["C1", "张三", "x"], ["C2", "Li", "VIP®"]], id="hanzi-then-a-registered-sign"),
]


@pytest.mark.usefixtures("scan_bytes")
@pytest.mark.parametrize("rows", REVIEWED)
def test_the_reviewers_utf8_files_are_read_as_utf8(tmp_path: Path, rows: list[list[str]]) -> None:
    path = tmp_path / "c.csv"
    write_rows(path, rows, "utf-8")
    assert decodes(path.read_bytes(), "gb18030")  # GB18030 reads every one of them too
    assert read_rows(path) == ("utf-8", rows)


def test_no_reviewed_line_votes_gbk() -> None:
    assert judge_line("C1,张伟,小张🌸".encode()) is Verdict.UTF8  # GB18030: 寮犱紵,灏忓紶馃尭
    assert judge_line("C1,Li Si,Copyright ©".encode()) is Verdict.EITHER  # "Copyright 漏" is text too
    assert judge_line("C2,Li,VIP®".encode()) is Verdict.EITHER


_piece = st.sampled_from([*HANZI, *EMOJI, *LATIN_1, *OTHER_LETTERS, *PUNCTUATION, *ASCII])
# Each field holds at least one hanzi or emoji, so each line has a character of three or four UTF-8 bytes
_field = st.tuples(
    st.lists(_piece, max_size=6), st.sampled_from([*HANZI, *EMOJI]), st.lists(_piece, max_size=6)
).map(lambda parts: "".join(parts[0]) + parts[1] + "".join(parts[2]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.lists(_field, min_size=1, max_size=12))
@example(fields=["张伟", "小张🌸"])
@example(fields=["王芳👍🏻", "李娜❤️", "一家人👨‍👩‍👧", "中国🇨🇳", "1️⃣号", "⭐客户"])
@example(fields=["腾讯©", "华为®", "维生素5µg", "面积20m²", "体温37°C", "café咖啡", "1½倍", "é张"])
@example(fields=["【重要】客户", "你好、世界。", "（全角）：；！？", "《证券法》", "张三…", "～％"])
@example(fields=["小张の店", "100㎡", "25℃", "№1客户", "①号"])
@example(fields=["¬张", "伟¦", "Иван张", "αβ张", "张ÿ"])  # out-of-place symbols and other scripts
@example(fields=["卢伟".encode("gbk").decode() + "张"])  # "¬ΰ张": what UTF-8 makes of GBK 卢伟, then a hanzi
def test_utf8_lines_with_a_wide_character_are_read_as_utf8(tmp_path: Path, fields: list[str]) -> None:
    rows = [[f"C{i}", field] for i, field in enumerate(fields)]
    path = tmp_path / "c.csv"
    write_rows(path, rows, "utf-8")
    assert read_rows(path) == ("utf-8", rows)


NARROW = [
    "Copyright ©",
    "© 2024",
    "VIP®",
    "Brand® Gold",
    "5µg",
    "µm",
    "20m²",
    "10³",
    "25°C",
    "±5",
    "¥100",
    "3×4",
    "José",
    "Zoë Müller",
    "café",
    "1½",
    "½ 3",
    "£5",
    "§ 3",
    "John·Smith",
]


@pytest.mark.parametrize("text", NARROW)
def test_latin_1_symbols_where_text_puts_them_are_read_as_utf8(tmp_path: Path, text: str) -> None:
    # No character of three or four bytes here: GB18030 reads each symbol as one common hanzi (© 漏, ® 庐,
    # µ 碌, ² 虏, ° 掳, é 茅, ½ 陆), so only where the symbol stands tells them apart
    path = tmp_path / "c.csv"
    write_rows(path, [["C1", text]], "utf-8")
    assert decodes(path.read_bytes(), "gb18030")
    assert read_rows(path) == ("utf-8", [["C1", text]])
    assert judge_line(f"C1,{text}".encode()) is not Verdict.GB18030


# GB2312 text that is valid UTF-8. A GBK character is a lead byte A1–F7 and a trail byte A1–FE; UTF-8 needs
# continuation bytes 80–BF, so only bytes A1–BF can continue a sequence. Three shapes are possible:
# - 2 bytes: one character [C2–DF][A1–BF] (the 930 hanzi such as 卢);
# - 3 bytes, which take a character and a half, so they come in pairs: [E0–EF][A1–BF] [A1–BF][E0–EF]
#   [A1–BF][A1–BF] is three characters read as two 3-byte sequences (ED is left out: those are surrogates);
# - 4 bytes: [F0–F3][A1–BF] [A1–BF][A1–BF], two characters read as one 4-byte sequence.
_CONTINUING = range(0xA1, 0xC0)
_THREE_LEADS = [lead for lead in range(0xE0, 0xF0) if lead != 0xED]
TWO_BYTE = gb2312_cells(range(0xC2, 0xE0), _CONTINUING)
CHAIN_FIRST = gb2312_cells(_THREE_LEADS, _CONTINUING)
CHAIN_MIDDLE = gb2312_cells(_CONTINUING, _THREE_LEADS)
CHAIN_LAST = gb2312_cells(_CONTINUING, _CONTINUING)
FOUR_FIRST = gb2312_cells(range(0xF0, 0xF4), _CONTINUING)


def test_gb2312_text_can_form_three_and_four_byte_utf8_sequences() -> None:
    """The reviewer asked whether GBK text ever reads as UTF-8 with 3- or 4-byte sequences: it does."""
    assert len(TWO_BYTE) == 930
    chain = CHAIN_FIRST[0] + CHAIN_MIDDLE[0] + CHAIN_LAST[0]
    assert [len(c.encode()) for c in chain.decode("utf-8")] == [3, 3]
    four = FOUR_FIRST[0] + CHAIN_LAST[0]
    assert [len(c.encode()) for c in four.decode("utf-8")] == [4]
    # and the first sequence of a chain reads as a GB2312 hanzi for some, but far from all, of them
    middle_leads = sorted({cell[:1] for cell in CHAIN_MIDDLE})
    firsts = [(first + lead).decode("utf-8") for first in CHAIN_FIRST for lead in middle_leads]
    plain = [char for char in firsts if in_gb2312(char)]
    assert 0 < len(plain) < len(firsts) / 2


def _chain() -> st.SearchStrategy[bytes]:
    return st.tuples(
        st.sampled_from(CHAIN_FIRST), st.sampled_from(CHAIN_MIDDLE), st.sampled_from(CHAIN_LAST)
    ).map(b"".join)


_gbk_piece = st.one_of(
    st.sampled_from(TWO_BYTE),
    _chain(),
    st.tuples(st.sampled_from(FOUR_FIRST), st.sampled_from(CHAIN_LAST)).map(b"".join),
    st.sampled_from([b"1", b"A", b" "]),
)
_gbk_field = st.lists(_gbk_piece, min_size=1, max_size=5).map(lambda pieces: b"".join(pieces).decode("gbk"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.lists(_gbk_field, min_size=1, max_size=12))
@example(fields=[(CHAIN_FIRST[0] + CHAIN_MIDDLE[0] + CHAIN_LAST[0]).decode("gbk")])
@example(fields=[(FOUR_FIRST[0] + CHAIN_LAST[0]).decode("gbk")])
@example(fields=[(CHAIN_FIRST[0] + CHAIN_MIDDLE[0] + CHAIN_LAST[0] + TWO_BYTE[0]).decode("gbk")])
def test_gb2312_text_that_is_also_utf8_never_votes_utf8(tmp_path: Path, fields: list[str]) -> None:
    rows = [[f"C{i}", field] for i, field in enumerate(fields)]
    path = tmp_path / "c.csv"
    write_rows(path, rows, "gbk")
    assert decodes(path.read_bytes(), "utf-8")  # the whole file is valid UTF-8
    # Beside one line that only GBK can read, the file is GBK (a UTF-8 vote would make it "mixed")
    write_rows(path, [*rows, ["C99", "王五"]], "gbk")
    assert read_rows(path) == ("gb18030", [*rows, ["C99", "王五"]])


def test_a_line_readable_as_plain_chinese_both_ways_leaves_the_choice_to_the_other_lines(
    tmp_path: Path,
) -> None:
    # GBK 3 hanzi that UTF-8 reads as 2 common hanzi: neither reading is odd, so the line does not vote
    name = next(
        (first + middle + last).decode("gbk")
        for middle in CHAIN_MIDDLE
        if middle[0] >= 0xB0  # a hanzi, not a symbol
        for first in CHAIN_FIRST
        if in_gb2312((first + middle[:1]).decode("utf-8"))
        for last in CHAIN_LAST
        if last[0] >= 0xB0 and in_gb2312((middle[1:] + last).decode("utf-8"))
    )
    assert len(name) == 3
    assert len(name.encode("gbk").decode("utf-8")) == 2
    assert judge_line(f"C1,{name}".encode("gbk")) is Verdict.EITHER
    path = tmp_path / "c.csv"
    write_rows(path, [["C1", name], ["C2", "王五"]], "gbk")
    assert read_rows(path) == ("gb18030", [["C1", name], ["C2", "王五"]])
    write_rows(path, [["C1", name]], "gbk")  # alone, it is read as UTF-8: the case --encoding is for
    assert read_rows(path)[0] == "utf-8"
    assert read_csv(path, encoding="gbk").table["f1"].to_pylist() == [name]


@pytest.mark.usefixtures("scan_bytes")
def test_utf8_with_emoji_mixed_with_gbk_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(
        b"customer_no,f1\nC1,plain\n"
        + "C2,小张🌸\n".encode()  # line 3, UTF-8
        + "C3,卢伟\n".encode("gbk")  # line 4, GBK that is also valid UTF-8
    )
    with pytest.raises(ValidationError, match=r"line 3 is UTF-8 but line 4 is GBK"):
        read_csv(path)


def test_a_utf8_file_whose_every_line_has_an_emoji_is_read_as_utf8(tmp_path: Path) -> None:
    names = ["张三丰", "王小芳", "李娜", "刘洋洋"]
    rows = [[f"C{i:06d}", names[i % 4], f"小{names[i % 4][0]}{EMOJI[i % len(EMOJI)]}"] for i in range(20_000)]
    path = tmp_path / "c.csv"
    write_rows(path, rows, "utf-8")
    assert read_rows(path) == ("utf-8", rows)
