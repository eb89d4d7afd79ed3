"""The survey data model: what a reader hands to validation, column by column.

A :class:`Survey` is columnar on purpose. Coordinates, accuracies and row numbers are numpy
arrays so validation and border measures run as whole-array calls (100 000 rows in one
``locate()``), while the per-row raw properties are dicts the service stores as JSON (for
CSV and XLSX made when a row is read, from a :class:`RowValues` table: a million rows of
dicts do not fit in an upload's memory).

Row numbers are what the person who sent the file sees:

- CSV: the physical line in the file where the record starts, the header being line 1
  (so the first data row is 2, i.e. data row index + 2 for a file without blank lines or
  multi-line quoted cells);
- XLSX: the spreadsheet row number (header row 1, first data row 2);
- GPX, KML, KMZ, GeoJSON, Shapefile, GeoPackage: the 1-based feature index in reading order,
  layers one after another (GPX: waypoints, then route points and track points when asked).
  Features that are not points (KML paths, polygons) keep their index but are not rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, overload

import numpy as np
import numpy.typing as npt

Severity: TypeAlias = Literal["error", "warning"]
JSONScalar: TypeAlias = str | int | float | bool | None
FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]

DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_ROWS = 250_000
# KoBo/ODK exports of long forms reach a few hundred columns; 10 000 is an attack (rel-08).
DEFAULT_MAX_COLUMNS = 1000
# Deflate cannot exceed ~1032:1; real KMZ/XLSX/DBF members stay well under 100:1 (a DBF of
# blank-padded text fields is the worst honest case seen), so 200:1 leaves room for honesty.
DEFAULT_MAX_COMPRESSION_RATIO = 200.0

# Roles a column can play besides coordinates; keys accepted in ``ReadOptions.column_map``.
COORDINATE_ROLES = ("lon", "lat", "geopoint", "accuracy")
FIELD_ROLES = ("name", "date", "minerals", "kind")


@dataclass(frozen=True)
class Issue:
    """One problem with one row: where it is, a stable code, and what to do about it.

    ``row`` follows the row-number convention of the module docstring; ``column`` is the source
    column (or ``"geometry"`` for formats with a geometry), None when the issue is about the
    whole row. ``severity`` is ``"error"`` (the row is rejected) or ``"warning"`` (kept, flagged).
    """

    row: int
    column: str | None
    code: str
    message: str
    severity: Severity = "error"


@dataclass(frozen=True)
class SameName:
    """Columns of a table header that have one name, as the readers compare names (case,
    accents, ``_`` and blanks aside: :func:`geo.vocab.fold`): as the sender wrote them, as
    they are read (kept apart: ``lat``, ``lat (2)``) and where (1-based positions)."""

    given: tuple[str, ...]
    read_as: tuple[str, ...]
    positions: tuple[int, ...]

    def describe(self) -> str:
        """``columns 2 and 4 are both named 'lat'`` (or name them when they differ)."""
        *first, last = (str(p) for p in self.positions)
        where = f"columns {', '.join(first)} and {last}"
        if len(set(self.given)) == 1:
            every = "both" if len(self.given) == 2 else "all"
            return f"{where} are {every} named {self.given[0]!r}"
        names = ", ".join(repr(name) for name in self.given)
        return f"{where} ({names}) have one name (case, accents and _ aside)"


@dataclass(frozen=True)
class ReadOptions:
    """How to read one upload; every limit comes in here, the engine has no settings.

    Parameters
    ----------
    crs
        CRS of the coordinates when the file does not carry one: ``"EPSG:32634"``, ``"32634"``,
        WKT, ``"UTM 34N"``, ``"utm zone 34 south"``. Required for projected CSV/XLSX columns.
    column_map
        Explicit roles for columns, overriding header conventions: keys among ``lon``, ``lat``,
        ``geopoint``, ``accuracy``, ``name``, ``date``, ``minerals``, ``kind``; values are the
        column names exactly as in the file.
    include_tracks
        GPX: also read track and route points as rows (a track is not a site unless asked).
    max_rows
        More rows (features) than this raise :class:`geo.errors.TooManyRows`.
    max_file_bytes
        Size of the upload itself (the compressed size for zips).
    max_uncompressed_bytes
        Sum of the declared uncompressed sizes of a zip's members.
    max_compression_ratio
        Largest uncompressed/compressed ratio accepted for a zip member larger than 1 MiB.
    max_columns
        More columns (fields) than this raise :class:`geo.errors.TooManyColumns`, for CSV
        before any record is read.
    empty_values
        Cell texts that mean "no answer" (compared without case or surrounding blanks); None
        uses :data:`geo.vocab.EMPTY_VALUES` (``n/a``, ``NA``, ``-``, ``null``, ``#N/A``...). A
        cell holding one is empty in every column, for every format.
    """

    crs: str | None = None
    column_map: Mapping[str, str] | None = None
    include_tracks: bool = False
    max_rows: int = DEFAULT_MAX_ROWS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES
    max_compression_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO
    max_columns: int = DEFAULT_MAX_COLUMNS
    empty_values: frozenset[str] | None = None


#: Columns whose first rows hold fewer distinct values than this share of rows keep one copy
#: of each value (a form's choice lists, dates, the device's altitude).
_SHARED_VALUES_BELOW = 0.5
_SAMPLE_ROWS = 1000


class RowValues(Sequence[dict[str, JSONScalar]]):
    """The raw values of a table's rows, every row with every column: row ``i`` is a new dict
    ``{column: value}`` each time it is read.

    Why not a list of dicts: a dict per row costs more than its values (464 bytes for a
    13-column KoBo row whose 13 strings take 774), and a million rows of them did not fit in
    the 2 GiB an upload may use. The records are kept as given (one list per row) and, in
    columns whose values repeat (choice lists, dates, a device's fixed altitude), share one
    string per distinct value (:class:`SharedValues`). Rows in ``blank`` (malformed rows,
    whose cells cannot be trusted to be in their columns) read as ``{}``; ``originals`` keeps,
    by row, the values such a row was sent with (:meth:`original`).
    """

    __slots__ = ("_blank", "_columns", "_originals", "_position", "_records")

    def __init__(
        self,
        columns: Sequence[str],
        records: list[list[str]],
        blank: frozenset[int] = frozenset(),
        *,
        shared: bool = False,
        originals: Mapping[int, Sequence[str]] | None = None,
    ) -> None:
        self._columns = tuple(columns)
        self._position = {name: j for j, name in enumerate(self._columns)}
        if any(len(record) != len(self._columns) for record in records):
            raise ValueError("every record must have one value per column")
        if not shared:  # else the reader did it (SharedValues) as it read them
            sharing = SharedValues(len(self._columns))
            for record in records:
                sharing.add(record)
            sharing.finish()
        self._records = records
        self._blank = blank
        self._originals = dict(originals or {})

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> dict[str, JSONScalar]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, JSONScalar]]: ...

    def __getitem__(
        self, index: int | slice
    ) -> dict[str, JSONScalar] | list[dict[str, JSONScalar]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        record = self._records[index]  # IndexError as a list's
        if self._blank and index % len(self._records) in self._blank:
            return {}
        return dict(zip(self._columns, record, strict=True))

    def __iter__(self) -> Iterator[dict[str, JSONScalar]]:
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared by value, as a list

    def original(self, index: int) -> dict[str, JSONScalar]:
        """Row ``index`` as it was sent: a blank row's values in file order, one per column,
        those past the last column under the names a header would give them (``column_<n>``),
        so that the sender can fix the row and send it again; any other row as it reads."""
        values = self._originals.get(index % len(self._records)) if self._records else None
        if values is None:
            return self[index]
        names = self._columns + overflow_columns(self._columns, len(values) - len(self._columns))
        return dict(zip(names, values, strict=False))

    def column(self, name: str) -> list[JSONScalar]:
        """Every row's value of ``name`` (None where the row is blank)."""
        j = self._position[name]
        return [None if i in self._blank else record[j] for i, record in enumerate(self._records)]


def overflow_columns(columns: Sequence[str], count: int) -> tuple[str, ...]:
    """Names for ``count`` values past the last of ``columns``, as a header leaving them blank
    would have them named: ``column_<position>``, numbered `` (2)`` on when a column has it."""
    taken = set(columns)
    names: list[str] = []
    for position in range(len(columns) + 1, len(columns) + 1 + max(count, 0)):
        name, number = f"column_{position}", 2
        while name in taken:
            name, number = f"column_{position} ({number})", number + 1
        taken.add(name)
        names.append(name)
    return tuple(names)


class SharedValues:
    """Makes equal values one object in the columns whose values repeat, record by record as
    a reader appends them (so the copies never pile up): which columns repeat is decided on
    the first ``_SAMPLE_ROWS`` records (fewer distinct values than half of them). Call
    :meth:`finish` after the last record."""

    def __init__(self, width: int) -> None:
        self._width = width
        self._sample: list[list[str]] | None = []
        self._seen: list[tuple[int, dict[str, str]]] = []

    def add(self, record: list[str]) -> None:
        if self._sample is not None:
            self._sample.append(record)
            if len(self._sample) >= _SAMPLE_ROWS:
                self.finish()
            return
        for j, seen in self._seen:
            value = record[j]
            record[j] = seen.setdefault(value, value)

    def finish(self) -> None:
        sample, self._sample = self._sample, None
        if sample is None:
            return
        self._seen = [
            (j, {})
            for j in range(self._width)
            if len({record[j] for record in sample}) < _SHARED_VALUES_BELOW * len(sample)
        ]
        for record in sample:
            self.add(record)


@dataclass(frozen=True, eq=False)
class Survey:
    """Rows of one survey file, coordinates already in EPSG:4326 (lon, lat).

    Attributes
    ----------
    format
        ``csv``, ``kobo-csv``, ``odk-csv``, ``xlsx``, ``kobo-xlsx``, ``odk-xlsx``, ``gpx``,
        ``kml``, ``kmz``, ``geojson``, ``shapefile`` or ``gpkg``.
    source_crs
        The CRS the coordinates were read in, as an authority string when there is one
        (``"EPSG:32634"``), else WKT.
    columns
        The file's own column (field) names, in file order.
    row
        Row numbers as the sender sees them (see the module docstring), int64.
    lon, lat
        Degrees on WGS 84 after any transform; NaN where the cell was empty or unparseable.
    accuracy_m
        Horizontal accuracy in metres as the device reported it; NaN where unknown.
    properties
        The raw values of each row, plain JSON-able scalars. CSV/XLSX rows carry every column
        as its text (empty cells as ``""``); GDAL formats carry the non-null fields.
    coordinate_columns
        Source columns the coordinates came from, for error reports: ``(lon_col, lat_col)``,
        ``(geopoint_col,)`` or ``("geometry",)``.
    accuracy_column
        The source column of ``accuracy_m``, if any.
    field_columns
        Columns holding the other roles (``name``, ``date``, ``minerals``, ``kind``); minerals
        may come from several columns (``mineral1``, ``mineral2``...).
    issues
        Per-row problems found while reading (unparseable coordinate, malformed row).
    notes
        File-level remarks worth showing the sender (skipped layers, encoding fallbacks).
    kind_hints
        Empty, or per row the kind (``"mine"``/``"sales_point"``/None) the file's own structure
        gives it: the KML folder (or style) it sits in, when that is named for a kind.
    date_system
        The spreadsheet date system bare serial day numbers count in: 1904 for a workbook
        that says so (``date1904``), else 1900.
    same_names
        Columns of the header that share one name (CSV, XLSX), none of them read for a role
        (those are refused: :class:`~geo.errors.DuplicateColumn`), each kept under its own.
    encoding
        The text encoding the values were read in (``"UTF-8"``, ``"windows-1252"``,
        ``"UTF-16"``, a Shapefile's declared code page), decided from the bytes when the file
        does not declare it; several joined by ``", "`` when parts of a file differ.
    """

    format: str
    source_crs: str
    columns: tuple[str, ...]
    row: IntArray
    lon: FloatArray
    lat: FloatArray
    accuracy_m: FloatArray
    properties: Sequence[dict[str, JSONScalar]]
    coordinate_columns: tuple[str, ...]
    accuracy_column: str | None = None
    field_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    issues: tuple[Issue, ...] = ()
    notes: tuple[str, ...] = ()
    encoding: str = "UTF-8"
    date_system: Literal[1900, 1904] = 1900
    same_names: tuple[SameName, ...] = ()
    kind_hints: tuple[str | None, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.row)
        sizes = {len(self.lon), len(self.lat), len(self.accuracy_m), len(self.properties)}
        if sizes != {n}:
            raise ValueError(f"survey columns disagree in length: {sorted(sizes | {n})}")
        if self.kind_hints and len(self.kind_hints) != n:
            raise ValueError("kind_hints must be empty or have one entry per row")

    def __len__(self) -> int:
        return len(self.row)

    def original_values(self, index: int) -> dict[str, JSONScalar]:
        """Row ``index``'s values as they were sent, for the sender to fix: those of a row not
        read (malformed, unclosed quote, NUL; it reads as ``{}``) included."""
        if isinstance(self.properties, RowValues):
            return self.properties.original(index)
        return self.properties[index]

    def values(self, column: str) -> list[JSONScalar]:
        """The raw value of ``column`` in every row (None where the row lacks it)."""
        if isinstance(self.properties, RowValues) and column in self.columns:
            return self.properties.column(column)
        return [props.get(column) for props in self.properties]
