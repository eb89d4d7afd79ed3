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

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyproj
import shapely

from geo.coords import crs_label, parse_numbers, resolve_crs, to_wgs84
from geo.errors import CRSRequired, InvalidCRS, TooManyRows, UnreadableFile, check_columns
from geo.readers import columns as conventions
from geo.readers.gdal_io import field_rows, list_layers, read_layer, upload_path, zip_member_path
from geo.readers.sniff import Upload
from geo.survey import FIELD_ROLES, JSONScalar, ReadOptions, Survey

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
    skipped: Counter[str] = field(default_factory=Counter)
    features: int = 0


def read_layers(
    sources: Sequence[tuple[str, str]], options: ReadOptions, fmt: str, notes: list[str]
) -> Survey:
    """Read point rows from ``(gdal_path, layer)`` sources, numbering features across them."""
    rows = _Rows()
    for path, layer in sources:
        _read_one_layer(path, layer, options, rows)
    if rows.skipped:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(rows.skipped.items()))
        notes.append(f"features that are not points were not read as sites: {kinds}")
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
        notes=tuple(notes),
    )


def _field_map(options: ReadOptions) -> dict[str, str]:
    # Coordinate roles mean nothing where the file has a geometry; the field roles still apply.
    return {k: v for k, v in (options.column_map or {}).items() if k in FIELD_ROLES}


def _read_one_layer(path: str, layer: str, options: ReadOptions, rows: _Rows) -> None:
    remaining = options.max_rows - rows.features
    meta, _fids, wkb, field_data = read_layer(path, layer, max_features=remaining + 1)
    names = [str(name) for name in meta["fields"]]
    check_columns(len(rows.columns | dict.fromkeys(names)), options.max_columns)
    n = len(wkb) if wkb is not None else (len(field_data[0]) if field_data else 0)
    if n > remaining:
        raise TooManyRows(f"the file has more than {options.max_rows:,} features (the limit)")
    if n == 0:
        return
    geometries = shapely.from_wkb(wkb) if wkb is not None else np.full(n, None, dtype=object)
    geometries = _single_points(geometries)
    type_ids = shapely.get_type_id(geometries)
    keep = (type_ids == _POINT) | (type_ids == -1)
    for type_id in type_ids[~keep]:
        rows.skipped[_GEOMETRY_NAMES.get(int(type_id), "other")] += 1
    crs = _layer_crs(meta.get("crs"), options, layer)
    lon, lat = to_wgs84(shapely.get_x(geometries[keep]), shapely.get_y(geometries[keep]), crs)
    rows.row.append(rows.features + 1 + np.flatnonzero(keep))
    rows.lon.append(lon)
    rows.lat.append(lat)
    layer_rows = field_rows(names, list(field_data), n)
    rows.properties.extend(props for props, kept in zip(layer_rows, keep, strict=True) if kept)
    rows.columns.update(dict.fromkeys(names))
    rows.crs_labels[crs_label(crs)] = None
    rows.features += n


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
                f"layer {layer!r} has no CRS (a Shapefile without its .prj?): send the .prj "
                "or give the CRS (an EPSG code such as 32634, or 'UTM 34N')"
            )
        return given
    try:
        file_crs = pyproj.CRS.from_user_input(declared)
    except pyproj.exceptions.CRSError as exc:
        raise InvalidCRS(f"layer {layer!r} declares a CRS pyproj cannot use: {exc}") from exc
    if given is not None and not given.equals(file_crs, ignore_axis_order=True):
        raise InvalidCRS(
            f"the file declares {crs_label(file_crs)} for layer {layer!r} but the upload says "
            f"{options.crs!r}; remove one of them"
        )
    return file_crs


def _accuracy(properties: list[dict[str, JSONScalar]], column: str | None) -> np.ndarray:
    if column is None:
        return np.full(len(properties), np.nan)
    return parse_numbers([props.get(column) for props in properties]).values


def read_gpx(upload: Upload, options: ReadOptions) -> Survey:
    """GPX 1.0/1.1: waypoints are sites; route and track points only with ``include_tracks``."""
    with upload_path(upload.data, ".gpx") as path:
        present = {name for name, _ in list_layers(path)}
        wanted = _GPX_SITE_LAYERS + (_GPX_TRACK_LAYERS if options.include_tracks else ())
        notes: list[str] = []
        if not options.include_tracks and _has_features(str(path), _GPX_TRACK_LAYERS, present):
            notes.append("the file has tracks or routes; their points are not read as sites")
        sources = [(str(path), name) for name in wanted if name in present]
        return read_layers(sources, options, "gpx", notes)


def _has_features(path: str, layers: Sequence[str], present: set[str]) -> bool:
    for layer in layers:
        if layer in present:
            _meta, _fids, wkb, _fields = read_layer(path, layer, max_features=1, columns=[])
            if wkb is not None and len(wkb):
                return True
    return False


def _read_all_layers(upload: Upload, options: ReadOptions, suffix: str, fmt: str) -> Survey:
    notes: list[str] = []
    with upload_path(upload.data, suffix) as path:
        return read_layers(_point_layers([str(path)], notes), options, fmt, notes)


def _point_layers(paths: Sequence[str], notes: list[str]) -> list[tuple[str, str]]:
    """(path, layer) of every layer that may hold points; the others are noted."""
    sources = []
    for path in paths:
        for name, geometry_type in list_layers(path):
            if geometry_type is None or not _may_hold_points(geometry_type):
                notes.append(f"layer {name!r} ({geometry_type or 'no geometry'}) holds no points")
                continue
            sources.append((path, name))
    return sources


def _may_hold_points(geometry_type: str) -> bool:
    kind = geometry_type.casefold()
    return "point" in kind or kind in ("unknown", "geometry", "geometrycollection")


def read_kml(upload: Upload, options: ReadOptions) -> Survey:
    """KML: every folder (layer) is read; Placemarks with a Point are sites."""
    return _read_all_layers(upload, options, ".kml", "kml")


def read_kmz(upload: Upload, options: ReadOptions) -> Survey:
    """KMZ (Google Earth, SW Maps): every ``.kml`` in the archive, ``doc.kml`` first.

    GDAL's LIBKML opening the ``.kmz`` itself drops ExtendedData declared by a ``<Schema>``
    (GDAL 3.12), so each member is opened as ``/vsizip/.../member.kml``. Reading every member
    also covers KMZs whose ``doc.kml`` only links to ``layers/*.kml`` (what LIBKML writes).
    """
    assert upload.archive is not None
    members = sorted(
        upload.archive.with_suffix(".kml"), key=lambda name: (name.casefold() != "doc.kml", name)
    )
    notes: list[str] = []
    with upload_path(upload.data, ".kmz") as path:
        paths = [zip_member_path(path, member) for member in members]
        return read_layers(_point_layers(paths, notes), options, "kmz", notes)


def read_geojson(upload: Upload, options: ReadOptions) -> Survey:
    """GeoJSON (RFC 7946 lon/lat; a legacy ``crs`` member is honoured by GDAL)."""
    return _read_all_layers(upload, options, ".geojson", "geojson")


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
            raise UnreadableFile(f"the zip holds {shp!r} without its {' and '.join(missing)}")
    notes: list[str] = []
    with upload_path(upload.data, ".zip") as path:
        paths = [zip_member_path(path, shp) for shp in shapefiles]
        return read_layers(_point_layers(paths, notes), options, "shapefile", notes)
