"""Visit dates as survey tools and spreadsheets write them.

Accepted: ISO 8601 dates and date-times with or without zone (KoBo ``_submission_time``, ODK
Central ``SubmissionDate``, GPX ``<time>``), ``YYYY/MM/DD`` (GDAL's text for XLSX date cells),
``m/d/Y`` (IPIS) and ``d/m/Y`` (French Excel) with ``/``, ``-`` or ``.`` and an optional time,
ODK Briefcase's ``Apr 26, 2018`` / ``Apr 26, 2018 8:56:00 AM``, and day-month-year with an
English or French month name (``26 avril 2018``, ``1er mai 2024``, ``02-OCT-10``).

A bare number in a date column is a spreadsheet serial day number (a workbook column without
a date style, or a CSV saved from one): ``45356`` is 2024-03-05 in Excel's 1900 date system
(day 1 = 1900-01-01, with Lotus 1-2-3's phantom 29 February 1900), 2028-03-06 in the 1904
system of old Mac workbooks (day 0 = 1904-01-01). It is read as a date when that date falls in
:data:`SERIAL_WINDOW`, and reported so the sender can check it; outside the window the error
names the value and the convention.

A date-time keeps the calendar date *as written*, zone or not: a visit logged at
``2024-03-05T23:30:00+01:00`` happened on 5 March where it was logged.

Whether ``03/05/2024`` is 3 May or 5 March is decided per column, from all its values: one
value with a first part above 12 makes the column day-first, one with a second part above 12
makes it month-first (a value valid in neither order decides nothing). When nothing decides,
or the column contradicts itself, the caller's order (or day-first, the French convention of
the region) is used, or the majority, and each value that could be read both ways is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, TypeAlias

from geo.errors import quoted
from geo.vocab import fold

DateOrder: TypeAlias = Literal["auto", "dmy", "mdy"]
DateSystem: TypeAlias = Literal[1900, 1904]

# Serial numbers are read as dates only in this window: field visits of the survey era, not
# counts, codes or years that happen to be numbers.
SERIAL_WINDOW = (date(1990, 1, 1), date(2099, 12, 31))
_SERIAL_EPOCH: dict[DateSystem, date] = {1900: date(1899, 12, 30), 1904: date(1904, 1, 1)}
_SERIAL = re.compile(r"^(\d{1,7})(?:[.,]\d+)?$")
_COMPACT_ISO = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
Cell: TypeAlias = str | float | int | None

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january", "janv", "janvier"),
            ("feb", "february", "fev", "fevr", "fevrier"),
            ("mar", "march", "mars"),
            ("apr", "april", "avr", "avril"),
            ("may", "mai"),
            ("jun", "june", "juin"),
            ("jul", "july", "juil", "juillet"),
            ("aug", "august", "aou", "aout"),
            ("sep", "sept", "september", "septembre"),
            ("oct", "october", "octobre"),
            ("nov", "november", "novembre"),
            ("dec", "december", "decembre"),
        ),
        start=1,
    )
    for name in names
}
_TIME = (
    r"(?:[t ,]+\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[ap]\.?m\.?|z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_ISO = re.compile(rf"^(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_TIME}$")
_NUMERIC = re.compile(rf"^(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{4}}|\d{{2}}){_TIME}$")
_MONTH_FIRST = re.compile(rf"^([a-z]+)\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}}){_TIME}$")
_DAY_FIRST = re.compile(
    rf"^(\d{{1,2}})(?:er|st|nd|rd|th)?[\s-]+([a-z]+)\.?[\s-]+(\d{{4}}|\d{{2}}){_TIME}$"
)


@dataclass(frozen=True)
class ParsedDates:
    """Dates of one column, aligned with its cells.

    Attributes
    ----------
    dates
        The calendar date of each cell, None where empty or unparseable.
    errors
        Index of each unparseable cell, with a sentence saying why.
    ambiguous
        Indices of cells read day-first or month-first on a guess (the column gave no evidence).
    serials
        Indices of cells read as spreadsheet serial day numbers, with a sentence saying so.
    order
        The order used for numeric dates (``"dmy"``/``"mdy"``), None when the column has none.
    """

    dates: list[date | None]
    errors: dict[int, str]
    ambiguous: list[int]
    order: Literal["dmy", "mdy"] | None
    serials: dict[int, str]


def _year(text: str) -> int:
    # Two-digit years are this century up to 69 (Excel's own pivot is 29; field data is recent).
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _named_or_iso(text: str) -> date | None:
    """Dates that need no day/month order decision; None when the text is not one of them."""
    folded = fold(text)
    match = _ISO.match(folded) or _COMPACT_ISO.match(folded)
    if match:
        return date(int(match[1]), int(match[2]), int(match[3]))
    match = _MONTH_FIRST.match(folded)
    if match and match[1] in _MONTHS:
        return date(int(match[3]), _MONTHS[match[1]], int(match[2]))
    match = _DAY_FIRST.match(folded)
    if match and match[2] in _MONTHS:
        return date(_year(match[3]), _MONTHS[match[2]], int(match[1]))
    return None


def parse_dates(
    cells: Sequence[Cell],
    *,
    order: DateOrder = "auto",
    default_order: Literal["dmy", "mdy"] = "dmy",
    date_system: DateSystem = 1900,
) -> ParsedDates:
    """Parse a column of dates, deciding day-first or month-first once for the whole column.

    Parameters
    ----------
    cells
        The column's cells; None and blank cells give None without an error.
    order
        ``"dmy"`` or ``"mdy"`` when the sender said so; ``"auto"`` decides from the values.
    default_order
        Used with ``"auto"`` when no value decides; those values are reported as ambiguous.
    date_system
        The spreadsheet date system bare serial numbers count in (1900, or 1904 when the
        workbook says so).
    """
    n = len(cells)
    dates: list[date | None] = [None] * n
    errors: dict[int, str] = {}
    numeric: dict[int, tuple[int, int, int]] = {}
    serials: dict[int, str] = {}
    cache: dict[str, date | None] = {}
    for i, cell in enumerate(cells):
        text = "" if cell is None else str(cell).strip()
        if not text:
            continue
        if text not in cache:
            try:
                cache[text] = _named_or_iso(text)
            except ValueError:
                errors[i] = f"{quoted(text)} is not a valid date"
                continue
        parsed = cache[text]
        if parsed is not None:
            dates[i] = parsed
            continue
        serial = _SERIAL.match(text)
        if serial:
            try:
                dates[i], serials[i] = _serial_date(text, int(serial[1]), date_system)
            except ValueError as exc:
                errors[i] = str(exc)
            continue
        match = _NUMERIC.match(fold(text))
        if match:
            numeric[i] = (int(match[1]), int(match[2]), _year(match[3]))
        else:
            errors[i] = (
                f"{quoted(text)} is not a date this reader knows (ISO, d/m/Y, m/d/Y, "
                "'Apr 26, 2018')"
            )
    column_order, guessed = _decide_order(numeric.values(), order, default_order)
    ambiguous: list[int] = []
    for i, (first, second, year) in numeric.items():
        day, month = (first, second) if column_order == "dmy" else (second, first)
        try:
            dates[i] = date(year, month, day)
        except ValueError:
            errors[i] = (
                f"{quoted(cells[i])} is not a valid date read as {_ORDER_TEXT[column_order]}"
            )
            continue
        if guessed and first != second and first <= 12 and second <= 12:
            ambiguous.append(i)
    return ParsedDates(dates, errors, ambiguous, column_order if numeric else None, serials)


def _serial_date(text: str, days: int, system: DateSystem) -> tuple[date, str]:
    """The date of a serial day number and the sentence reporting it; ValueError outside."""
    convention = f"an Excel serial day number ({system} date system)"
    first, last = SERIAL_WINDOW
    try:
        # Day 60 of the 1900 system is the phantom 29 February 1900; days after it are
        # counted from 30 December 1899 so that 1 is 1900-01-01 and 45356 is 2024-03-05.
        epoch = _SERIAL_EPOCH[system]
        if system == 1900 and days < 61:
            epoch += timedelta(days=1)  # before the phantom day
        value = epoch + timedelta(days=days)
    except OverflowError:
        value = None
    if value is None or not first <= value <= last:
        where = f"is {value}" if value is not None else "is no date at all"
        raise ValueError(
            f"{quoted(text)} read as {convention} {where}, outside {first}..{last}: not "
            "a plausible "
            "visit date; write dates as YYYY-MM-DD or format the column as dates"
        )
    return value, (
        f"{quoted(text)} read as {value}: {convention}; format the column as dates if that is wrong"
    )


_ORDER_TEXT = {"dmy": "day/month/year", "mdy": "month/day/year"}


def _decide_order(
    values: Iterable[tuple[int, int, int]],
    order: DateOrder,
    default_order: Literal["dmy", "mdy"],
) -> tuple[Literal["dmy", "mdy"], bool]:
    """The column's order and whether it was a guess.

    A value is evidence for one order when it is a valid date in that order only (``25/03``
    for day-first). Values valid in neither order (``13/45``) decide nothing. When the column
    holds evidence for both orders the majority wins and the choice still counts as a guess.
    """
    if order != "auto":
        return order, False
    day_first = month_first = 0
    for first, second, year in values:
        as_dmy, as_mdy = _valid(year, second, first), _valid(year, first, second)
        day_first += as_dmy and not as_mdy
        month_first += as_mdy and not as_dmy
    if day_first == month_first:
        return default_order, True
    return ("dmy" if day_first > month_first else "mdy"), bool(day_first and month_first)


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def order_text(order: Literal["dmy", "mdy"]) -> str:
    """``"day/month/year"`` or ``"month/day/year"``, for messages."""
    return _ORDER_TEXT[order]
