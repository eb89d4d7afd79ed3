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

import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    Table,
    bindparam,
    case,
    false,
    func,
    literal,
    null,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.db.models import BoundarySource, DatasetState
from app.db.regional_models import Route, ZoneSet

state = typing.cast(Table, DatasetState.__table__)
sources = typing.cast(Table, BoundarySource.__table__)
zone_sets = typing.cast(Table, ZoneSet.__table__)
routes = typing.cast(Table, Route.__table__)

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


#: The data version a tile is read at: (sites version, active boundary dataset id, zones and
#: routes version).
DataVersion = tuple[int, str | None, str]


@dataclass(frozen=True)
class BuiltTile:
    """The MVT bytes (empty: no feature), how many features they hold, how many points those
    stand for (the sum of ``point_count``), whether points were aggregated, and the data
    version they were read at (read by the same statement: see :func:`data_version`)."""

    data: bytes
    features: int
    points: int
    aggregated: bool
    version: DataVersion


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


def _regional_version() -> ColumnElement[Any]:
    """What zone and route tiles depend on beyond the sites: today's date (a zone's
    ``active``), the zone sets (each upload inserts one or bumps its ``version``) and the
    routes (only ever inserted, or deleted with their sites, which bumps the sites version).
    Counts and sums, not the latest id or time: concurrent uploads commit out of order."""
    sets = select(
        func.concat(func.count(), ":", func.coalesce(func.sum(zone_sets.c.version), 0))
    ).scalar_subquery()
    route_count = select(func.count()).select_from(routes).scalar_subquery()
    return func.concat_ws("|", func.current_date(), sets, route_count)


def _version_columns() -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    sites_version = select(state.c.sites_version).where(state.c.id == 1).scalar_subquery()
    active = select(sources.c.id).where(sources.c.active).limit(1).scalar_subquery()
    return sites_version, active, _regional_version()


def data_version(session: Session) -> DataVersion:
    """What every tile's content depends on (see :data:`DataVersion`)."""
    row = session.execute(select(*_version_columns())).one()
    return int(row[0]), row[1], str(row[2])


@dataclass(frozen=True)
class TileStatement:
    """A tile statement compiled once for a layer and a kind of tile: driver SQL with named
    parameters, the values the layer's filters bind, and whether it reads points."""

    sql: str
    params: Mapping[str, Any]
    points: bool


def compile_statement(
    name: str, layer: TileLayer, web_mercator: bool, shape: TileShape
) -> TileStatement:
    """The statement of every tile of ``layer`` (MVT layer ``name``) in one tile matrix set
    (Web Mercator or CRS84) under ``shape``; the tile's place is bound at execution
    (:func:`build_tile`). Building and compiling the SQL costs more than running it for a
    sparse tile, so callers keep these per layer."""
    statement = (
        _points_statement(name, layer, web_mercator, shape)
        if layer.points
        else _shapes_statement(name, layer, web_mercator)
    )
    compiled = statement.compile(
        dialect=postgresql.psycopg.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"render_postcompile": True},
    )
    params = {k: v for k, v in compiled.params.items() if k not in _BOX_PARAMS}
    return TileStatement(str(compiled), params, layer.points)


def build_tile(session: Session, statement: TileStatement, box: TileBox) -> BuiltTile:
    """One tile: ``statement`` run for ``box`` (one SQL statement)."""
    values = {**statement.params, **_box_values(box)}
    # Binary results: the tile comes back as its bytes, not as hex text that PostgreSQL
    # encodes and the driver decodes again (about a millisecond of a 200 kB tile).
    driver = session.connection().connection.driver_connection
    assert driver is not None  # a checked-out connection always has its driver's
    with driver.cursor(binary=True) as cursor:
        row = cursor.execute(statement.sql, values).fetchone()
    assert row is not None  # an aggregate without GROUP BY: always one row
    data = bytes(row[0] or b"")
    version = (int(row[4]), row[5], str(row[6]))
    return BuiltTile(data, int(row[1] or 0), int(row[2] or 0), bool(row[3]), version)


_BOX_PARAMS = (
    "west",
    "south",
    "east",
    "north",
    "m_west",
    "m_south",
    "m_east",
    "m_north",
    "min_x",
    "min_y",
    "max_x",
    "max_y",
    "tz",
    "tx",
    "ty",
    "pixel",
    "top",
    "scale_x",
    "scale_y",
)


def _mercator_y(lat: float) -> float:
    """Web Mercator northing of a latitude, in units of the sphere's radius."""
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _box_values(box: TileBox) -> dict[str, Any]:
    west, south, east, north = box.lonlat
    dx, dy = (east - west) * BUFFER / EXTENT, (north - south) * BUFFER / EXTENT
    z, x, y = box.zxy if box.zxy is not None else (0, 0, 0)
    web_mercator = box.srid == 3857
    top = _mercator_y(north) if web_mercator else north
    bottom = _mercator_y(south) if web_mercator else south
    return {
        "west": west,
        "south": south,
        "east": east,
        "north": north,
        "m_west": max(west - dx, -180.0),
        "m_south": max(south - dy, -90.0),
        "m_east": min(east + dx, 180.0),
        "m_north": min(north + dy, 90.0),
        "min_x": box.bounds[0],
        "min_y": box.bounds[1],
        "max_x": box.bounds[2],
        "max_y": box.bounds[3],
        "tz": z,
        "tx": x,
        "ty": y,
        "pixel": box.pixel,
        "top": top,
        "scale_x": EXTENT / (east - west),
        "scale_y": EXTENT / (top - bottom),
    }


def _float(name: str) -> ColumnElement[Any]:
    return bindparam(name, 0.0, type_=Float)  # the value is bound per tile


def _envelope(web_mercator: bool) -> ColumnElement[Any]:
    """The tile's envelope in its tile matrix set's CRS."""
    if web_mercator:
        # placeholder values (bound per tile): rendering expanding IN parameters of a
        # layer's filters needs a value for every parameter
        return func.ST_TileEnvelope(
            bindparam("tz", 0, type_=Integer),
            bindparam("tx", 0, type_=Integer),
            bindparam("ty", 0, type_=Integer),
        )
    corners = (_float("min_x"), _float("min_y"), _float("max_x"), _float("max_y"))
    return func.ST_MakeEnvelope(*corners, 4326)


def _lonlat_envelope(margin: bool = False) -> ColumnElement[Any]:
    names = (
        ("m_west", "m_south", "m_east", "m_north") if margin else ("west", "south", "east", "north")
    )
    return func.ST_MakeEnvelope(*(_float(n) for n in names), 4326)


def _pixels(geom: ColumnElement[Any], web_mercator: bool) -> tuple[Any, Any]:
    """Tile coordinates (0 to 4096, y down) of a lon/lat point, by arithmetic: Web Mercator
    is linear in longitude and in ln(tan(pi/4 + lat/2)), so no reprojection is needed."""
    lon, lat = func.ST_X(geom), func.ST_Y(geom)
    northing = func.ln(func.tan(math.pi / 4 + func.radians(lat) / 2)) if web_mercator else lat
    px = func.round((lon - _float("west")) * _float("scale_x"))
    py = func.round((_float("top") - northing) * _float("scale_y"))
    return px, py


def _points_statement(
    name: str, layer: TileLayer, web_mercator: bool, shape: TileShape
) -> Select[Any]:
    px, py = _pixels(layer.geom, web_mercator)
    columns = [px.label("px"), py.label("py"), *(e.label(k) for k, e in layer.properties)]
    if layer.breakdown is not None:
        columns.append(layer.breakdown[0].label("_breakdown"))
    pts = (
        select(*columns)
        .select_from(layer.table)
        .where(layer.geom.op("&&")(_lonlat_envelope()), *layer.where)
        .cte("pts")
        .prefix_with("MATERIALIZED")
    )
    matched = select(func.count()).select_from(pts).scalar_subquery()
    names = [key for key, _ in layer.properties]
    plain = select(
        func.ST_MakePoint(pts.c.px, pts.c.py).label("geom"),
        *(pts.c[key] for key in names),
        null().label("point_count"),
        null().label("aggregated"),
        null().label("kinds"),
    ).where(matched <= shape.max_features)
    count = func.count()
    single = count == 1
    cell = float(EXTENT) / shape.grid
    last = shape.grid - 1
    kinds = null() if layer.breakdown is None else _kinds(pts.c._breakdown, layer.breakdown[1])
    cells = (
        select(
            func.ST_MakePoint(func.round(func.avg(pts.c.px)), func.round(func.avg(pts.c.py))).label(
                "geom"
            ),
            *(case((single, func.min(pts.c[key]))).label(key) for key in names),
            case((~single, count)).label("point_count"),
            case((~single, true())).label("aggregated"),
            case((~single, kinds)).label("kinds"),
        )
        .where(matched > shape.max_features)
        .group_by(
            func.least(func.floor(pts.c.px / cell), last),
            func.least(func.floor(pts.c.py / cell), last),
        )
    )
    features = plain.union_all(cells).subquery("features")
    return select(
        func.ST_AsMVT(features.table_valued(), name, EXTENT, "geom"),
        func.count(),
        func.coalesce(func.sum(func.coalesce(features.c.point_count, 1)), 0),
        func.coalesce(func.bool_or(features.c.aggregated), false()),
        *_version_columns(),
    ).select_from(features)


def _kinds(column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[Any]:
    """``"mine:12,sales_point:3"``: how many points of each value the group stands for
    (values in vocabulary order, absent ones left out)."""
    parts = []
    for value in values:
        counted = func.count().filter(column == value)
        parts.append(case((counted > 0, func.concat(literal(f"{value}:"), counted))))
    return func.concat_ws(",", *parts)


def _shapes_statement(name: str, layer: TileLayer, web_mercator: bool) -> Select[Any]:
    clipped = func.ST_ClipByBox2D(layer.geom, _lonlat_envelope(margin=True))
    projected = func.ST_Transform(clipped, 3857) if web_mercator else clipped
    simplified = func.ST_Simplify(projected, _float("pixel"), True)
    geom = func.ST_AsMVTGeom(simplified, _envelope(web_mercator), EXTENT, BUFFER, True)
    rows = (
        select(geom.label("geom"), *(expr.label(key) for key, expr in layer.properties))
        .select_from(layer.table)
        .where(layer.geom.op("&&")(_lonlat_envelope(margin=True)), *layer.where)
        .subquery("rows")
    )
    features = select(rows).where(rows.c.geom.is_not(None)).subquery("features")
    return select(
        func.ST_AsMVT(features.table_valued(), name, EXTENT, "geom"),
        func.count(),
        func.count(),
        false(),
        *_version_columns(),
    ).select_from(features)
