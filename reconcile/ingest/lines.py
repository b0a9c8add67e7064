"""CSV records line by line, for files where a quote spans lines.

pyarrow's reader lets a quoted value run over line breaks until the next quote, so one
unclosed quote (`"BUDI,1990-01-02`) swallows every following row into one value or one
rejected record, and those rows vanish. When the fast reader shows a value or a
rejected record holding a line break, the file is read again here: a quote may span
lines only until a line that is a whole record on its own; otherwise the line with the
unclosed quote is rejected alone and reading goes on with the next line. The unclosed
quote costs one row, the row it is on.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

LINE_BREAK = re.compile(r"\r\n|\n|\r")
MAX_SPAN = 20          # physical lines one quoted value may span
OPEN_QUOTE = "unexpected end of data"  # csv's error when a line ends inside quotes
UNCLOSED = "unclosed quote: the line is read on its own"
csv.field_size_limit(max(csv.field_size_limit(), 64 << 20))  # as long as the fast reader's


@dataclass
class Records:
    """Parsed records with their row numbers (header = 1, blank lines not counted, as the
    fast reader numbers them), and the rejected lines (row, reason, text)."""

    rows: list[list[str]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)


def read_records(path: Path, encoding: str, delimiter: str, width: int,
                 header_index: int | None = None, header_number: int = 1) -> Records:
    """Every record after the header of a CSV file, each physical line accounted for.
    The header is the line at `header_index` (default: the first non-blank one) and has
    the number `header_number` (title rows above it are counted)."""
    with path.open(encoding=encoding, newline="") as handle:
        lines = LINE_BREAK.split(handle.read())
    lines = lines[header_index + 1:] if header_index is not None else _after_header(lines)
    records, number, i = Records(), header_number, 0
    while i < len(lines):
        if lines[i] == "":
            i += 1
            continue
        number += 1
        span, fields = record_span(lines, i, delimiter, width)
        if not span:
            records.rejects.append((number, UNCLOSED, lines[i]))
            span = 1
        elif len(fields) != width:
            records.rejects.append((number, f"expected {width} fields, found {len(fields)}",
                                    "\n".join(lines[i:i + span])))
        else:
            records.rows.append(fields)
            records.numbers.append(number)
        number += span - 1  # a value's line breaks are lines the user sees
        i += span
    return records


def _after_header(lines: list[str]) -> list[str]:
    """The lines after the first non-blank one (the header)."""
    for n, line in enumerate(lines):
        if line.strip():
            return lines[n + 1:]
    return []


def record_span(lines: list[str], start: int, delimiter: str,
                width: int) -> tuple[int, list[str]]:
    """(physical lines, fields) of the record starting at `start`; (0, []) when its quote
    does not close before a line that is a whole record by itself, or within MAX_SPAN."""
    text, span = lines[start], 1
    while (fields := _fields(text, delimiter)) is None:
        nxt = start + span
        if span >= MAX_SPAN or nxt >= len(lines) or whole_record(lines[nxt], delimiter,
                                                                   width):
            return 0, []
        text, span = text + "\n" + lines[nxt], span + 1
    return span, fields


def whole_record(line: str, delimiter: str, width: int) -> bool:
    """A line whose quotes close and which has the full number of fields."""
    fields = _fields(line, delimiter)
    return fields is not None and len(fields) == width


def _fields(text: str, delimiter: str) -> list[str] | None:
    """The fields of one record, or None when the text ends inside a quoted value."""
    try:
        return next(csv.reader([text], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        if OPEN_QUOTE in str(exc):
            return None
        return next(csv.reader([text], delimiter=delimiter), [])
