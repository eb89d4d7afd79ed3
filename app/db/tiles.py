"""Mapbox Vector Tiles built by PostGIS: one SQL statement per tile (``ST_AsMVT``).

A collection describes itself as a :class:`TileLayer` (its table, the WHERE clauses of the
items query with the same filters, its geometry and the public properties a tile carries); a
tile is placed by a :class:`TileBox` (its lon/lat envelope, which the spatial index answers,
and its envelope in the tile matrix set's CRS, which ``ST_AsMVTGeom`` maps onto the tile's
4096 x 4096 grid).

Points (``TileLayer.points``) are read only inside the tile's own lon/lat box (edges
included, as ``bbox`` does on items), so each point lies in exactly one tile of a zoom level
(two on a shared edge) and the counts of a tile are those of the items of its box. When more
than ``max_features`` points match, they are aggregated in the same statement on a grid of
``grid`` x ``grid`` cells of the tile: a cell with one point gives that point with all its
properties, a cell with more gives one feature at the mean position of its points with
``point_count`` (how many), ``aggregated`` (true) and, when the layer has a ``breakdown``
column, ``kinds`` (``"mine:12,sales_point:3"``). The sum of ``point_count`` (1 for a plain
feature) is therefore the number of matching points of the tile, always.

Lines and polygons (``points=False``) are clipped to the tile plus a ``buffer`` (so strokes
join across tiles), first in lon/lat (``ST_ClipByBox2D``, which also keeps polar vertices out
of Web Mercator), then simplified to one tile pixel (``ST_Simplify``) in the tile matrix set's
CRS; features that vanish at that size are dropped.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    FromClause,
    Select,
    Table,
    case,
    cast,
    false,
    func,
    literal,
    null,
    select,
    true,
)
from sqlalchemy.orm import Session

from app.db.models import BoundarySource, DatasetState

state = typing.cast(Table, DatasetState.__table__)
sources = typing.cast(Table, BoundarySource.__table__)

#: Tile coordinates per side (the MVT default; what every client expects).
EXTENT = 4096
#: Buffer of line and polygon layers, in tile coordinates (1/64 of the tile).
BUFFER = 64


@dataclass(frozen=True)
class TileLayer:
    """One collection's features as a vector-tile layer.

    ``geom`` is the lon/lat (EPSG:4326) geometry column; ``where`` the clauses of the items
    query with the same filters; ``properties`` (name, SQL) the public attributes a feature
    carries (dates and arrays already as text: MVT values are strings, numbers, booleans).
    ``breakdown``: a text column and its values, which aggregated features count (``kinds``).
    """

    table: FromClause
    where: Sequence[ColumnElement[bool]]
    geom: ColumnElement[Any]
    properties: Sequence[tuple[str, ColumnElement[Any]]]
    points: bool = False
    breakdown: tuple[ColumnElement[Any], tuple[str, ...]] | None = None


@dataclass(frozen=True)
class TileBox:
    """Where a tile lies.

    ``lonlat``: (west, south, east, north) in degrees, CRS84. ``bounds``: the same envelope
    in the tile matrix set's CRS (``srid``: 3857 or 4326). ``zxy``: (zoom, column, row) when
    PostGIS can compute the envelope itself (``ST_TileEnvelope``, Web Mercator only).
    ``pixel``: one tile pixel in CRS units (the simplification tolerance).
    """

    lonlat: tuple[float, float, float, float]
    bounds: tuple[float, float, float, float]
    srid: int
    pixel: float
    zxy: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class TileShape:
    """How dense a tile may get: plain points up to ``max_features``, else aggregated on a
    ``grid`` x ``grid`` grid (``max_features=0``: always aggregated)."""

    max_features: int
    grid: int


@dataclass(frozen=True)
class BuiltTile:
    """The MVT bytes (empty: no feature), how many features they hold, how many points those
    stand for (the sum of ``point_count``), and whether points were aggregated."""

    data: bytes
    features: int
    points: int
    aggregated: bool


#: What an aggregated point feature carries (see the module docstring).
AGGREGATE_FIELDS: dict[str, dict[str, Any]] = {
    "point_count": {
        "type": "integer",
        "description": "How many points the aggregated feature stands for (absent: 1)",
    },
    "aggregated": {"type": "boolean", "description": "true on aggregated features"},
    "kinds": {
        "type": "string",
        "description": "Points per kind of an aggregated feature, e.g. mine:12,sales_point:3",
    },
}


def tile_fields(
    names: Sequence[str], schema: Mapping[str, dict[str, Any]], points: bool
) -> dict[str, dict[str, Any]]:
    """The JSON Schema of a tile feature's properties ``names`` from the collection's feature
    schema: arrays travel as comma-joined text, dates as text; point layers add the
    aggregate members."""
    fields: dict[str, dict[str, Any]] = {}
    for name in names:
        declared = schema.get(name, {})
        kind = declared.get("type")
        if name == "id":
            fields[name] = {"type": "string", "description": "Feature id (as in the items)"}
        elif kind in ("number", "integer", "boolean"):
            fields[name] = {"type": kind}
        elif kind == "array":
            fields[name] = {"type": "string", "description": "Comma-separated values"}
        else:
            fields[name] = {"type": "string"}
    return {**fields, **(AGGREGATE_FIELDS if points else {})}


def data_version(session: Session) -> tuple[int, str | None]:
    """(sites version, active boundary dataset id): what every tile's content depends on."""
    active = select(sources.c.id).where(sources.c.active).limit(1).scalar_subquery()
    row = session.execute(select(state.c.sites_version, active).where(state.c.id == 1)).one()
    return int(row[0]), row[1]


def _envelope(box: TileBox) -> ColumnElement[Any]:
    if box.zxy is not None:
        z, x, y = box.zxy
        return func.ST_TileEnvelope(z, x, y)
    return func.ST_MakeEnvelope(*(literal(float(v)) for v in box.bounds), box.srid)


def _lonlat_envelope(box: TileBox, margin: float = 0.0) -> ColumnElement[Any]:
    west, south, east, north = box.lonlat
    dx, dy = (east - west) * margin, (north - south) * margin
    values = (max(west - dx, -180.0), max(south - dy, -90.0), min(east + dx, 180.0))
    return func.ST_MakeEnvelope(*(literal(v) for v in values), literal(min(north + dy, 90.0)), 4326)


def _in_crs(geom: ColumnElement[Any], box: TileBox) -> ColumnElement[Any]:
    return geom if box.srid == 4326 else func.ST_Transform(geom, box.srid)


def build_tile(
    session: Session, name: str, layer: TileLayer, box: TileBox, shape: TileShape
) -> BuiltTile:
    """One tile of ``layer`` (MVT layer ``name``) in one statement."""
    statement = (
        _points_statement(name, layer, box, shape)
        if layer.points
        else _shapes_statement(name, layer, box)
    )
    row = session.execute(statement).one()
    data = bytes(row[0] or b"")
    return BuiltTile(data, int(row[1] or 0), int(row[2] or 0), bool(row[3]))


def _points_statement(name: str, layer: TileLayer, box: TileBox, shape: TileShape) -> Select[Any]:
    geom = func.ST_AsMVTGeom(_in_crs(layer.geom, box), _envelope(box), EXTENT, 0, False)
    columns = [geom.label("g"), *(expr.label(key) for key, expr in layer.properties)]
    if layer.breakdown is not None:
        columns.append(layer.breakdown[0].label("_breakdown"))
    pts = (
        select(*columns)
        .select_from(layer.table)
        .where(layer.geom.op("&&")(_lonlat_envelope(box)), *layer.where)
        .cte("pts")
        .prefix_with("MATERIALIZED")
    )
    matched = select(func.count()).select_from(pts).scalar_subquery()
    names = [key for key, _ in layer.properties]
    plain = select(
        pts.c.g.label("geom"),
        *(pts.c[key] for key in names),
        null().label("point_count"),
        null().label("aggregated"),
        null().label("kinds"),
    ).where(matched <= shape.max_features)
    count = func.count()
    single = count == 1
    cell = float(EXTENT) / shape.grid
    last = shape.grid - 1
    x, y = func.ST_X(pts.c.g), func.ST_Y(pts.c.g)
    kinds = null() if layer.breakdown is None else _kinds(pts.c._breakdown, layer.breakdown[1])
    cells = (
        select(
            func.ST_MakePoint(
                cast(func.round(func.avg(x)), Float), cast(func.round(func.avg(y)), Float)
            ).label("geom"),
            *(case((single, func.min(pts.c[key]))).label(key) for key in names),
            case((~single, count)).label("point_count"),
            case((~single, true())).label("aggregated"),
            case((~single, kinds)).label("kinds"),
        )
        .where(matched > shape.max_features)
        .group_by(func.least(func.floor(x / cell), last), func.least(func.floor(y / cell), last))
    )
    features = plain.union_all(cells).subquery("features")
    return select(
        func.ST_AsMVT(features.table_valued(), name, EXTENT, "geom"),
        func.count(),
        func.coalesce(func.sum(func.coalesce(features.c.point_count, 1)), 0),
        func.coalesce(func.bool_or(features.c.aggregated), false()),
    ).select_from(features)


def _kinds(column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[Any]:
    """``"mine:12,sales_point:3"``: how many points of each value the group stands for
    (values in vocabulary order, absent ones left out)."""
    parts = []
    for value in values:
        counted = func.count().filter(column == value)
        parts.append(case((counted > 0, func.concat(literal(f"{value}:"), counted))))
    return func.concat_ws(",", *parts)


def _shapes_statement(name: str, layer: TileLayer, box: TileBox) -> Select[Any]:
    margin = BUFFER / EXTENT
    clipped = func.ST_ClipByBox2D(layer.geom, _lonlat_envelope(box, margin))
    simplified = func.ST_Simplify(_in_crs(clipped, box), box.pixel, True)
    geom = func.ST_AsMVTGeom(simplified, _envelope(box), EXTENT, BUFFER, True)
    rows = (
        select(geom.label("geom"), *(expr.label(key) for key, expr in layer.properties))
        .select_from(layer.table)
        .where(layer.geom.op("&&")(_lonlat_envelope(box, margin)), *layer.where)
        .subquery("rows")
    )
    features = select(rows).where(rows.c.geom.is_not(None)).subquery("features")
    return select(
        func.ST_AsMVT(features.table_valued(), name, EXTENT, "geom"),
        func.count(),
        func.count(),
        false(),
    ).select_from(features)
