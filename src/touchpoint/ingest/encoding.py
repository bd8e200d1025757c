"""Which text encoding a CSV file is in, UTF-8 or GB18030 (a superset of GBK and GB2312), judged line by line.

Validity alone cannot decide: 930 of GB2312's 6,763 hanzi are two GBK bytes that also form one 2-byte UTF-8
character (卢伟 is C2 AC CE B0, which UTF-8 reads as "¬ΰ"). So every line votes. A line only one reading can
decode votes for that reading. A line both can decode is judged by how each reading looks as Chinese data:

- A UTF-8 reading with characters of three or four bytes that are all plain text (common hanzi, Chinese
  punctuation, emoji …) is never GBK: the line votes UTF-8 if its GB18030 reading has anything odd, and
  does not vote otherwise. GB2312 text forms such sequences only by chance (three hanzi whose six bytes
  chain into two 3-byte sequences, two into one of 4 bytes), and reads plain as GB18030, so it never votes
  UTF-8 this way; the few chains that read as something odd in UTF-8 are judged as below.
- Otherwise the reading with fewer odd characters wins, and a tie does not vote. Odd are *doubtful*
  characters (anything but ASCII, ideographs, Chinese punctuation and common symbols: Latin-1 symbols out of
  place, Greek, Cyrillic, Armenian, Hebrew, private use …) and *rare* ideographs (outside the hanzi of GB2312
  and Big5), one each. A Latin letter in a Latin word (José) and a symbol where text puts it (25°C, m², VIP®,
  µg, Copyright ©) are not doubtful; nor, in the GB18030 reading, are GB2312's own symbols (①, α, の).

A file with votes for both encodings is refused, naming the first line of each; a file without votes for
GB18030 is UTF-8. Only lines whose reading in one encoding holds anything but plain text can vote against it,
so each chunk is read in each encoding at C speed, only up to its first undecodable line, and only those
lines are judged: all at once, with array operations, never one by one in Python.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
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
# What people type beside Chinese: ℃ № ™ ① → ■ ★ ☀ ✔ (U+2100–27BF), ⬅ ⬆ ⬇ ⬛ ⬜ ⭐ ⭕, kana (の), ㎡ ㈠, emoji
# with their variation selectors, keycaps and tags. GB2312 text read as UTF-8 never makes these (their UTF-8
# bytes hold a continuation byte below A1, which no GB2312 byte is), so they cannot make GBK look like UTF-8.
_SYMBOLS_AND_EMOJI = (
    (0x20E3, 0x20E3),
    (0x2100, 0x27BF),
    (0x2B05, 0x2B07),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
    (0x3040, 0x30FF),
    (0x3200, 0x33FF),
    (0xFE00, 0xFE0F),
    (0x1F000, 0x1FAFF),
    (0xE0020, 0xE007F),
)
_IDEOGRAPHS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
_ESCAPED = (0xDC80, 0xDCFF)  # an undecodable byte, as the "surrogateescape" error handler reads it

# What each code point is, as Chinese data goes
_PLAIN, _DOUBTFUL, _RARE, _UNDECODABLE = 0, 1, 2, 3


def _kind_table() -> np.ndarray:
    """For each code point, its kind: plain Chinese business text (ASCII, common hanzi, punctuation, common
    symbols and emoji), a rare ideograph, an undecodable byte, or else doubtful."""
    kind = np.full(0x110000, _DOUBTFUL, dtype=np.uint8)
    for first, last in _IDEOGRAPHS:
        kind[first : last + 1] = _RARE
    kind[:0x80] = _PLAIN
    for first, last in (*_PUNCTUATION, *_SYMBOLS_AND_EMOJI):
        kind[first : last + 1] = _PLAIN
    kind[[ord(hanzi) for hanzi in _common_hanzi()]] = _PLAIN
    kind[_ESCAPED[0] : _ESCAPED[1] + 1] = _UNDECODABLE
    return kind


def _gb2312_symbols() -> list[str]:
    """GB2312's rows of symbols (lead bytes A1–A9): punctuation, ①, full-width forms, kana, Greek,
    Cyrillic, pinyin, box drawing."""
    cells = (bytes([lead, trail]) for lead in range(0xA1, 0xAA) for trail in range(0xA1, 0xFF))
    return [text for text in (_decoded(cell, "gb2312") for cell in cells) if text is not None]


_KIND = _kind_table()
# Whatever a GBK encoder makes of Chinese data is plain in a GB18030 reading: GB2312's symbols too (UTF-8
# reads GBK hanzi as Greek or Cyrillic, so those stay doubtful in a UTF-8 reading)
_KIND_AS_GB = _KIND.copy()
_KIND_AS_GB[[ord(symbol) for symbol in _gb2312_symbols()]] = _PLAIN
_UNUSUAL = {"utf-8": _KIND != _PLAIN, "gb18030": _KIND_AS_GB != _PLAIN}  # anything but plain text

# What a neighbour is, for the characters whose plausibility depends on their neighbours
_LETTER, _DIGIT, _SPACE, _HAN = 1, 2, 4, 8
_ALNUM_OR_HAN = _LETTER | _DIGIT | _HAN
# Where a Latin-1 symbol sits in real text: (neighbours it may follow, neighbours it may precede). Alone, or
# elsewhere, they are what UTF-8 makes of GBK's 路 楼 卤 卢 …, so they count as doubtful.
_SYMBOL_PLACES: dict[str, tuple[int, int]] = {
    **dict.fromkeys("·×÷°±¥\xa0", (_ALNUM_OR_HAN, _ALNUM_OR_HAN)),  # ¥100, 25°C, 3×4, 阿依·买提
    **dict.fromkeys("©®", (_ALNUM_OR_HAN | _SPACE, _ALNUM_OR_HAN | _SPACE)),  # VIP®, Copyright © 2024
    "µ": (_DIGIT | _SPACE, _LETTER),  # 5µg, µm
    **dict.fromkeys("²³", (_LETTER | _DIGIT, 0)),  # m², 10³
    **dict.fromkeys("½¼¾", (_DIGIT | _SPACE, _DIGIT | _SPACE)),  # 1½
    **dict.fromkeys("£§", (0, _DIGIT | _SPACE)),  # £5, § 3
}
_PLACED = 0x250  # symbols with places, and Latin letters, are all below U+0250


def _neighbour_table() -> np.ndarray:
    kind = np.zeros(0x110000, dtype=np.uint8)
    kind[ord("A") : ord("Z") + 1] = kind[ord("a") : ord("z") + 1] = _LETTER
    kind[ord("0") : ord("9") + 1] = _DIGIT
    kind[ord(" ")] = _SPACE
    for first, last in _IDEOGRAPHS:
        kind[first : last + 1] = _HAN
    return kind


def _place_tables() -> tuple[np.ndarray, np.ndarray]:
    """The neighbours each character below U+0250 may follow, and may precede, without being doubtful: a
    Latin letter beside an ASCII letter (a Latin word: José, Müller), a symbol where text puts it."""
    after, before = np.zeros(_PLACED, dtype=np.uint8), np.zeros(_PLACED, dtype=np.uint8)
    after[0xC0:] = before[0xC0:] = _LETTER
    for symbol, (follows, precedes) in _SYMBOL_PLACES.items():
        after[ord(symbol)], before[ord(symbol)] = follows, precedes
    return after, before


_NEIGHBOUR = _neighbour_table()
_AFTER, _BEFORE = _place_tables()


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _in_place(codes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whether each character at offsets `at` (all below U+0250) sits where real text puts it."""
    left, right = codes[np.maximum(at - 1, 0)], codes[np.minimum(at + 1, codes.size - 1)]
    left[at == 0] = right[at == codes.size - 1] = 0x0A  # a chunk starts and ends a line
    placed = codes[at]
    fits: np.ndarray = ((_NEIGHBOUR[left] & _AFTER[placed]) | (_NEIGHBOUR[right] & _BEFORE[placed])) != 0
    return fits


@dataclass(frozen=True)
class _Reading:
    """One reading of a chunk of whole lines, line by line: whether the line has an undecodable byte, how
    many odd characters it has, and whether it has characters of three or four UTF-8 bytes that are all
    plain (`strong`: then it is not GBK)."""

    undecodable: np.ndarray
    odd: np.ndarray
    strong: np.ndarray

    def may_be_gb18030(self) -> np.ndarray:
        """For a UTF-8 reading: the lines that may vote GB18030 (undecodable, or odd without plain wide
        characters to vouch for them)."""
        may: np.ndarray = self.undecodable | (~self.strong & (self.odd > 0))
        return may

    def only(self, lines: np.ndarray) -> _Reading:
        """The reading of `lines` (a mask) alone."""
        return _Reading(self.undecodable[lines], self.odd[lines], self.strong[lines])


def _read(chunk: bytes, codec: str, lines: int) -> _Reading:
    """`chunk` read as `codec`; it has `lines` lines (the last may lack its line feed)."""
    codes = _code_points(str(chunk, codec, "surrogateescape"))
    kind = (_KIND if codec == "utf-8" else _KIND_AS_GB)[codes]
    doubtful = np.flatnonzero((kind == _DOUBTFUL) & (codes < _PLACED))
    odd = (kind == _DOUBTFUL) | (kind == _RARE)
    odd[doubtful[_in_place(codes, doubtful)]] = False
    wide = (codes >= 0x800) & (kind != _UNDECODABLE)
    # One pass finds which lines have any of three things: each is a bit of `flags`
    flags = (kind == _UNDECODABLE).view(np.uint8) | (wide.view(np.uint8) << 1)
    flags |= (wide & odd).view(np.uint8) << 2
    starts = np.concatenate(([0], np.flatnonzero(codes == 0x0A)[: lines - 1] + 1))
    found = np.bitwise_or.reduceat(flags, starts)
    return _Reading(
        undecodable=(found & 1) != 0,
        odd=np.add.reduceat(odd.view(np.uint8), starts, dtype=np.int64),
        strong=(found & 6) == 2,  # wide characters, none of them odd
    )


class Verdict(Enum):
    """What one line says about the file's encoding."""

    UTF8 = "utf-8"
    GB18030 = "gb18030"
    EITHER = "either"
    NEITHER = "neither"


def _verdicts(utf8: _Reading, gb: _Reading) -> dict[Verdict, np.ndarray]:
    """For each verdict but EITHER, which lines say it, from their UTF-8 and GB18030 readings."""
    both = ~utf8.undecodable & ~gb.undecodable
    # A line with plain wide characters is never GBK (what little GB2312 text reads as such characters
    # reads plain in GB18030, so it stays undecided); otherwise the plainer reading wins.
    scored_utf8 = np.where(utf8.strong, gb.odd > 0, utf8.odd < gb.odd)
    return {
        Verdict.NEITHER: utf8.undecodable & gb.undecodable,
        Verdict.UTF8: (gb.undecodable & ~utf8.undecodable) | (both & scored_utf8),
        Verdict.GB18030: (utf8.undecodable & ~gb.undecodable) | (both & ~utf8.strong & (gb.odd < utf8.odd)),
    }


def judge_line(line: bytes) -> Verdict:
    """The encoding `line` (without its line feed) is in, as far as the line alone can tell."""
    if line.isascii():
        return Verdict.EITHER
    verdicts = _verdicts(_read(line, "utf-8", 1), _read(line, "gb18030", 1))
    said = [verdict for verdict, says in verdicts.items() if says[0]]
    return said[0] if said else Verdict.EITHER


class _Lines:
    """A chunk of whole lines: which of them a reading finds unusual, and the verdicts of some of them."""

    def __init__(self, chunk: bytes, breaks: np.ndarray) -> None:
        self._chunk = chunk
        self.count = int(breaks.size) + (0 if chunk.endswith(b"\n") else 1)
        self._ends = np.append(breaks + 1, len(chunk))[: self.count]  # each line with its line feed
        self._lengths = np.diff(self._ends, prepend=0)

    def candidates(self, codec: str) -> np.ndarray:
        """The lines that could vote against `codec`, in order: those whose `codec` reading has anything
        but plain text, up to and with the first line `codec` cannot decode (that line votes for the
        other encoding or is refused, so no line after it can change the outcome)."""
        text, bad = self._reading(codec)
        codes = _code_points(text)
        unusual = np.flatnonzero(_UNUSUAL[codec][codes])
        lines = (
            np.unique(np.searchsorted(np.flatnonzero(codes == 0x0A), unusual)) if unusual.size else unusual
        )
        return lines if bad is None else np.append(lines, bad)

    def first_undecodable(self, codec: str) -> int | None:
        """The first line `codec` cannot decode, if any."""
        return self._reading(codec)[1]

    def verdicts(
        self, picked: np.ndarray, only_gb18030: bool
    ) -> tuple[np.ndarray, dict[Verdict, np.ndarray]]:
        """The verdicts of the `picked` lines, both readings compared: the lines judged, and an array per
        verdict in their order. With `only_gb18030`, lines whose UTF-8 reading shows they cannot vote
        GB18030 are left out before the (slower) GB18030 reading."""
        utf8 = _read(self._lines(picked), "utf-8", picked.size)
        if only_gb18030:
            may = utf8.may_be_gb18030()
            picked, utf8 = picked[may], utf8.only(may)
            if picked.size == 0:
                return picked, {}
        gb = _read(self._lines(picked), "gb18030", picked.size)
        return picked, _verdicts(utf8, gb)

    def _lines(self, picked: np.ndarray) -> bytes:
        wanted = np.zeros(self.count, dtype=bool)
        wanted[picked] = True
        part: bytes = np.frombuffer(self._chunk, dtype=np.uint8)[np.repeat(wanted, self._lengths)].tobytes()
        return part

    def _reading(self, codec: str) -> tuple[str, int | None]:
        """The chunk as `codec` reads it up to the first line it cannot decode, and that line's index.

        The text stops at the start of that line, so a bad byte never swallows a line break before it.
        """
        try:
            return str(self._chunk, codec), None
        except UnicodeDecodeError as error:
            bad = int(np.searchsorted(self._ends, error.start, side="right"))
            start = int(self._ends[bad - 1]) if bad else 0
            return str(memoryview(self._chunk)[:start], codec), bad


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
        lines = _Lines(chunk, breaks)
        if self._forced is not None:
            self._check_forced(lines, first_line, self._forced)
            return
        if first_line == 1 and chunk.startswith(codecs.BOM_UTF8):
            self._vote(Verdict.UTF8, 1)  # a UTF-8 byte-order mark says so
        # A line can vote GB18030 only if its UTF-8 reading is unusual, and the other way round; each side
        # is looked for until it has a vote (votes before this chunk are earlier still). A UTF-8 file's
        # chunk, once a line has voted UTF-8, is read once as UTF-8 and, with no unusual line, that is all.
        known = set(self._first)
        for wanted, codec in ((Verdict.GB18030, "utf-8"), (Verdict.UTF8, "gb18030")):
            if wanted not in known:
                self._judge(lines, lines.candidates(codec), first_line, wanted)
        self._refuse_a_mix()

    def _judge(self, lines: _Lines, picked: np.ndarray, first_line: int, wanted: Verdict) -> None:
        if picked.size == 0:
            return
        picked, verdicts = lines.verdicts(picked, only_gb18030=wanted is Verdict.GB18030)
        for verdict, says in verdicts.items():
            saying = picked[says]
            if saying.size:
                self._vote(verdict, first_line + int(saying[0]))

    def encoding(self) -> Encoding:
        """The file's encoding once every chunk has been fed; UTF-8 when nothing voted otherwise."""
        if self._forced is not None:
            return self._forced
        return "gb18030" if Verdict.GB18030 in self._first else "utf-8"

    def _vote(self, verdict: Verdict, line: int) -> None:
        if verdict is Verdict.NEITHER:
            raise ValidationError(f"{self._source}: line {line} is neither UTF-8 nor GBK/GB18030 text")
        self._first[verdict] = min(self._first.get(verdict, line), line)

    def _refuse_a_mix(self) -> None:
        if Verdict.UTF8 in self._first and Verdict.GB18030 in self._first:
            raise ValidationError(
                f"{self._source} mixes encodings: line {self._first[Verdict.UTF8]} is UTF-8 but "
                f"line {self._first[Verdict.GB18030]} is GBK/GB18030; save the file in one encoding, "
                f"or {_FORCE_HINT}"
            )

    def _check_forced(self, lines: _Lines, first_line: int, codec: Encoding) -> None:
        bad = lines.first_undecodable(codec)
        if bad is not None:
            raise ValidationError(
                f"{self._source}: line {first_line + bad} is not valid {_LABELS[codec]} text "
                f"(the encoding was forced; leave it out to detect it)"
            )
