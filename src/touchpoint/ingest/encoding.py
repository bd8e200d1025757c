"""Which text encoding a CSV file is in, UTF-8 or GB18030 (a superset of GBK and GB2312), judged line by line.

Validity alone cannot decide: 930 of GB2312's 6,763 hanzi are two GBK bytes that also form one UTF-8
character (卢伟 is C2 AC CE B0, which UTF-8 reads as "¬ΰ"). So every line votes. A line only one reading can
decode votes for that reading. A line both can decode votes for the reading that looks more like Chinese
business data: fewer *doubtful* characters (anything but ASCII, ideographs and Chinese punctuation: Latin-1
symbols, Greek, Cyrillic, Armenian, Hebrew, kana, private use …), then fewer *rare* ideographs (outside
the hanzi of GB2312 and Big5). A file with votes for both encodings is refused, naming the first line of
each; a file without votes for GB18030 is UTF-8.

Only lines that a reading finds odd can vote against it, so a file is read once per encoding at C speed and
only its odd lines are judged one by one.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from enum import Enum
from typing import Literal

import numpy as np

from touchpoint.core.errors import ValidationError

Encoding = Literal["utf-8", "gb18030"]

_NAMES: dict[str, Encoding] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "cp936": "gb18030",
}
_LABELS: dict[Encoding, str] = {"utf-8": "UTF-8", "gb18030": "GBK/GB18030"}
_FORCE_HINT = "force one with --encoding utf-8|gbk (over HTTP: ?encoding=)"


def encoding_named(name: str | None) -> Encoding | None:
    """The codec a user's encoding name stands for (GBK and GB2312 are read as their superset GB18030);
    `None` for automatic detection (no name, or "auto")."""
    if name is None or name.strip().lower() in ("", "auto"):
        return None
    key = name.strip().lower().replace("_", "-")
    if key not in _NAMES:
        raise ValidationError(f"unknown encoding {name!r}: use auto, utf-8 or gbk (gb18030)")
    return _NAMES[key]


def _decoded(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def _common_hanzi() -> list[str]:
    """The hanzi of GB2312 (6,763 simplified: lead bytes B0–F7) and of Big5 (13,053 traditional: lead
    bytes A4–C6 and C9–F9), the characters Chinese data is written in, mainland or Hong Kong and Taiwan."""
    gb2312 = [bytes([lead, trail]) for lead in range(0xB0, 0xF8) for trail in range(0xA1, 0xFF)]
    big5_leads = [*range(0xA4, 0xC7), *range(0xC9, 0xFA)]
    big5_trails = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
    big5 = [bytes([lead, trail]) for lead in big5_leads for trail in big5_trails]
    cells = [(cell, "gb2312") for cell in gb2312] + [(cell, "big5") for cell in big5]
    decoded = (_decoded(cell, codec) for cell, codec in cells)
    return [text for text in decoded if text is not None and 0x4E00 <= ord(text) <= 0x9FFF]


_PUNCTUATION = ((0x2000, 0x206F), (0x3000, 0x303F), (0xFF01, 0xFF5E), (0xFFE0, 0xFFE6), (0xFEFF, 0xFEFF))
_IDEOGRAPHS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
_SYMBOLS = "·×÷°±¥"


def _plain_chinese_table() -> np.ndarray:
    """For each code point, whether it is plain Chinese business text: ASCII, common hanzi, or Chinese
    and general punctuation (full-width forms included)."""
    plain = np.zeros(0x110000, dtype=bool)
    plain[:0x80] = True
    for first, last in _PUNCTUATION:
        plain[first : last + 1] = True
    plain[[ord(hanzi) for hanzi in _common_hanzi()]] = True
    return plain


_PLAIN = _plain_chinese_table()


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _odd_offsets(codes: np.ndarray) -> np.ndarray:
    """The offsets of the code points that are not plain Chinese text."""
    return np.flatnonzero(~_PLAIN[codes])


def _oddness(text: str) -> tuple[int, int]:
    """(doubtful characters, rare ideographs) in `text`; fewer of each is more plausibly Chinese data."""
    doubtful = rare = 0
    for at in _odd_offsets(_code_points(text)).tolist():
        code = ord(text[at])
        if any(first <= code <= last for first, last in _IDEOGRAPHS):
            rare += 1
        elif not _fits_its_neighbours(text, at):
            doubtful += 1
    return doubtful, rare


def _fits_its_neighbours(text: str, at: int) -> bool:
    """A Latin letter in a Latin word (José), or ¥ ° × · beside a letter, digit or hanzi (¥100, 阿依·买提).

    Alone, they are what UTF-8 makes of GBK's 路 楼 卤 掳 梅, so they count as doubtful.
    """
    char, neighbours = text[at], text[max(at - 1, 0) : at] + text[at + 1 : at + 2]
    if 0xC0 <= ord(char) <= 0x24F and char not in "×÷":
        return any(n.isascii() and n.isalpha() for n in neighbours)
    return char in _SYMBOLS and any(
        (n.isascii() and n.isalnum()) or any(a <= ord(n) <= b for a, b in _IDEOGRAPHS) for n in neighbours
    )


class Verdict(Enum):
    """What one line says about the file's encoding."""

    UTF8 = "utf-8"
    GB18030 = "gb18030"
    EITHER = "either"
    NEITHER = "neither"


def judge_line(line: bytes) -> Verdict:
    """The encoding `line` is in, as far as the line alone can tell."""
    as_utf8, as_gb = _decoded(line, "utf-8"), _decoded(line, "gb18030")
    if as_utf8 is None:
        return Verdict.NEITHER if as_gb is None else Verdict.GB18030
    if as_gb is None:
        return Verdict.UTF8
    utf8_oddness, gb_oddness = _oddness(as_utf8), _oddness(as_gb)
    if utf8_oddness == gb_oddness:
        return Verdict.EITHER
    return Verdict.UTF8 if utf8_oddness < gb_oddness else Verdict.GB18030


class EncodingJudge:
    """Collects, chunk by chunk of whole lines, the first line that votes for each encoding.

    Raises a ValidationError naming the lines as soon as the file cannot be read in one encoding: a line in
    neither, or lines in both (unless an encoding was forced, when every line must simply decode in it).
    """

    def __init__(self, source: str, forced: Encoding | None = None) -> None:
        self._source = source
        self._forced = forced
        self._first: dict[Verdict, int] = {}

    def feed(self, chunk: bytes, breaks: np.ndarray, first_line: int) -> None:
        """Judge `chunk`, whole lines of the file starting at line `first_line` (1-based), whose line
        feeds are at offsets `breaks`."""
        if chunk.isascii():
            return
        lines = _Lines(chunk, breaks, first_line)
        if self._forced is not None:
            self._check_forced(lines, self._forced)
            return
        if first_line == 1 and chunk.startswith(codecs.BOM_UTF8):
            self._vote(Verdict.UTF8, 1)  # a UTF-8 byte-order mark says so
        # A line can vote GB18030 only if its UTF-8 reading is odd, and the other way round; each side
        # is read until its first vote, so the earliest line of each is found (votes before this chunk
        # are earlier still).
        known = set(self._first)
        for wanted, codec in ((Verdict.GB18030, "utf-8"), (Verdict.UTF8, "gb18030")):
            if wanted in known:
                continue
            for index in lines.odd_lines(codec):
                verdict = judge_line(lines.line(index))
                self._vote(verdict, lines.number(index))
                if verdict is wanted:
                    break
        self._refuse_a_mix()

    def encoding(self) -> Encoding:
        """The file's encoding once every chunk has been fed; UTF-8 when nothing voted otherwise."""
        if self._forced is not None:
            return self._forced
        return "gb18030" if Verdict.GB18030 in self._first else "utf-8"

    def _vote(self, verdict: Verdict, line: int) -> None:
        if verdict is Verdict.NEITHER:
            raise ValidationError(f"{self._source}: line {line} is neither UTF-8 nor GBK/GB18030 text")
        if verdict is not Verdict.EITHER:
            self._first[verdict] = min(self._first.get(verdict, line), line)

    def _refuse_a_mix(self) -> None:
        if Verdict.UTF8 in self._first and Verdict.GB18030 in self._first:
            raise ValidationError(
                f"{self._source} mixes encodings: line {self._first[Verdict.UTF8]} is UTF-8 but "
                f"line {self._first[Verdict.GB18030]} is GBK/GB18030; save the file in one encoding, "
                f"or {_FORCE_HINT}"
            )

    def _check_forced(self, lines: _Lines, codec: Encoding) -> None:
        index = lines.first_undecodable(codec)
        if index is not None:
            raise ValidationError(
                f"{self._source}: line {lines.number(index)} is not valid {_LABELS[codec]} text "
                f"(the encoding was forced; leave it out to detect it)"
            )


class _Lines:
    """A chunk of whole lines, with the lines a reading cannot decode or finds odd."""

    def __init__(self, chunk: bytes, breaks: np.ndarray, first_line: int) -> None:
        self._chunk = chunk
        self._first_line = first_line
        self._ends = breaks

    def number(self, index: int) -> int:
        """The file line number of the chunk's line `index` (0-based)."""
        return self._first_line + index

    def line(self, index: int) -> bytes:
        """The bytes of line `index`, without its line break."""
        end = int(self._ends[index]) if index < len(self._ends) else len(self._chunk)
        return self._chunk[self._start(index) : end]

    def first_undecodable(self, codec: str) -> int | None:
        """The index of the first line `codec` cannot decode, if any."""
        return self._reading(codec)[1]

    def odd_lines(self, codec: str) -> Iterator[int]:
        """Indexes of the lines `codec` reads as something other than plain Chinese text, in order, up to
        the first line it cannot decode: that line votes for the other encoding or is refused, so no line
        after it can change the outcome."""
        text, undecodable = self._reading(codec)
        codes = _code_points(text)
        odd = _odd_offsets(codes)
        if odd.size:
            yield from np.unique(np.searchsorted(np.flatnonzero(codes == 0x0A), odd)).tolist()
        if undecodable is not None:
            yield undecodable

    def _start(self, index: int) -> int:
        return int(self._ends[index - 1]) + 1 if index > 0 else 0

    def _reading(self, codec: str) -> tuple[str, int | None]:
        """The chunk as `codec` reads it up to the first line it cannot decode, and that line's index.

        The text stops at the start of that line, so a bad byte never swallows a line break before it.
        """
        try:
            return str(self._chunk, codec), None
        except UnicodeDecodeError as error:
            bad = int(np.searchsorted(self._ends, error.start))
            return str(memoryview(self._chunk)[: self._start(bad)], codec), bad
