"""The one way the service writes CSV: cells a spreadsheet would execute are neutralised.

A CSV that borderlens hands out (``rejected.csv`` today, exports later) is opened in Excel or
LibreOffice by someone other than whoever typed its cells. A text cell starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is read there as a formula (``=HYPERLINK(...)``,
DDE ``+cmd|' /C calc'!A0``). Following the OWASP CSV-injection guidance, such a cell is written
with a leading ``'``, which spreadsheets take as "this is text" and do not display.

Real numbers are left alone: ``-2.5``, ``-12``, ``+3``, ``-1e-5`` and decimal-comma ``-2,5``
are values a spreadsheet reads as numbers, never as formulas, and a survey's coordinates must
come back as they were sent. The full-width look-alikes (U+FF1D, U+FF0B, U+FF0D, U+FF20), which some
spreadsheets fold to their ASCII forms, are treated like the ASCII marks.

Usage::

    for chunk in csv_lines(header, rows):   # str chunks, for a StreamingResponse
        ...
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence

#: First characters that make a spreadsheet evaluate a cell (OWASP), and full-width forms.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
#: Rows are written out in chunks of about this many characters.
CHUNK_CHARS = 64 * 1024

Cell = str | int | float | bool | None


def is_plain_number(text: str) -> bool:
    """``-2.5``, ``-12``, ``+3``, ``1e-5``, ``-2,5``: a number and nothing else."""
    return _PLAIN_NUMBER.fullmatch(text) is not None


def neutralise(value: Cell) -> str:
    """The text of one cell as it may be written to a CSV someone opens in a spreadsheet.

    ``None`` is the empty cell; numbers and booleans are their text. A text whose first
    non-blank character is a formula trigger gets a leading ``'`` unless it is a plain number.
    The original is always ``out`` or ``out[1:]``.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text[:1] in ("\t", "\r", "\n"):
        return "'" + text  # OWASP: a leading tab or line break always, even before a number
    # Leading blanks are looked through: some spreadsheets trim them before parsing.
    first = text.lstrip(" ")[:1]
    if first in FORMULA_TRIGGERS and not is_plain_number(text.strip(" ")):
        return "'" + text
    return text


def csv_lines(header: Sequence[Cell], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """The CSV text of ``header`` then ``rows``, every cell neutralised, in chunks.

    Memory stays at about :data:`CHUNK_CHARS` whatever the number of rows: the rows are
    consumed lazily and each chunk is yielded as soon as it is full.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def csv_text(header: Sequence[Cell], rows: Iterable[Sequence[Cell]]) -> str:
    """All of :func:`csv_lines` as one string (small outputs, tests)."""
    return "".join(csv_lines(header, rows))
