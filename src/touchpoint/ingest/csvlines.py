"""Where each CSV record starts in the file, so that a report names the line an editor shows.

A record is not a line: a quoted value may hold line breaks, and a blank line holds no record. The parser
keeps a quoted value's line breaks, so the breaks inside each record are counted from the parsed values
(no second CSV parser to disagree with pyarrow's); blank lines are found in the bytes, and those that sit
inside a quoted value are told apart from those between records. Only the exceptions are kept: the records
before which one more line lies than their number says.
"""

from __future__ import annotations

import numpy as np

_LF, _CR = 0x0A, 0x0D


class RecordLines:
    """The line on which each record starts; record 0 is the header."""

    def __init__(self, shifts: np.ndarray, records: int) -> None:
        self._shifts = np.sort(shifts)
        self.records = records

    def start_line(self, record: int) -> int:
        """The 1-based file line where `record` starts: one line per earlier record, plus each blank line
        and each line break inside a quoted value before it."""
        return record + 1 + int(np.searchsorted(self._shifts, record, side="right"))


def line_breaks(chunk: bytes) -> np.ndarray:
    """The offsets of the line feeds in `chunk`."""
    return np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == _LF)


def blank_lines(chunk: bytes, breaks: np.ndarray, first_line: int) -> list[int]:
    """The numbers of the empty lines (nothing, or only a carriage return) that `chunk`'s line `breaks`
    end; `chunk` starts a line, which is line `first_line` of the file."""
    if breaks.size == 0:
        return []
    starts = np.concatenate((np.zeros(1, dtype=np.int64), breaks[:-1] + 1))
    lengths = breaks - starts
    data = np.frombuffer(chunk, dtype=np.uint8)
    blank = (lengths == 0) | ((lengths == 1) & (data[starts] == _CR))
    return [first_line + int(index) for index in np.flatnonzero(blank)]


def record_lines(breaks_inside: np.ndarray, blank: list[int]) -> RecordLines:
    """Start lines from the line breaks inside each record (index 0 the header) and the file's blank lines.

    A blank line within a record's span lies inside one of its quoted values, and is among its breaks
    already; any other pushes every later record one line down.
    """
    breaks_inside = breaks_inside.astype(np.int64)
    counted = np.flatnonzero(breaks_inside)
    shifts = [np.repeat(counted + 1, breaks_inside[counted])]  # record j's breaks push records j+1, …
    if blank:
        shifts.append(_blank_line_shifts(breaks_inside, blank))
    return RecordLines(np.concatenate(shifts), records=len(breaks_inside))


def _blank_line_shifts(breaks_inside: np.ndarray, blank: list[int]) -> np.ndarray:
    starts = np.arange(1, len(breaks_inside) + 1) + np.concatenate(([0], np.cumsum(breaks_inside)[:-1]))
    ends = starts + breaks_inside
    shifts: list[int] = []
    for line in blank:
        # Records so far start len(shifts) lines lower; a record's first line is never blank.
        record = int(np.searchsorted(starts, line - len(shifts), side="left")) - 1
        if record >= 0 and line - len(shifts) <= ends[record]:
            continue
        shifts.append(record + 1)
    return np.asarray(shifts, dtype=np.int64)
