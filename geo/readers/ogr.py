"""GPX, KML, KMZ, GeoJSON, zipped Shapefile and GeoPackage, all through GDAL (pyogrio).

Each reader only chooses the layers; :func:`read_layers` does the rest the same way for all:
geometries decoded as one shapely array, point coordinates taken with ``get_x``/``get_y``,
transformed to EPSG:4326 in one pyproj call per layer, fields turned into plain dicts.

Only points are sites. A one-point MultiPoint counts as its point; a feature without geometry
is a row with missing coordinates (so the sender hears about it); paths and polygons keep their
feature number but are not rows, and the survey notes say how many were left out. GPX tracks and
routes are read as rows only with ``include_tracks``.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from xml.etree.ElementTree import ParseError

import numpy as np
import pyproj
import shapely
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from geo.coords import crs_label, parse_numbers, resolve_crs, to_wgs84
from geo.errors import CRSRequired, InvalidCRS, TooManyRows, UnreadableFile, check_columns, quoted
from geo.readers import columns as conventions
from geo.readers.archives import SafeZip
from geo.readers.gdal_io import field_rows, list_layers, read_layer, upload_path
from geo.readers.sniff import Upload
from geo.readers.tabular import (
    STRAY_BYTE,
    decode_undeclared,
    mixed_encoding_issue,
    mostly_utf8,
    stray_bytes_read,
)
from geo.survey import FIELD_ROLES, Issue, JSONScalar, ReadOptions, Survey
from geo.vocab import empty_value_test, fold, site_kinds

_POINT, _MULTIPOINT = 0, 4
_GEOMETRY_NAMES = {
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_GPX_SITE_LAYERS = ("waypoints",)
_GPX_TRACK_LAYERS = ("route_points", "track_points")


@dataclass
class _Rows:
    """Rows gathered layer by layer."""

    row: list[np.ndarray] = field(default_factory=list)
    lon: list[np.ndarray] = field(default_factory=list)
    lat: list[np.ndarray] = field(default_factory=list)
    accuracy: list[np.ndarray] = field(default_factory=list)
    properties: list[dict[str, JSONScalar]] = field(default_factory=list)
    columns: dict[str, None] = field(default_factory=dict)  # ordered set of field names
    crs_labels: dict[str, None] = field(default_factory=dict)
    encodings: dict[str, None] = field(default_factory=dict)  # ordered set of labels
    kind_hints: list[str | None] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    issues: list[Issue] = field(default_factory=list)
    features: int = 0


def read_layers(
    sources: Sequence[tuple[str, str]],
    options: ReadOptions,
    fmt: str,
    notes: list[str],
    *,
    zero_is_empty: Collection[str] = (),
    encodings: Mapping[str, TextEncoding] | None = None,
) -> Survey:
    """Read point rows from ``(gdal_path, layer)`` sources, numbering features across them.

    Empty points (``POINT EMPTY``, ``POINT Z EMPTY``, an empty MultiPoint) and features
    without geometry are rows without coordinates. For the paths in ``zero_is_empty`` a point
    at exactly 0, 0 is one too: GDAL's KML drivers turn an empty ``<Point/>`` into 0, 0.

    ``encodings`` gives, per path, the encoding decided for it (a Shapefile's DBF); other
    sources are read as GDAL's UTF-8, and text that is not valid UTF-8 is read again as
    Windows-1252 (then Latin-1), with a note.
    """
    rows = _Rows()
    for path, layer in sources:
        preset = (encodings or {}).get(path, TextEncoding())
        _read_one_layer(
            path, layer, options, rows, zero_is_empty=path in zero_is_empty, encoding=preset
        )
        rows.encodings[preset.label] = None
        if preset.note:
            notes.append(preset.note)
    if rows.skipped:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(rows.skipped.items()))
        notes.append(f"features that are not points were not read as sites: {kinds}")
    is_empty = empty_value_test(options.empty_values)
    for props in rows.properties:
        for key in [key for key, value in props.items() if is_empty(value)]:
            del props[key]  # "n/a" is no answer, as a null field is
    columns = tuple(rows.columns)
    accuracy_column = conventions.find_accuracy(columns)
    if options.column_map and "accuracy" in options.column_map:
        accuracy_column = options.column_map["accuracy"]

    def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.array([], dtype=dtype)

    return Survey(
        format=fmt,
        source_crs=", ".join(rows.crs_labels) or "EPSG:4326",
        columns=columns,
        row=joined(rows.row, np.int64),
        lon=joined(rows.lon, np.float64),
        lat=joined(rows.lat, np.float64),
        accuracy_m=_accuracy(rows.properties, accuracy_column),
        properties=rows.properties,
        coordinate_columns=("geometry",),
        accuracy_column=accuracy_column,
        field_columns=conventions.find_field_columns(columns, _field_map(options)),
        issues=tuple(sorted(rows.issues, key=lambda issue: issue.row)),
        notes=tuple(dict.fromkeys(notes)),
        encoding=", ".join(rows.encodings) or "UTF-8",
        kind_hints=tuple(rows.kind_hints) if any(rows.kind_hints) else (),
    )


@dataclass
class TextEncoding:
    """How to decode a source's text: pyogrio's ``encoding`` (None: GDAL's UTF-8), its label.

    ``note`` says why, for the sender, when the encoding was not declared by the file.
    ``declared``: the file declares a legacy code page (a ``.cpg``, a DBF's language driver id,
    an XML declaration), which GDAL decodes; text not valid in it is read again whole as
    Windows-1252. Text that is not declared, or declared UTF-8, is decoded value by value
    when it is not all UTF-8 (:func:`_read_decoded`).
    """

    codec: str | None = None
    label: str = "UTF-8"
    note: str | None = None
    # UTF-8 but for a few bytes: handed to GDAL as :data:`_MARKED` characters, or (codec
    # :data:`_BYTES`) read byte for byte, those bytes kept as STRAY_BYTE surrogates
    stray: bool = False
    declared: bool = False

    @property
    def marks(self) -> re.Pattern[str]:
        """What stands for a stray byte in the values read (:attr:`stray`)."""
        return STRAY_BYTE if self.codec == _BYTES else _MARKED


def _field_map(options: ReadOptions) -> dict[str, str]:
    # Coordinate roles mean nothing where the file has a geometry; the field roles still apply.
    return {k: v for k, v in (options.column_map or {}).items() if k in FIELD_ROLES}


def _read_one_layer(
    path: str,
    layer: str,
    options: ReadOptions,
    rows: _Rows,
    *,
    zero_is_empty: bool,
    encoding: TextEncoding,
) -> None:
    remaining = options.max_rows - rows.features
    meta, _fids, wkb, field_data = _read_decoded(path, layer, remaining + 1, encoding)
    names = [str(name) for name in meta["fields"]]
    if encoding.stray:
        names = [marked_read(name, encoding.marks) for name in names]
    check_columns(len(rows.columns | dict.fromkeys(names)), options.max_columns)
    n = len(wkb) if wkb is not None else (len(field_data[0]) if field_data else 0)
    if n > remaining:
        raise TooManyRows(f"the file has more than {options.max_rows:,} features (the limit)")
    if n == 0:
        return
    geometries = (
        shapely.from_wkb(wkb, on_invalid="ignore")
        if wkb is not None
        else np.full(n, None, dtype=object)
    )
    geometries = _without_empty_points(_single_points(geometries))
    type_ids = shapely.get_type_id(geometries)
    keep = (type_ids == _POINT) | (type_ids == -1)
    for type_id in type_ids[~keep]:
        rows.skipped[_GEOMETRY_NAMES.get(int(type_id), "other")] += 1
    crs = _layer_crs(meta.get("crs"), options, layer)
    # get_x of a missing geometry is NaN (get_x of an empty point would raise: none is left).
    x, y = shapely.get_x(geometries[keep]), shapely.get_y(geometries[keep])
    if zero_is_empty:
        zero = (x == 0) & (y == 0)
        x[zero], y[zero] = np.nan, np.nan
    lon, lat = to_wgs84(x, y, crs)
    rows.row.append(rows.features + 1 + np.flatnonzero(keep))
    rows.lon.append(lon)
    rows.lat.append(lat)
    layer_rows = field_rows(names, list(field_data), n)
    if encoding.stray:
        numbers = (rows.features + 1 + np.arange(n)).tolist()
        rows.issues.extend(marked_values(layer_rows, numbers, keep, encoding.marks))
    rows.properties.extend(props for props, kept in zip(layer_rows, keep, strict=True) if kept)
    rows.kind_hints.extend([kind_named(layer)] * int(np.count_nonzero(keep)))
    rows.columns.update(dict.fromkeys(names))
    rows.crs_labels[crs_label(crs)] = None
    rows.features += n


def kind_named(name: str) -> str | None:
    """The site kind a layer (KML folder) name gives, from :func:`geo.vocab.site_kinds`."""
    return site_kinds().lookup(name.replace("\u2019", "'").replace("_", " "))


def _read_decoded(
    path: str, layer: str, max_features: int, encoding: TextEncoding
) -> tuple[dict[str, Any], Any, Any, Any]:
    """``read_layer``; text that is not what it was expected to be is read again.

    Text meant to be UTF-8 (a GeoPackage's, a DBF's that declares no code page or UTF-8) that
    is not is read again byte for byte and decoded value by value, as a CSV is
    (:func:`~geo.readers.tabular.decode_undeclared`): UTF-8 but for a few values stays UTF-8,
    the bytes that are not kept in those values (``encoding.stray``, :attr:`TextEncoding.marks`)
    for the caller to reject their rows as ``mixed_encoding``; one such byte no longer turns
    every accented name of the layer into mojibake. Text that is not UTF-8 throughout, or not
    valid in the legacy code page it declares, is read again whole as Windows-1252, else
    Latin-1 (which decodes any byte). ``encoding`` is updated to what was finally used.
    """
    if encoding.codec == _BYTES:  # decided from the file's bytes (a DBF), or an earlier layer
        return _values_decoded(read_layer(path, layer, max_features=max_features, encoding=_BYTES))
    try:
        return read_layer(path, layer, max_features=max_features, encoding=encoding.codec)
    except UnicodeDecodeError:
        pass
    if not encoding.declared:
        result = _values_decoded(
            read_layer(path, layer, max_features=max_features, encoding=_BYTES)
        )
        if mostly_utf8("\n".join(_texts(result))):
            encoding.codec, encoding.label, encoding.stray = _BYTES, "UTF-8", True
            encoding.note = f"text fields are {_MIXED}"
            return result
        del result
    for codec, label in _FALLBACKS:
        try:
            result = read_layer(path, layer, max_features=max_features, encoding=codec)
        except UnicodeDecodeError:
            continue
        encoding.note = f"text fields are not {_expected(encoding)}; read as {label}"
        encoding.codec, encoding.label, encoding.stray = codec, label, False
        return result
    raise AssertionError("Latin-1 decodes every byte")  # pragma: no cover


_FALLBACKS = (("cp1252", "windows-1252"), ("latin-1", "ISO-8859-1"))
#: pyogrio's encoding for text read byte for byte: GDAL hands over (a DBF: recodes from) Latin-1,
#: one character per byte, which :func:`_values_decoded` turns back into the bytes.
_BYTES = "ISO-8859-1"
_MIXED = (
    "UTF-8 but for a few bytes: the features holding them are rejected as mixed_encoding, "
    "their values read as Windows-1252 in the report"
)


def _values_decoded(
    result: tuple[dict[str, Any], Any, Any, Any],
) -> tuple[dict[str, Any], Any, Any, Any]:
    """A layer read byte for byte (:data:`_BYTES`) with its field names and text values decoded
    one by one as UTF-8, the bytes that are not kept as STRAY_BYTE surrogates."""
    meta, fids, wkb, field_data = result
    fields = np.array([_utf8(str(name)) for name in meta["fields"]], dtype=object)
    arrays = []
    for array in field_data:
        if array.dtype == object:
            array = np.array(
                [_utf8(value) if isinstance(value, str) else value for value in array.tolist()],
                dtype=object,
            )
        arrays.append(array)
    return {**meta, "fields": fields}, fids, wkb, arrays


def _utf8(text: str) -> str:
    return text.encode("latin-1").decode("utf-8", "surrogateescape")


def _texts(result: tuple[dict[str, Any], Any, Any, Any]) -> Iterator[str]:
    meta, _fids, _wkb, field_data = result
    yield from meta["fields"]
    for array in field_data:
        if array.dtype == object:
            yield from (value for value in array.tolist() if isinstance(value, str))


def _expected(encoding: TextEncoding) -> str:
    return "valid UTF-8" if encoding.codec in (None, "UTF-8") else f"valid {encoding.label}"


def _without_empty_points(geometries: np.ndarray) -> np.ndarray:
    """Empty points and multipoints (a form saved before the GPS had a fix) become None."""
    type_ids = shapely.get_type_id(geometries)
    empty = shapely.is_empty(geometries) & ((type_ids == _POINT) | (type_ids == _MULTIPOINT))
    if empty.any():
        geometries = geometries.copy()
        geometries[empty] = None
    return geometries


def _single_points(geometries: np.ndarray) -> np.ndarray:
    """One-point MultiPoints (some KML and Shapefile writers) become plain points."""
    single = (shapely.get_type_id(geometries) == _MULTIPOINT) & (
        shapely.get_num_geometries(geometries) == 1
    )
    if single.any():
        geometries = geometries.copy()
        geometries[single] = shapely.get_geometry(geometries[single], 0)
    return geometries


def _layer_crs(declared: str | None, options: ReadOptions, layer: str) -> pyproj.CRS:
    given = resolve_crs(options.crs) if options.crs else None
    if declared is None:
        if given is None:
            raise CRSRequired(
                f"layer {quoted(layer)} has no CRS (a Shapefile without its .prj?): send the .prj "
                "or give the CRS (an EPSG code such as 32634, or 'UTM 34N')"
            )
        return given
    try:
        file_crs = pyproj.CRS.from_user_input(declared)
    except pyproj.exceptions.CRSError as exc:
        raise InvalidCRS(f"layer {quoted(layer)} declares a CRS pyproj cannot use: {exc}") from exc
    if given is not None and not given.equals(file_crs, ignore_axis_order=True):
        raise InvalidCRS(
            f"the file declares {crs_label(file_crs)} for layer {quoted(layer)} but the "
            "upload says "
            f"{quoted(options.crs)}; remove one of them"
        )
    return file_crs


def _accuracy(properties: list[dict[str, JSONScalar]], column: str | None) -> np.ndarray:
    if column is None:
        return np.full(len(properties), np.nan)
    return parse_numbers([props.get(column) for props in properties]).values


def read_gpx(upload: Upload, options: ReadOptions) -> Survey:
    """GPX 1.0/1.1: waypoints are sites; route and track points only with ``include_tracks``."""
    data, encoding = as_utf8(upload.data, xml=True)
    path = upload_path(upload.workdir, data, ".gpx")
    present = {name for name, _ in list_layers(path)}
    wanted = _GPX_SITE_LAYERS + (_GPX_TRACK_LAYERS if options.include_tracks else ())
    notes: list[str] = []
    if not options.include_tracks and _has_features(str(path), _GPX_TRACK_LAYERS, present):
        notes.append("the file has tracks or routes; their points are not read as sites")
    sources = [(str(path), name) for name in wanted if name in present]
    survey = read_layers(sources, options, "gpx", notes, encodings={str(path): encoding})
    return _gpx_waypoints_as_written(survey, data)


_GPX_WPT = re.compile(rb"<(?:[\w.-]+:)?wpt\b([^>]*)>")
_GPX_ATTRIBUTE = re.compile(rb"""\b(lat|lon)\s*=\s*(["'])(.*?)\2""", re.DOTALL)
_DECIMAL = re.compile(rb"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")


def _gpx_waypoints_as_written(survey: Survey, data: bytes) -> Survey:
    """Waypoints with the positions their ``lat``/``lon`` attributes really hold.

    GDAL drops a ``<wpt>`` whose ``lat`` or ``lon`` is missing or empty (the row would vanish
    unreported) and reads ``lat="abc"`` or ``lat="4,1"`` as 0 or 4 (C ``atof``). Here the
    dropped waypoints come back as rows without coordinates, in their place, and misread ones
    lose their position with an ``unparseable_coordinate`` issue. When the waypoints counted in
    the text do not match what GDAL read (a ``<wpt`` inside a comment), nothing is changed.
    """
    written: list[tuple[bytes, bytes]] = []
    for match in _GPX_WPT.finditer(data):
        attributes = {m[1]: m[3] for m in _GPX_ATTRIBUTE.finditer(match[1])}
        written.append((attributes.get(b"lat", b""), attributes.get(b"lon", b"")))
    read = [i for i, (lat, lon) in enumerate(written) if lat and lon]
    misread = {
        rank
        for rank, i in enumerate(read)
        if not (_DECIMAL.match(written[i][0]) and _DECIMAL.match(written[i][1]))
    }
    waypoint_rows = int(np.count_nonzero(survey.row <= len(read)))
    if (len(read) == len(written) and not misread) or waypoint_rows != len(read):
        return survey
    return _renumber_waypoints(survey, written, read, misread)


def _renumber_waypoints(
    survey: Survey,
    written: list[tuple[bytes, bytes]],
    read: list[int],
    misread: set[int],
) -> Survey:
    """``survey`` with the waypoints GDAL dropped put back (no position) and misread ones blanked.

    ``written`` holds each ``<wpt>``'s (lat, lon) text in file order, ``read`` the indices of
    those GDAL read (its waypoint rows 1..len(read), in order), ``misread`` the ranks among
    those whose text is no decimal number.
    """
    number = survey.row.copy()
    lon, lat = survey.lon.copy(), survey.lat.copy()
    waypoint = number <= len(read)
    number[waypoint] = np.asarray(read, dtype=np.int64)[number[waypoint] - 1] + 1
    number[~waypoint] += len(written) - len(read)  # track points after the waypoints
    renumbered = dict(zip(survey.row.tolist(), number.tolist(), strict=True))
    issues = [replace(i, row=renumbered.get(i.row, i.row)) for i in survey.issues]
    waypoint_index = np.flatnonzero(waypoint)
    for rank in sorted(misread):
        index = int(waypoint_index[rank])
        lon[index] = lat[index] = np.nan
        if not all(part.strip() for part in written[read[rank]]):
            continue  # blank: no position, which validation reports as missing
        as_written = b", ".join(written[read[rank]]).decode("utf-8", "replace")
        issues.append(
            Issue(
                int(number[index]),
                "geometry",
                "unparseable_coordinate",
                f"waypoint lat, lon {quoted(as_written)} is not a pair of decimal degrees",
            )
        )
    kept = set(read)
    dropped = np.asarray([i + 1 for i in range(len(written)) if i not in kept], dtype=np.int64)
    blank = np.full(len(dropped), np.nan)
    rows = np.concatenate([number, dropped])
    order = np.argsort(rows, kind="stable")
    properties = [*survey.properties, *({} for _ in dropped)]
    return replace(
        survey,
        row=rows[order],
        lon=np.concatenate([lon, blank])[order],
        lat=np.concatenate([lat, blank])[order],
        accuracy_m=np.concatenate([survey.accuracy_m, blank])[order],
        properties=[properties[k] for k in order.tolist()],
        issues=tuple(sorted(issues, key=lambda issue: issue.row)),
    )


def _has_features(path: str, layers: Sequence[str], present: set[str]) -> bool:
    for layer in layers:
        if layer in present:
            _meta, _fids, wkb, _fields = read_layer(path, layer, max_features=1, columns=[])
            if wkb is not None and len(wkb):
                return True
    return False


def _read_all_layers(upload: Upload, options: ReadOptions, suffix: str, fmt: str) -> Survey:
    notes: list[str] = []
    path = upload_path(upload.workdir, upload.data, suffix)
    return read_layers(_point_layers([str(path)], notes), options, fmt, notes)


_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*\bencoding\s*=\s*[\"']([A-Za-z0-9._-]+)")


def as_utf8(data: bytes, *, xml: bool) -> tuple[bytes, TextEncoding]:
    """Text for GDAL, as UTF-8 when the file declares no encoding, and how it was read.

    UTF-8 when the bytes are UTF-8; an XML encoding declaration or a UTF-16 byte-order mark is
    left to GDAL; otherwise the text is Windows-1252 (else Latin-1), re-encoded as UTF-8.
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return data, TextEncoding()
    declared = _XML_ENCODING.match(data[:1024]) if xml else None
    if declared:
        return data, TextEncoding(None, declared[1].decode("ascii"), declared=True)
    text, label, stray = decode_undeclared(data)
    if label == "UTF-16":
        return data, TextEncoding(None, label, declared=True)
    if stray and not _MARKED.search(text):
        # UTF-8 but for a few bytes (see decode_undeclared): GDAL parses only valid UTF-8,
        # so they go to it marked, and the values holding them are found again
        marked = STRAY_BYTE.sub(lambda m: chr(ord(m[0]) - 0xDC80 + 0xF780), text)
        return marked.encode("utf-8"), TextEncoding(None, label, stray=True)
    if stray:  # the marks would be taken for the file's own characters: read, with a note
        note = "a few bytes are not UTF-8 (the rest of the file is); read as Windows-1252"
        return stray_bytes_read(text).encode("utf-8"), TextEncoding(None, label, note)
    note = f"the file declares no encoding and is not UTF-8; read as {label}"
    return text.encode("utf-8"), TextEncoding(None, label, note)


#: The private-use characters U+F780 to U+F7FF stand for a text file's stray bytes 0x80 to 0xFF
#: (:data:`~geo.readers.tabular.STRAY_BYTE`) in what GDAL reads (its text is valid UTF-8).
_MARKED = re.compile("[\uf780-\uf7ff]")


def marked_read(text: str, marks: re.Pattern[str] = _MARKED) -> str:
    """``text`` with its stray bytes (``marks``: :attr:`TextEncoding.marks`) read as
    Windows-1252, else Latin-1."""
    if marks is _MARKED:
        text = _MARKED.sub(lambda m: chr(ord(m[0]) - 0xF780 + 0xDC80), text)
    return stray_bytes_read(text)


def marked_values(
    layer_rows: Sequence[dict[str, JSONScalar]],
    numbers: Sequence[int],
    keep: Sequence[bool],
    marks: re.Pattern[str] = _MARKED,
) -> list[Issue]:
    """A ``mixed_encoding`` issue for each value holding stray bytes (``marks``:
    :attr:`TextEncoding.marks`) in a kept feature, its value read as Windows-1252 in place
    (every feature's)."""
    issues: list[Issue] = []
    for props, number, kept in zip(layer_rows, numbers, keep, strict=True):
        for key, value in props.items():
            if isinstance(value, str) and marks.search(value):
                props[key] = read = marked_read(value, marks)
                if kept:
                    issues.append(mixed_encoding_issue(f"feature {number}", int(number), key, read))
    return issues


def _point_layers(paths: Sequence[str], notes: list[str]) -> list[tuple[str, str]]:
    """(path, layer) of every layer that may hold points; the others are noted."""
    sources = []
    for path in paths:
        for name, geometry_type in list_layers(path):
            if geometry_type is None or not _may_hold_points(geometry_type):
                notes.append(
                    f"layer {quoted(name)} ({geometry_type or 'no geometry'}) holds no points"
                )
                continue
            sources.append((path, name))
    return sources


def _may_hold_points(geometry_type: str) -> bool:
    kind = geometry_type.casefold()
    return "point" in kind or kind in ("unknown", "geometry", "geometrycollection")


def read_kml(upload: Upload, options: ReadOptions) -> Survey:
    """KML: every folder (layer) is read; Placemarks with a Point are sites."""
    notes: list[str] = []
    data, encoding = as_utf8(upload.data, xml=True)
    path = str(upload_path(upload.workdir, data, ".kml"))
    empty = {path} if _kml_zero_means_empty(data) else set()
    survey = read_layers(
        _point_layers([path], notes),
        options,
        "kml",
        notes,
        zero_is_empty=empty,
        encodings={path: encoding},
    )
    return _with_style_kinds(survey, [data])


_KML_EMPTY_POINT = re.compile(
    rb"<(?:\w+:)?Point\b[^>]*/>|<(?:\w+:)?Point\b[^>]*>\s*</(?:\w+:)?Point>"
    rb"|<(?:\w+:)?coordinates\b[^>]*/>|<(?:\w+:)?coordinates\b[^>]*>\s*</(?:\w+:)?coordinates>"
)
_KML_ZERO_POINT = re.compile(
    rb"<(?:\w+:)?coordinates\b[^>]*>\s*[+-]?0*\.?0*\s*,\s*[+-]?0*\.?0*\s*(?:,[^<]*)?"
    rb"</(?:\w+:)?coordinates>"
)


def _kml_zero_means_empty(data: bytes) -> bool:
    """True when every 0, 0 GDAL reads from this KML comes from an empty ``<Point>``.

    GDAL gives an empty ``<Point/>`` or ``<coordinates></coordinates>`` the position 0, 0. A
    file that holds such empty points and no written ``0,0`` can only mean "no fix" by it.
    """
    return bool(_KML_EMPTY_POINT.search(data)) and not _KML_ZERO_POINT.search(data)


def read_kmz(upload: Upload, options: ReadOptions) -> Survey:
    """KMZ (Google Earth, SW Maps): every ``.kml`` in the archive, ``doc.kml`` first.

    GDAL's LIBKML opening the ``.kmz`` itself drops ExtendedData declared by a ``<Schema>``
    (GDAL 3.12), so each checked, extracted member is opened as a ``.kml`` file. Reading every
    member also covers KMZs whose ``doc.kml`` only links to ``layers/*.kml`` (what LIBKML
    writes).
    """
    assert upload.archive is not None
    members = sorted(
        upload.archive.with_suffix(".kml"), key=lambda name: (name.casefold() != "doc.kml", name)
    )
    notes: list[str] = []
    encodings: dict[str, TextEncoding] = {}
    empty: set[str] = set()
    for member in members:
        path = upload.archive.path(member)
        data, encodings[str(path)] = as_utf8(path.read_bytes(), xml=True)
        path.write_bytes(data)
        if _kml_zero_means_empty(data):
            empty.add(str(path))
    survey = read_layers(
        _point_layers(list(encodings), notes),
        options,
        "kmz",
        notes,
        zero_is_empty=empty,
        encodings=encodings,
    )
    return _with_style_kinds(survey, (Path(path).read_bytes() for path in encodings))


def _with_style_kinds(survey: Survey, documents: Iterable[bytes]) -> Survey:
    """Rows whose folder names no kind take the kind their Placemark's style is named for.

    GDAL does not hand over a Placemark's ``styleUrl``, so the KML is read once more for
    (name, position, style) and rows are matched on name and position; a match that is not
    unique, or styles that name both kinds, give nothing.
    """
    hints = list(survey.kind_hints or (None,) * len(survey))
    if all(hints):
        return survey
    styled: dict[tuple[str, float, float], set[str]] = {}
    for data in documents:
        if b"styleUrl" not in data:
            continue
        for name, style, lon, lat in _placemark_styles(data):
            kind = kind_in_words(style)
            if kind is not None:
                styled.setdefault((name, round(lon, 6), round(lat, 6)), set()).add(kind)
    if not styled:
        return survey
    for i, props in enumerate(survey.properties):
        if hints[i] is None and np.isfinite(survey.lon[i]) and np.isfinite(survey.lat[i]):
            key = (str(props.get("Name", "")), round(float(survey.lon[i]), 6),
                   round(float(survey.lat[i]), 6))  # fmt: skip
            kinds = styled.get(key, set())
            if len(kinds) == 1:
                hints[i] = next(iter(kinds))
    return replace(survey, kind_hints=tuple(hints) if any(hints) else ())


def _placemark_styles(data: bytes) -> list[tuple[str, str, float, float]]:
    """(name, style id, lon, lat) of each point Placemark with a ``styleUrl``."""
    found: list[tuple[str, str, float, float]] = []
    try:
        for _event, element in iterparse(io.BytesIO(data), events=("end",), forbid_dtd=True):
            if _local(element.tag) != "Placemark":
                continue
            parts = {_local(child.tag): (child.text or "").strip() for child in element.iter()}
            element.clear()
            style = parts.get("styleUrl", "").rsplit("#", 1)[-1]
            numbers = parts.get("coordinates", "").split(",")
            try:
                lon, lat = float(numbers[0]), float(numbers[1])
            except (ValueError, IndexError):
                continue
            if style:
                found.append((parts.get("name", ""), style, lon, lat))
    except (ParseError, DefusedXmlException):
        return found  # GDAL read what it could; the styles are a hint, not a requirement
    return found


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def kind_in_words(text: str) -> str | None:
    """The one site kind named by a folder or style name (``icon-comptoir-rouge``), or None.

    The whole name is looked up first, then its runs of up to three words; a name that names
    both kinds, or none, gives None.
    """
    whole = kind_named(text)
    if whole is not None:
        return whole
    words = re.split(r"[^a-z0-9']+", fold(text.replace("\u2019", "'")))
    words = [word for word in words if word]
    kinds = {
        kind
        for size in (3, 2, 1)
        for start in range(len(words) - size + 1)
        if (kind := site_kinds().lookup(" ".join(words[start : start + size]))) is not None
    }
    return kinds.pop() if len(kinds) == 1 else None


def read_geojson(upload: Upload, options: ReadOptions) -> Survey:
    """GeoJSON (RFC 7946 lon/lat; a legacy ``crs`` member is honoured by GDAL)."""
    notes: list[str] = []
    data, encoding = as_utf8(upload.data, xml=False)
    path = str(upload_path(upload.workdir, data, ".geojson"))
    sources = _point_layers([path], notes)
    return read_layers(sources, options, "geojson", notes, encodings={path: encoding})


def read_gpkg(upload: Upload, options: ReadOptions) -> Survey:
    """GeoPackage (QField, SW Maps): every point layer; attribute tables are noted and skipped."""
    return _read_all_layers(upload, options, ".gpkg", "gpkg")


def read_shapefile_zip(upload: Upload, options: ReadOptions) -> Survey:
    """A zipped Shapefile: each ``.shp`` with its ``.shx`` and ``.dbf``; CRS from the ``.prj``."""
    assert upload.archive is not None
    members = {name.casefold(): name for name in upload.archive.names}
    shapefiles = upload.archive.with_suffix(".shp")
    for shp in shapefiles:
        stem = shp[:-4]
        missing = [ext for ext in (".shx", ".dbf") if (stem + ext).casefold() not in members]
        if missing:
            raise UnreadableFile(f"the zip holds {quoted(shp)} without its {' and '.join(missing)}")
    notes: list[str] = []
    paths = {str(upload.archive.path(shp)): shp for shp in shapefiles}
    encodings = {
        path: _dbf_encoding(upload.archive, shp[:-4], members) for path, shp in paths.items()
    }
    return read_layers(
        _point_layers(list(paths), notes), options, "shapefile", notes, encodings=encodings
    )


_UTF8_NAMES = {"utf-8", "utf8", "65001"}


def _dbf_encoding(archive: SafeZip, stem: str, members: Mapping[str, str]) -> TextEncoding:
    """How to decode one Shapefile's DBF text (issue: accents wrong without a ``.cpg``).

    A ``.cpg`` is honoured, unless it says UTF-8 and the text is not. A DBF header's code page
    byte (LDID) is honoured by GDAL. Without either, the text is UTF-8 when it decodes as
    UTF-8 (QGIS writes UTF-8 and the ``.cpg`` gets left out of the zip), else Windows-1252
    (GDAL's own default, ISO-8859-1, garbles the ``'`` and ``œ`` of French Windows).

    UTF-8 but for a few bytes (as a CSV: at least as many characters written in UTF-8 as bytes
    that are not) is UTF-8, with or without a ``.cpg`` saying so: the DBF is read byte for byte
    and its values decoded one by one (:func:`_read_decoded`), those holding the bytes rejected
    as ``mixed_encoding``, rather than every name of the file read as Windows-1252.
    """
    dbf = archive.read(members[(stem + ".dbf").casefold()])
    cpg_name = members.get((stem + ".cpg").casefold())
    declared = (
        archive.read(cpg_name, limit=64).decode("ascii", "replace").strip() if cpg_name else ""
    )
    if declared.isdigit():
        declared = f"windows-{declared}" if declared.startswith("125") else f"cp{declared}"
    utf8 = _dbf_text_utf8(dbf)
    if declared:
        if declared.casefold() not in _UTF8_NAMES:
            return TextEncoding(None, declared, declared=True)
        if utf8 == "stray":
            return TextEncoding(_BYTES, "UTF-8", f"the .cpg says {declared}; the text is {_MIXED}",
                                stray=True)  # fmt: skip
        if utf8 == "no":
            note = f"the .cpg says {declared} but the text is not; read as Windows-1252"
            return TextEncoding("cp1252", "windows-1252", note)
        return TextEncoding(None, declared)
    if len(dbf) > 29 and dbf[29] != 0:
        return TextEncoding(None, f"DBF code page {dbf[29]:#04x}", declared=True)
    if utf8 == "yes":
        return TextEncoding("UTF-8", "UTF-8", "no .cpg with the Shapefile; its text is UTF-8")
    if utf8 == "stray":
        note = f"no .cpg with the Shapefile; its text is {_MIXED}"
        return TextEncoding(_BYTES, "UTF-8", note, stray=True)
    return TextEncoding(
        "cp1252",
        "windows-1252",
        "no .cpg with the Shapefile and its text is not UTF-8; read as Windows-1252",
    )


def _dbf_text_utf8(dbf: bytes) -> Literal["yes", "stray", "no"]:
    """Whether the DBF's field names and records (its header is binary) decode as UTF-8: yes,
    but for a few bytes (:func:`~geo.readers.tabular.mostly_utf8`), or no."""
    if len(dbf) < 32:
        return "yes"
    header_length = int.from_bytes(dbf[8:10], "little")
    descriptors = dbf[32 : max(32, header_length - 1)]
    names = b"".join(
        descriptors[k : k + 11].split(b"\0", 1)[0] for k in range(0, len(descriptors), 32)
    )
    text = names + b"\n" + dbf[header_length:]
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return "stray" if mostly_utf8(text.decode("utf-8", "surrogateescape")) else "no"
    return "yes"
