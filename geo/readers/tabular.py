"""CSV and XLSX surveys: a table of text cells, coordinates found by header conventions.

CSV goes through Python's ``csv`` module rather than GDAL's CSV driver. GDAL would hand back
the same text cells (its coordinate auto-detection knows neither KoBo nor ODK headers, nor DMS,
nor decimal commas), but the standard module lets us sniff ``;`` vs ``,`` from the header,
fall back from UTF-8 to Windows-1252 (French Excel), number each record by the line it starts
on, and report a ragged record as a row problem instead of shifting columns. It reads 100 000
rows in a fraction of a second. XLSX goes through GDAL's XLSX driver with ``FIELD_TYPES=STRING``
so cells arrive as the text they hold (no float rounding, leading zeros kept).

Both produce a :class:`Table` (columns of text), which :func:`table_to_survey` turns into a
:class:`~geo.survey.Survey`: coordinate columns parsed as whole arrays, projected values
transformed once, accuracy in metres.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Final, Literal, NamedTuple

import numpy as np
import pyproj

from geo.coords import (
    WGS84,
    Axis,
    FloatArray,
    crs_label,
    parse_coordinates,
    parse_geopoints,
    parse_numbers,
    resolve_crs,
    to_wgs84,
)
from geo.errors import (
    CRSRequired,
    DuplicateColumn,
    NoCoordinateColumns,
    TooManyRows,
    UnreadableFile,
    check_columns,
    quoted,
)
from geo.readers import columns as conventions
from geo.readers.archives import SafeZip
from geo.readers.columns import CoordinatePlan
from geo.readers.gdal_io import list_layers, read_layer
from geo.readers.sniff import Upload
from geo.survey import Issue, ReadOptions, RowValues, SameName, SharedValues, Survey
from geo.vocab import empty_value_test, fold

_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 30
_SNIFF_PREFIX = 64 * 1024  # characters first split into lines to sniff (grown as needed)
# Degrees never exceed 360 in magnitude; metres of a projected CRS almost always do.
_PROJECTED_MAGNITUDE = 360.0


@dataclass
class Table:
    """Text cells by row, with the row numbers the sender sees and read-time issues."""

    columns: tuple[str, ...]
    records: list[list[str]]  # records[i][j] is row i of column j; every record is full width
    row: list[int]
    decimal_comma: bool
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    encoding: str = "UTF-8"
    values_shared: bool = False  # repeated values already one object (SharedValues)
    # rows not read (by position in records), with the values they were sent with
    originals: dict[int, list[str]] = field(default_factory=dict)
    # columns of one name in the header (kept apart by :func:`unique_columns`)
    same_names: tuple[SameName, ...] = ()

    def __post_init__(self) -> None:
        # Looking columns up by position keeps a file of 100 000 columns linear, not quadratic.
        self._position = {name: j for j, name in enumerate(self.columns)}

    def column(self, name: str) -> list[str]:
        j = self._position[name]
        return [record[j] for record in self.records]

    def sample(self, name: str, size: int = 20) -> list[str]:
        j = self._position[name]
        return list(islice((r[j] for r in self.records if r[j].strip()), size))


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Text of a CSV and a note when it was not UTF-8 (Excel's UTF-16 or Windows-1252)."""
    decoded = decode_undeclared(data)
    return decoded.text, ENCODING_NOTES.get(decoded.encoding)


ENCODING_NOTES = {
    "UTF-16": "read as UTF-16 (Excel 'Unicode text')",
    "windows-1252": "not UTF-8; read as Windows-1252",
    "ISO-8859-1": "not UTF-8; read as Latin-1",
}


#: The Python codec that decodes the bytes as :func:`decode_undeclared` did, by its name.
_CODECS = {
    "UTF-16": "utf-16",
    "UTF-8": "utf-8-sig",
    "windows-1252": "cp1252",
    "ISO-8859-1": "latin-1",
}

#: A byte that is not UTF-8 in a text read as UTF-8, as ``surrogateescape`` keeps it: the lone
#: surrogate U+DC80 + (byte - 0x80), which no text decoded from valid UTF-8 can hold.
STRAY_BYTE: Final = re.compile("[\udc80-\udcff]")
_WRITTEN_IN_UTF8 = re.compile("[^\x00-\x7f\udc80-\udcff]")


class Decoded(NamedTuple):
    """Text whose encoding nothing declared, the encoding it was read in, and whether it holds
    stray bytes (UTF-8 text but for a few bytes, kept as :data:`STRAY_BYTE` surrogates)."""

    text: str
    encoding: str
    stray: bool = False


def decode_undeclared(data: bytes) -> Decoded:
    """Text whose encoding nothing declares, and the encoding used.

    A UTF-16 byte-order mark decides; else UTF-8 when the bytes are valid UTF-8 (which legacy
    text with accents almost never is), else the legacy code page of the region's French
    Windows, Windows-1252, else Latin-1 (which decodes any byte).

    A file that is UTF-8 but for a few bytes stays UTF-8: one with a UTF-8 byte-order mark, or
    whose characters written in UTF-8 are at least as many as its bytes that are not UTF-8
    (a line pasted from a Windows-1252 file, one cell typed in an old editor). Reading all of it
    as Windows-1252 would turn every name written right into mojibake (``Bélé`` into
    ``BÃ©lÃ©``), silently; the stray bytes are kept in the text as lone surrogates
    (``surrogateescape``, see :data:`STRAY_BYTE`) for the reader to say where they are. Legacy
    text almost never holds a valid UTF-8 sequence, so a Windows-1252 file is still one.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return Decoded(data.decode("utf-16"), "UTF-16")
        except UnicodeDecodeError:
            pass
    try:
        return Decoded(data.decode("utf-8-sig"), "UTF-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8-sig", "surrogateescape")
    if data.startswith(codecs.BOM_UTF8) or mostly_utf8(text):
        return Decoded(text, "UTF-8", stray=True)
    del text
    try:
        return Decoded(data.decode("cp1252"), "windows-1252")
    except UnicodeDecodeError:
        return Decoded(data.decode("latin-1"), "ISO-8859-1")


def mostly_utf8(text: str) -> bool:
    """Whether ``text`` (bytes read as UTF-8 with ``surrogateescape``) holds at least as many
    characters written in UTF-8 as bytes that are not UTF-8 (:func:`decode_undeclared`)."""
    written = sum(1 for _ in _WRITTEN_IN_UTF8.finditer(text))
    return written > 0 and written >= sum(1 for _ in STRAY_BYTE.finditer(text))


def stray_bytes_read(text: str) -> str:
    """``text`` with its stray bytes (:data:`STRAY_BYTE`) read as Windows-1252, else Latin-1:
    what the sender most probably typed (``B\udce9l\udce9`` is ``Bélé``)."""

    def read(match: re.Match[str]) -> str:
        byte = bytes([ord(match[0]) - 0xDC00])
        try:
            return byte.decode("cp1252")
        except UnicodeDecodeError:
            return byte.decode("latin-1")

    return STRAY_BYTE.sub(read, text)


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header into most fields, consistently over the next lines."""
    # universal newlines: a file of "\r" line ends (old Mac, some exports) is lines too, not
    # one long line every delimiter fails on
    lines = [line for line in _first_lines(text, _SNIFF_LINES) if line.strip()]

    def score(delimiter: str) -> tuple[float, int]:
        try:
            counts = [len(record) for record in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            return (0.0, 0)  # a field beyond csv's limit for this delimiter: not it
        if not counts or counts[0] < 2:
            return (0.0, 0)
        return (sum(c == counts[0] for c in counts) / len(counts), counts[0])

    return max(_DELIMITERS, key=score)


def _first_lines(text: str, count: int) -> list[str]:
    """The first ``count`` lines of ``text`` (universal newlines), split from the shortest
    prefix that holds them whole: a StringIO of the whole text holds 4 bytes a character
    (760 MB more for a 190 MB file, while the file's bytes and text are held too)."""
    size = _SNIFF_PREFIX
    while True:
        lines = list(islice(io.StringIO(text[:size], newline=None), count + 1))
        # a line after the first ``count`` ends them: none of them was cut by the prefix
        if len(lines) > count or size >= len(text):
            return lines[:count]
        size *= 4


def read_csv_table(data: bytes, options: ReadOptions) -> Table:
    """Read CSV bytes into a :class:`Table`, refusing more than ``options.max_rows`` rows."""
    text, encoding, stray = decode_undeclared(data)
    note = ENCODING_NOTES.get(encoding)
    delimiter = sniff_delimiter(text)
    del text
    # Records are read from the bytes, decoded as they go (the whole text decoded above, so
    # this codec reads them all): a StringIO of the text holds 4 bytes per character, 760 MB
    # more for a 190 MB file, on top of the text itself.
    errors = "surrogateescape" if stray else "strict"
    source = _Lines(
        io.TextIOWrapper(io.BytesIO(data), encoding=_CODECS[encoding], errors=errors, newline="")
    )
    reader = csv.reader(source, delimiter=delimiter)
    notes = [note] if note else []
    try:
        header = _header(source, reader, delimiter)
        if stray and STRAY_BYTE.search("".join(header)):
            header = [stray_bytes_read(name) for name in header]
            notes.append("the header holds bytes that are not UTF-8; they are read as Windows-1252")
        check_columns(len(header), options.max_columns)
        columns = unique_columns(header)
        same = same_names(header, columns)
        records, row_numbers, issues, originals = _read_records(
            source, reader, columns, options.max_rows, delimiter, stray=stray
        )
    except csv.Error as exc:
        raise UnreadableFile(
            f"the CSV file cannot be parsed at line {source.number}: {exc}", row=source.number
        ) from exc
    if any(issue.code == "mixed_encoding" for issue in issues):
        notes.append(
            "UTF-8 but for a few bytes: the rows holding them are rejected as mixed_encoding, "
            "their values read as Windows-1252 in the report"
        )
    if delimiter != ",":
        notes.append(f"delimiter {quoted(delimiter)}; decimal commas accepted in coordinates")
    return Table(
        columns,
        records,
        row_numbers,
        delimiter != ",",
        issues,
        notes,
        encoding,
        values_shared=True,
        originals=originals,
        same_names=same,
    )


class _Lines:
    """The physical lines of a CSV as ``csv.reader`` takes them, numbered, the lines of the
    record being read kept so that all but its first can be read again (:meth:`again`)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._again: list[str] = []  # lines to read again, the next one last
        self.number = 0  # the line last handed out (the header is line 1)
        self.record: list[str] = []  # the lines handed out since :meth:`start`

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._again.pop() if self._again else next(self._lines)
        self.number += 1
        self.record.append(line)
        return line

    def start(self) -> int:
        """A record starts: the number of its first line."""
        self.record = []
        return self.number + 1

    def again(self, lines: list[str]) -> None:
        """Hand out ``lines`` (the last ones handed out) again, in order."""
        self.number -= len(lines)
        self._again.extend(reversed(lines))


def _header(source: _Lines, reader: Iterator[list[str]], delimiter: str) -> list[str]:
    for record in reader:
        if not "".join(record).strip():
            continue
        if _quote_left_open(source.record, record) and not _closes_properly(
            source.record, delimiter
        ):
            raise UnreadableFile(
                "the CSV file's header opens a double quote that does not close on its line "
                f"(line {source.number - len(source.record) + 1}): the column names cannot be "
                "told apart; close the quote or remove it",
                row=source.number - len(source.record) + 1,
            )
        if "\x00" in "".join(record):
            raise UnreadableFile(
                "the CSV file's header holds a NUL character (byte 0), which no column name "
                "may hold; is it a damaged or binary file?",
                row=source.number,
            )
        return record
    raise UnreadableFile("the CSV file has no header line")


def _quote_left_open(lines: list[str], record: list[str]) -> bool:
    """Whether the record read from ``lines`` ran on past its first line's end because a quote
    opened there (or ran to the end of the file inside one): either the line ends of a quoted
    value that closes properly (a note typed on several lines), or a quote that never closes."""
    return len(lines) > 1 or (bool(record) and record[-1].endswith(("\n", "\r")))


def _closes_properly(lines: list[str], delimiter: str) -> bool:
    """Whether ``lines`` are one well-formed record: every quote that opens a value closes it,
    followed by a delimiter or the line's end (``csv``'s strict mode)."""
    try:
        return sum(1 for _ in csv.reader(lines, delimiter=delimiter, strict=True)) == 1
    except csv.Error:
        return False


def _unclosed_fields(line: str, delimiter: str) -> tuple[list[str], int]:
    """The values of a line whose quote does not close, and the position of the one it opens.

    The values before it are read as CSV; the rest of the line, quote included, is cut at each
    delimiter: the quote stays where the sender put it, and a stray one leaves the values after
    it in their columns.
    """
    fields = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [""])
    at = len(fields) - 1
    rest = next(csv.reader([fields[-1]], delimiter=delimiter, quoting=csv.QUOTE_NONE), [""])
    return [*fields[:-1], '"' + rest[0], *rest[1:]], at


def _read_records(
    source: _Lines,
    reader: Iterator[list[str]],
    columns: tuple[str, ...],
    max_rows: int,
    delimiter: str,
    *,
    stray: bool = False,
) -> tuple[list[list[str]], list[int], list[Issue], dict[int, list[str]]]:
    """The records after the header, their line numbers, read-time issues, and the values of
    the rows not read (by position in the records) as they were sent."""
    width = len(columns)
    records: list[list[str]] = []
    row_numbers: list[int] = []
    issues: list[Issue] = []
    originals: dict[int, list[str]] = {}
    sharing = SharedValues(width)

    def column(at: int) -> str | None:
        return columns[at] if at < width else None

    while True:
        start_line = source.start()
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error:
            # a value past csv's size limit: a quote that never closed, when it ran on past its
            # line (read as below), else the file cannot be split into rows
            if len(source.record) < 2:
                raise
            record = []
        lines = source.record
        if _quote_left_open(lines, record) and (
            not record or not _closes_properly(lines, delimiter)
        ):
            # A quote opened a value on this line and did not close it where the row ends: it
            # never closes (csv reads the rest of the file as that one value), or it closes on
            # a later line, pairing with another row's quote (that row is lost, its values
            # spread over this one). A careful reader cannot tell where the value was meant to
            # end, so it stores none of it: the row is rejected with its line as sent (in
            # rejected.csv), and the lines after it are read again as the rows they are. Each
            # of them is checked as any row is; refusing the whole file would throw every good
            # row away for one stray character, and reading on silently loses rows.
            source.again(lines[1:])
            raw, at = _unclosed_fields(lines[0], delimiter)
            issues.append(
                Issue(
                    start_line,
                    column(at),
                    "unclosed_quote",
                    f"line {start_line}: a double quote opens a value in "
                    f"{column(at) or 'a field past the header'} and does not close on that "
                    "line; the row is not read, the lines after it are read as rows (a quote "
                    'inside a value is written twice: "")',
                )
            )
            record = raw
            originals[len(records)] = raw
            if stray:
                record[:] = [stray_bytes_read(cell) for cell in record]
        else:
            joined = "".join(record)
            if not joined.strip():
                continue  # blank lines and Excel's ";;;;" padding are not rows
            if stray and STRAY_BYTE.search(joined):
                for at, cell in enumerate(record):
                    if STRAY_BYTE.search(cell):
                        record[at] = stray_bytes_read(cell)
                        issues.append(
                            mixed_encoding_issue(
                                f"line {start_line}", start_line, column(at), record[at]
                            )
                        )
            if "\x00" in joined:
                # no text field (nor PostgreSQL) holds one: the row would have failed the upload
                at = next(j for j, cell in enumerate(record) if "\x00" in cell)
                issues.append(
                    Issue(
                        start_line,
                        column(at),
                        "nul_character",
                        f"line {start_line}: {column(at) or 'a field past the header'} holds a "
                        "NUL character (byte 0), which no text may hold; the row is not read",
                    )
                )
                originals[len(records)] = record
            elif len(record) > width and "".join(record[width:]).strip():
                issues.append(
                    Issue(
                        start_line,
                        None,
                        "malformed_row",
                        f"line {start_line} has {len(record)} fields but the header has {width} "
                        "(an unquoted delimiter inside a value?); the row is not read",
                    )
                )
                originals[len(records)] = record
        if len(records) >= max_rows:
            raise TooManyRows(f"the file has more than {max_rows:,} rows (the limit)")
        if len(records) in originals:
            record = [""] * width  # not read: its cells are not trusted to be in their columns
        records.append((record + [""] * (width - len(record)))[:width])
        sharing.add(records[-1])
        row_numbers.append(start_line)
    sharing.finish()
    return records, row_numbers, issues, originals


def mixed_encoding_issue(where: str, row: int, column: str | None, read: str) -> Issue:
    """The issue of a value holding bytes that are not UTF-8 in a file that is: ``read`` is
    the value with them read as Windows-1252; ``where`` says where it is (``line 4``)."""
    return Issue(
        row,
        column,
        "mixed_encoding",
        f"{where}: {column or 'a field past the header'} holds bytes that are not UTF-8, "
        f"while the rest of the file is; read as Windows-1252 it says {quoted(read[:100])}. "
        "The row is not stored: check the value and send the row again (rejected.csv holds it "
        "as read)",
    )


#: Read-time issues whose row is not read (its cells are left out, the row reads as {}, and
#: rejected.csv shows the values it was sent with).
UNREAD_ROW_CODES: Final = frozenset({"malformed_row", "nul_character", "unclosed_quote"})


def unique_columns(header: Sequence[str]) -> tuple[str, ...]:
    """Header names stripped, blanks named ``column_<n>``, repeats suffixed `` (2)`` (or the
    next number no column of the header has: ``name, name, name (2)`` gives ``name (3)`` to
    the second ``name``, not a second ``name (2)`` whose value would be lost)."""
    given = [raw.strip().lstrip("\ufeff") for raw in header]
    taken = set(given)
    seen: set[str] = set()
    names: list[str] = []
    for position, stripped in enumerate(given, start=1):
        name = stripped or f"column_{position}"
        # a blank's made-up name gives way to a column that has it in the file
        if name in seen or (not stripped and name in taken):
            number = 2
            while f"{name} ({number})" in taken:
                number += 1
            name = f"{name} ({number})"
            taken.add(name)
        seen.add(name)
        names.append(name)
    return tuple(names)


def same_names(header: Sequence[str], columns: Sequence[str]) -> tuple[SameName, ...]:
    """The columns of ``header`` that have one name as the readers compare names (case, accents,
    ``_`` and blanks aside: ``lat, lon, lat`` or ``Name, name``), with the names
    :func:`unique_columns` gave them (``columns``). Blank header cells name nothing."""
    groups: dict[str, list[int]] = {}
    for position, raw in enumerate(header):
        given = raw.strip().lstrip("\ufeff")
        if given:
            groups.setdefault(fold(given), []).append(position)
    return tuple(
        SameName(
            tuple(header[p].strip().lstrip("\ufeff") for p in positions),
            tuple(columns[p] for p in positions),
            tuple(p + 1 for p in positions),
        )
        for positions in groups.values()
        if len(positions) > 1
    )


def check_same_names(same: Sequence[SameName], read: Mapping[str, str]) -> list[str]:
    """Refuse a table where a column the reader reads (``read``: column -> what it is read for)
    shares its name with another (:class:`~geo.errors.DuplicateColumn`: which one the sender
    meant cannot be told, and reading the first silently lost the other); the notes of the
    other names shared, whose columns are all kept, each under its own name."""
    notes = []
    for group in same:
        role = next((read[name] for name in group.read_as if name in read), None)
        if role is not None:
            raise DuplicateColumn(
                f"{group.describe()}: which one holds the {role} cannot be told (an ambiguous "
                "duplicate column); rename or remove all but one",
                column=group.given[0],
            )
        notes.append(
            f"{group.describe()}; the upload reads none of them, each is kept among the row's "
            "attributes, as " + ", ".join(repr(name) for name in group.read_as)
        )
    return notes


#: What the survey readers read a column for, as the sender is told it.
ROLE_WORDS: Final = {
    "lon": "longitude",
    "lat": "latitude",
    "geopoint": "coordinates",
    "accuracy": "accuracy",
    "name": "site name",
    "date": "date",
    "kind": "kind",
    "minerals": "minerals",
}


def _read_columns(plan: CoordinatePlan, fields: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each column the survey reads, and what for."""
    roles = {"lon": plan.lon, "lat": plan.lat, "geopoint": plan.geopoint, "accuracy": plan.accuracy}
    read = {column: ROLE_WORDS[role] for role, column in roles.items() if column is not None}
    for role, columns in fields.items():
        for column in columns:
            read.setdefault(column, ROLE_WORDS.get(role, role))
    return read


def table_to_survey(table: Table, options: ReadOptions, base_format: str) -> Survey:
    """Find and parse the coordinates of ``table``; the survey keeps every column as text.

    Cells holding an empty-value token (``n/a``, ``NA``, ``-``... see ``options``) are blanked
    first, so every column treats them as empty.
    """
    _blank_empty_values(table, options)
    plan = conventions.find_coordinates(table.columns, table.sample, options.column_map)
    if plan is None:
        raise NoCoordinateColumns(
            "no coordinate columns found (looked for lon/lat, longitude/latitude, x/y, KoBo "
            "_<name>_latitude, ODK <name>-Latitude and geopoint strings); columns are: "
            f"{_listed(table.columns)}. Give a column mapping (lon, lat or geopoint)."
        )
    fields = conventions.find_field_columns(table.columns, options.column_map)
    shared_names = check_same_names(table.same_names, _read_columns(plan, fields))
    issues = list(table.issues)
    lon, lat, accuracy = _parse_plan(table, plan, issues, empty_value_test(options.empty_values))
    crs = _table_crs(plan, lon, lat, options)
    if crs is not None:
        lon, lat = to_wgs84(lon, lat, crs)
    if plan.accuracy is not None:
        parsed = parse_numbers(table.column(plan.accuracy), decimal_comma=table.decimal_comma)
        accuracy = np.where(np.isnan(parsed.values), accuracy, parsed.values)
    malformed = {issue.row for issue in table.issues if issue.code in UNREAD_ROW_CODES}
    # a malformed row's cells cannot be trusted to be in their columns: it reads as {}
    blank = frozenset(i for i, number in enumerate(table.row) if number in malformed)
    properties = RowValues(
        table.columns,
        table.records,
        blank,
        shared=table.values_shared,
        originals={i: table.originals[i] for i in blank if i in table.originals},
    )
    convention = plan.convention if plan.convention in ("kobo", "odk") else None
    return Survey(
        format=f"{convention}-{base_format}" if convention else base_format,
        source_crs=crs_label(crs if crs is not None else WGS84),
        columns=table.columns,
        row=np.asarray(table.row, dtype=np.int64),
        lon=lon,
        lat=lat,
        accuracy_m=accuracy,
        properties=properties,
        coordinate_columns=plan.columns,
        accuracy_column=plan.accuracy or (plan.geopoint if plan.geopoint else None),
        field_columns=fields,
        issues=tuple(sorted(issues, key=lambda issue: (issue.row, _position(table, issue)))),
        notes=(*table.notes, *shared_names),
        encoding=table.encoding,
        same_names=table.same_names,
    )


def _blank_empty_values(table: Table, options: ReadOptions) -> None:
    is_empty = empty_value_test(options.empty_values)
    for record in table.records:
        for j, cell in enumerate(record):
            if cell and is_empty(cell):
                record[j] = ""


def _listed(columns: Sequence[str], limit: int = 40) -> str:
    shown = ", ".join(columns[:limit])
    return shown if len(columns) <= limit else f"{shown} … ({len(columns):,} columns)"


def _position(table: Table, issue: Issue) -> int:
    return table._position.get(issue.column, -1) if issue.column is not None else -1


def _parse_plan(
    table: Table, plan: CoordinatePlan, issues: list[Issue], is_empty: Callable[[object], bool]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    n = len(table.row)
    if plan.geopoint is not None:
        points = parse_geopoints(table.column(plan.geopoint), is_empty=is_empty)
        _report(issues, table.row, plan.geopoint, points.errors)
        return points.lon, points.lat, points.accuracy_m
    assert plan.lon is not None and plan.lat is not None
    parsed: dict[Axis, FloatArray] = {}
    axes: tuple[tuple[Axis, str], ...] = (("lon", plan.lon), ("lat", plan.lat))
    for axis, column in axes:
        if plan.projected:
            result = parse_numbers(table.column(column), decimal_comma=table.decimal_comma)
        else:
            result = parse_coordinates(
                table.column(column),
                axis=axis,
                decimal_comma=table.decimal_comma,
            )
        _report(issues, table.row, column, result.errors)
        parsed[axis] = result.values
    return parsed["lon"], parsed["lat"], np.full(n, np.nan)


def _report(issues: list[Issue], rows: list[int], column: str, errors: dict[int, str]) -> None:
    issues.extend(
        Issue(rows[i], column, "unparseable_coordinate", message) for i, message in errors.items()
    )


def _table_crs(
    plan: CoordinatePlan, lon: FloatArray, lat: FloatArray, options: ReadOptions
) -> pyproj.CRS | None:
    if options.crs:
        return resolve_crs(options.crs)
    finite = np.isfinite(lon) & np.isfinite(lat)
    looks_projected = bool(finite.any()) and bool(
        np.median(np.maximum(np.abs(lon[finite]), np.abs(lat[finite]))) > _PROJECTED_MAGNITUDE
    )
    if plan.projected or looks_projected:
        columns = " and ".join(plan.columns)
        raise CRSRequired(
            f"the coordinates in {columns} look projected (metres, not degrees) and no CRS was "
            "given; send the CRS (an EPSG code such as 32634, or 'UTM 34N'): "
            "borderlens never guesses a UTM zone"
        )
    return None


def read_csv(upload: Upload, options: ReadOptions) -> Survey:
    """A CSV export (KoBo, ODK Central/Briefcase, IPIS, Excel in any locale)."""
    return table_to_survey(read_csv_table(upload.data, options), options, "csv")


def read_xlsx(upload: Upload, options: ReadOptions) -> Survey:
    """The first sheet of an XLSX workbook (KoBo's XLSX export puts the main table first)."""
    assert upload.archive is not None
    # GDAL reads a workbook as a zip: it gets one rewritten from the checked parts.
    path = upload.archive.repack(upload.workdir / "upload.xlsx")
    survey = table_to_survey(read_xlsx_table(path, options), options, "xlsx")
    return replace(survey, date_system=_workbook_date_system(upload.archive))


_DATE1904 = re.compile(rb"<(?:\w+:)?workbookPr\b[^>]*\bdate1904\s*=\s*[\"'](?:1|true)[\"']")


def _workbook_date_system(archive: SafeZip) -> Literal[1900, 1904]:
    """1904 when ``xl/workbook.xml`` says ``date1904="1"`` (old Mac Excel), else 1900."""
    name = next((n for n in archive.names if n.casefold() == "xl/workbook.xml"), None)
    if name is None:
        return 1900
    return 1904 if _DATE1904.search(archive.read(name, limit=1024 * 1024)) else 1900


def read_xlsx_table(path: Path, options: ReadOptions) -> Table:
    """Read the first sheet of the workbook at ``path`` through GDAL, every cell as its text."""
    open_options = {"FIELD_TYPES": "STRING", "HEADERS": "FORCE"}
    sheets = [name for name, _ in list_layers(path)]
    if not sheets:
        raise UnreadableFile("the workbook has no sheet")
    meta, fids, _geometry, fields = read_layer(
        path,
        sheets[0],
        read_geometry=False,
        return_fids=True,
        max_features=options.max_rows + 1,
        **open_options,
    )
    check_columns(len(meta["fields"]), options.max_columns)
    header = [str(name) for name in meta["fields"]]
    columns = unique_columns(header)
    cells = [["" if value is None else str(value) for value in array.tolist()] for array in fields]
    rows = [int(fid) for fid in fids] if fids is not None else []
    # GDAL returns the empty rows between data rows too; they are not rows of the survey.
    filled = [i for i in range(len(rows)) if any(column[i].strip() for column in cells)]
    if len(filled) > options.max_rows:
        raise TooManyRows(f"the sheet has more than {options.max_rows:,} rows (the limit)")
    notes = [f"read sheet {quoted(sheets[0])}; other sheets ignored: {', '.join(sheets[1:])}"] * (
        len(sheets) > 1
    )
    return Table(
        columns,
        [[column[i] for column in cells] for i in filled],
        [rows[i] for i in filled],
        decimal_comma=True,
        notes=notes,
        same_names=same_names(header, columns),
    )
