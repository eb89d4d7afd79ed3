"""Read polygons (zones) or lines (trade routes) from an upload, with the survey readers' safety.

Same formats that carry geometries as survey files (GeoJSON, KML, KMZ, zipped Shapefile,
GeoPackage), same checks before GDAL sees anything (size, zip bombs and unsafe members, XML
declarations: :func:`geo.readers.sniff.sniff`), same encoding rules, same CRS rules (the file's
own, or the one given), same message scrubbing (no server path reaches the sender). Every
feature is a row numbered from 1 across layers; a feature without geometry, or of the wrong
family, is a row with an error :class:`~geo.survey.Issue`, never silently dropped.

>>> import json
>>> doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties":
...     {"name": "A"}, "geometry": {"type": "Polygon", "coordinates":
...     [[[15, 4], [15.1, 4], [15.1, 4.1], [15, 4]]]}}]}
>>> table = read_shapes(json.dumps(doc).encode(), "z.geojson", options=ReadOptions(),
...     family="polygon")
>>> table.row.tolist(), table.properties, table.geometries[0].geom_type
([1], [{'name': 'A'}], 'Polygon')
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import shapely

from geo.coords import crs_label, to_wgs84
from geo.errors import (
    FileTooLarge,
    FormatMismatch,
    GeoError,
    ReaderFailure,
    TooManyRows,
    UnsupportedFormat,
    quoted,
)
from geo.readers import _for_sender, _scrub, find_format, log
from geo.readers.gdal_io import field_rows, list_layers, upload_path
from geo.readers.ogr import (
    TextEncoding,
    _dbf_encoding,
    _layer_crs,
    _read_decoded,
    as_utf8,
    marked_read,
    marked_values,
)
from geo.readers.sniff import CONTENT_NAMES, Upload, extension, sniff
from geo.survey import Issue, JSONScalar, ReadOptions, SameName
from geo.vocab import empty_value_test, fold

Family = Literal["polygon", "line"]
_FAMILY_TYPES: dict[str, tuple[str, ...]] = {
    "polygon": ("Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString"),
}
_SHAPE_FORMATS = ("geojson", "kml", "kmz", "shapefile", "gpkg")


@dataclass
class ShapeTable:
    """Features of one upload: geometries in EPSG:4326 (lon/lat), properties, row numbers.

    ``geometries[k]`` is None for rows with an error in ``issues`` (missing geometry, another
    family); ``row[k]`` is the feature number (from 1, across layers in file order).
    """

    format: str
    source_crs: str
    row: npt.NDArray[np.int64]
    geometries: npt.NDArray[np.object_]
    properties: list[dict[str, JSONScalar]]
    columns: tuple[str, ...]
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_shapes(data: bytes, filename: str, *, options: ReadOptions, family: Family) -> ShapeTable:
    """Read the polygons (``family="polygon"``) or lines (``"line"``) of an upload.

    Raises the same :class:`~geo.errors.GeoError` subclasses as
    :func:`geo.readers.read_survey` (too large, hostile, unreadable, unsupported format, CRS),
    with messages naming ``filename`` and no server path; CSV and XLSX carry no shapes
    (:class:`~geo.errors.UnsupportedFormat`).
    """
    spec = find_format(filename)
    if spec.format not in _SHAPE_FORMATS:
        raise UnsupportedFormat(
            f"{quoted(filename)}: {family}s come as GeoJSON, KML/KMZ, a zipped "
            "Shapefile or GeoPackage"
        )
    if len(data) > options.max_file_bytes:
        raise FileTooLarge(
            f"the file has {len(data):,} bytes (the limit is {options.max_file_bytes:,})"
        )
    with tempfile.TemporaryDirectory(prefix="borderlens-shapes-") as directory:
        workdir = Path(directory)
        try:
            upload = sniff(data, filename, options, workdir)
            if upload.content != spec.content:
                raise FormatMismatch(
                    f"{quoted(filename)} is named as {spec.format} "
                    f"({extension(filename)}) but holds "
                    f"{CONTENT_NAMES.get(upload.content, upload.content)}"
                )
            return _read(upload, spec.format, options, family)
        except GeoError as exc:
            exc.args = (_for_sender(exc.message, filename, workdir),)
            raise
        except Exception as exc:
            log.warning("the %s shape reader failed on %r", spec.format, filename, exc_info=exc)
            detail = _scrub(str(exc), filename, workdir)[:300]
            raise ReaderFailure(
                f"{filename}: cannot be read as {spec.format} ({type(exc).__name__}: {detail})"
            ) from exc


def _sources(upload: Upload, fmt: str) -> dict[str, TextEncoding]:
    """GDAL paths to open, with the text encoding decided for each."""
    if fmt in ("kml", "geojson"):
        data, encoding = as_utf8(upload.data, xml=fmt == "kml")
        return {str(upload_path(upload.workdir, data, "." + fmt)): encoding}
    if fmt == "gpkg":
        return {str(upload_path(upload.workdir, upload.data, ".gpkg")): TextEncoding()}
    assert upload.archive is not None
    if fmt == "kmz":
        found: dict[str, TextEncoding] = {}
        for member in sorted(upload.archive.with_suffix(".kml")):
            path = upload.archive.path(member)
            data, found[str(path)] = as_utf8(path.read_bytes(), xml=True)
            path.write_bytes(data)
        return found
    members = {name.casefold(): name for name in upload.archive.names}
    return {
        str(upload.archive.path(shp)): _dbf_encoding(upload.archive, shp[:-4], members)
        for shp in upload.archive.with_suffix(".shp")
    }


def _read(upload: Upload, fmt: str, options: ReadOptions, family: Family) -> ShapeTable:
    rows: list[np.ndarray] = []
    geometries: list[np.ndarray] = []
    properties: list[dict[str, JSONScalar]] = []
    columns: dict[str, None] = {}
    crs_labels: dict[str, None] = {}
    issues: list[Issue] = []
    notes: list[str] = []
    wanted = _FAMILY_TYPES[family]
    seen = 0
    for path, encoding in _sources(upload, fmt).items():
        for layer, geometry_type in list_layers(path):
            if geometry_type is None:
                notes.append(f"layer {quoted(layer)} has no geometry and was not read")
                continue
            remaining = options.max_rows - seen
            meta, _fids, wkb, data = _read_decoded(path, layer, remaining + 1, encoding)
            n = len(wkb) if wkb is not None else 0
            if n > remaining:
                raise TooManyRows(f"the file has more than {options.max_rows:,} features")
            if n == 0:
                continue
            if encoding.note:
                notes.append(encoding.note)
            names = [str(name) for name in meta["fields"]]
            if encoding.stray:
                names = [marked_read(name, encoding.marks) for name in names]
            shapes = shapely.from_wkb(wkb, on_invalid="ignore")
            crs = _layer_crs(meta.get("crs"), options, layer)
            shapes = _to_wgs84(shapes, crs)
            numbers = seen + 1 + np.arange(n)
            for k in range(n):
                shape = shapes[k]
                if shape is None or shape.is_empty:
                    issues.append(
                        Issue(int(numbers[k]), "geometry", "missing_geometry", "no geometry")
                    )
                    shapes[k] = None
                elif shape.geom_type not in wanted:
                    issues.append(
                        Issue(
                            int(numbers[k]),
                            "geometry",
                            f"not_a_{family}",
                            f"a {shape.geom_type} where a {family} was expected",
                        )
                    )
                    shapes[k] = None
            rows.append(numbers)
            geometries.append(shapes)
            layer_rows = field_rows(names, list(data), n)
            if encoding.stray:
                issues.extend(
                    marked_values(layer_rows, numbers.tolist(), [True] * n, encoding.marks)
                )
            properties.extend(layer_rows)
            columns.update(dict.fromkeys(names))
            crs_labels[crs_label(crs)] = None
            seen += n
    is_empty = empty_value_test(options.empty_values)
    for props in properties:
        for key in [key for key, value in props.items() if is_empty(value)]:
            del props[key]
    return ShapeTable(
        format=fmt,
        source_crs=", ".join(crs_labels) or "EPSG:4326",
        row=np.concatenate(rows).astype(np.int64) if rows else np.array([], dtype=np.int64),
        geometries=np.concatenate(geometries) if geometries else np.array([], dtype=object),
        properties=properties,
        columns=tuple(columns),
        issues=issues,
        notes=list(dict.fromkeys(notes)),
    )


def _to_wgs84(shapes: npt.NDArray[np.object_], crs: object) -> npt.NDArray[np.object_]:
    """Every vertex to lon/lat in one pyproj call per layer (``always_xy``); 2-D only."""
    import pyproj

    assert isinstance(crs, pyproj.CRS)

    def transform(xy: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([lon, lat])

    flat = shapely.force_2d(shapes)
    return np.asarray(shapely.transform(flat, transform), dtype=object)


@dataclass
class RecordTable:
    """Rows of a CSV or the first sheet of an XLSX, as text: ``records[k]`` maps each column
    to its cell (blank and "no answer" cells left out), ``row[k]`` is the row the sender sees
    (the header is row 1).

    ``issues`` are the reader's own (a malformed row, a quote left open, a NUL, a value that is
    not UTF-8 in a UTF-8 file), every one an error of its row: such a row's record is empty or
    holds values read as a guess, and is not to be used (:meth:`unread`).
    """

    format: str
    columns: tuple[str, ...]
    records: list[dict[str, str]]
    row: list[int]
    notes: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    #: columns of one name in the header: the reader of the records says which it reads
    #: (``geo.readers.tabular.check_same_names``)
    same_names: tuple[SameName, ...] = ()

    def unread(self) -> set[int]:
        """The rows an error of the reader rejects (their records are not the sender's)."""
        return {issue.row for issue in self.issues if issue.severity == "error"}


def check_record_names(
    table: RecordTable, filename: str, roles: Mapping[str, Sequence[str]]
) -> list[str]:
    """The notes of a table read by column names (``roles``: what a column is read for ->
    the names that say so, compared folded): its reader's, and those of the names its header
    gives several columns; :class:`~geo.errors.DuplicateColumn` (naming ``filename`` and the
    column) when a column it reads is one of them."""
    from geo.readers.tabular import check_same_names

    read = {
        column: role.replace("_", " ")
        for column in table.columns
        for role, names in roles.items()
        if fold(column) in names
    }
    try:
        return [*table.notes, *check_same_names(table.same_names, read)]
    except GeoError as error:
        error.args = (f"{filename}: {error.message}",)
        raise


def read_records(data: bytes, filename: str, *, options: ReadOptions) -> RecordTable:
    """Read a CSV or XLSX table (registries, route tables) with the survey readers' safety
    (size, zip checks, encoding detection, message scrubbing); other formats are refused
    (:class:`~geo.errors.UnsupportedFormat`)."""
    from geo.readers.tabular import read_csv_table, read_xlsx_table

    spec = find_format(filename)
    if spec.format not in ("csv", "xlsx"):
        raise UnsupportedFormat(f"{quoted(filename)}: tables come as CSV or XLSX")
    if len(data) > options.max_file_bytes:
        raise FileTooLarge(
            f"the file has {len(data):,} bytes (the limit is {options.max_file_bytes:,})"
        )
    with tempfile.TemporaryDirectory(prefix="borderlens-table-") as directory:
        workdir = Path(directory)
        try:
            upload = sniff(data, filename, options, workdir)
            if upload.content != spec.content:
                raise FormatMismatch(
                    f"{quoted(filename)} is named as {spec.format} "
                    f"({extension(filename)}) but holds "
                    f"{CONTENT_NAMES.get(upload.content, upload.content)}"
                )
            if spec.format == "csv":
                table = read_csv_table(upload.data, options)
            else:
                assert upload.archive is not None
                table = read_xlsx_table(upload.archive.repack(workdir / "upload.xlsx"), options)
        except GeoError as exc:
            exc.args = (_for_sender(exc.message, filename, workdir),)
            raise
        except Exception as exc:
            log.warning("the %s table reader failed on %r", spec.format, filename, exc_info=exc)
            detail = _scrub(str(exc), filename, workdir)[:300]
            raise ReaderFailure(
                f"{filename}: cannot be read as {spec.format} ({type(exc).__name__}: {detail})"
            ) from exc
    is_empty = empty_value_test(options.empty_values)
    records = [
        {
            column: cell.strip()
            for column, cell in zip(table.columns, record, strict=True)
            if not is_empty(cell)
        }
        for record in table.records
    ]
    return RecordTable(
        spec.format,
        table.columns,
        records,
        list(table.row),
        list(table.notes),
        list(table.issues),
        table.same_names,
    )
