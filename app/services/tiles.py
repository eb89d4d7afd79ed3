"""Vector tiles of any collection (OGC API - Tiles): tile matrix sets, where a tile lies, the
size rule, and the entity tag.

Tile matrix sets come from morecantile (the OGC TMS 2.0 definitions of ``WebMercatorQuad``
and ``WorldCRS84Quad``, as published by OGC), never written by hand. A tile is addressed as
OGC API - Tiles spells it: ``{tileMatrix}/{tileRow}/{tileCol}``, i.e. z/y/x (XYZ clients
expect z/x/y: the TileJSON template says ``{z}/{y}/{x}``).

Size rule (also served in every tileset's metadata, ``borderlens:sizeRule``):

* a tile of points (sites, observations) holds every matching point as its own feature when
  at most :data:`MAX_FEATURES` match in the tile;
* beyond that, points are aggregated on a grid of :data:`GRID` x :data:`GRID` cells: one
  feature per occupied cell, with ``point_count`` and ``aggregated=true`` where a cell holds
  more than one point (a cell with one point keeps it whole), so at most ``GRID**2`` features;
* a tile over :data:`MAX_TILE_BYTES` is built again on a coarser grid (:data:`COARSER_GRIDS`),
  every point still counted: nothing is ever dropped, so the sum of ``point_count`` (1 for
  a plain feature) is the number of matching items in the tile's box;
* lines and polygons (borders, countries, disputed areas, clusters) are clipped to the tile
  plus a 64/4096 buffer and simplified to one tile pixel.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import morecantile
from morecantile import TileMatrixSet
from sqlalchemy.orm import Session

from app.collections.base import Provider, ReadContext
from app.db import dataset
from app.db import tiles as tile_repo
from app.errors import NotFound
from app.queries import FeatureQuery

MVT = "application/vnd.mapbox-vector-tile"
#: The tile matrix sets served (ids as in the OGC TMS registry).
MATRIX_SET_IDS = ("WebMercatorQuad", "WorldCRS84Quad")
#: Plain point features a tile holds before points are aggregated.
MAX_FEATURES = 4096
#: Cells per side of the aggregation grid (at most GRID**2 features per tile).
GRID = 64
#: The most bytes a tile is built to (uncompressed MVT).
MAX_TILE_BYTES = 512 * 1024
#: Grids tried, in order, when a tile is still over MAX_TILE_BYTES.
COARSER_GRIDS = (32, 16, 8)
#: Zoom levels beyond this are refused (sites are located to metres, not millimetres).
MAX_ZOOM = 22
#: How long clients may reuse a tile before revalidating it (with its ETag).
CACHE_CONTROL = "public, max-age=60"


@cache
def matrix_set(tms_id: str) -> TileMatrixSet:
    """A served tile matrix set by id; ``NotFound`` (404 ``unknown_tile_matrix_set``)."""
    if tms_id not in MATRIX_SET_IDS:
        raise NotFound(
            f"no tile matrix set {tms_id[:64]!r}; served: {', '.join(MATRIX_SET_IDS)}",
            code="unknown_tile_matrix_set",
        )
    return morecantile.tms.get(tms_id)


def max_zoom(tms: TileMatrixSet) -> int:
    return min(MAX_ZOOM, tms.maxzoom)


def matrix_set_document(tms_id: str) -> dict[str, Any]:
    """The TMS 2.0 JSON encoding of a tile matrix set, matrices up to :func:`max_zoom`."""
    tms = matrix_set(tms_id)
    document: dict[str, Any] = tms.model_dump(mode="json", exclude_none=True)
    document["tileMatrices"] = document["tileMatrices"][: max_zoom(tms) + 1]
    return document


@dataclass(frozen=True)
class TileAddress:
    tms_id: str
    zoom: int
    row: int
    col: int


def locate(address: TileAddress) -> tile_repo.TileBox:
    """Where a tile lies; ``NotFound`` (404 ``tile_out_of_range``) beyond the matrix."""
    tms = matrix_set(address.tms_id)
    z, y, x = address.zoom, address.row, address.col
    if not 0 <= z <= max_zoom(tms):
        raise NotFound(
            f"tileMatrix {z} is out of range: {address.tms_id} is served at 0 to {max_zoom(tms)}",
            code="tile_out_of_range",
        )
    matrix = tms.matrix(z)
    if not (0 <= y < matrix.matrixHeight and 0 <= x < matrix.matrixWidth):
        raise NotFound(
            f"tile {z}/{y}/{x} is out of range: at tileMatrix {z} rows are 0 to "
            f"{matrix.matrixHeight - 1} and columns 0 to {matrix.matrixWidth - 1}",
            code="tile_out_of_range",
        )
    tile = morecantile.Tile(x, y, z)
    lonlat = tms.bounds(tile)
    bounds = tms.xy_bounds(tile)
    web_mercator = address.tms_id == "WebMercatorQuad"
    return tile_repo.TileBox(
        lonlat=(lonlat.left, lonlat.bottom, lonlat.right, lonlat.top),
        bounds=(bounds.left, bounds.bottom, bounds.right, bounds.top),
        srid=3857 if web_mercator else 4326,
        pixel=(bounds.right - bounds.left) / tile_repo.EXTENT,
        zxy=(z, x, y) if web_mercator else None,
    )


def shapes() -> tuple[tile_repo.TileShape, ...]:
    """The size rule, in the order tried."""
    first = tile_repo.TileShape(MAX_FEATURES, GRID)
    return (first, *(tile_repo.TileShape(0, grid) for grid in COARSER_GRIDS))


def crs_uri(tms_id: str) -> str:
    return str(matrix_set_document(tms_id)["crs"])


def fields_of(provider: Provider) -> dict[str, dict[str, Any]]:
    """The properties of the collection's tile features (JSON Schema of each); ``NotFound``
    (404 ``no_tiles``) when the collection has no tiles."""
    fields = provider.tile_fields()
    if fields is None:
        raise NotFound(f"collection {provider.id!r} has no tiles", code="no_tiles")
    return dict(fields)


#: Web Mercator's latitude limit (degrees): TileJSON bounds stay within it.
MERCATOR_LAT = 85.0511287798066


def bounds_of(session: Session, provider: Provider) -> tuple[float, float, float, float]:
    """The collection's lon/lat extent within Web Mercator (the world when it has no data)."""
    box = provider.extent(session).bbox
    if box is None:
        return (-180.0, -MERCATOR_LAT, 180.0, MERCATOR_LAT)
    west, south, east, north = box
    return (west, max(south, -MERCATOR_LAT), east, min(north, MERCATOR_LAT))


def bounding_box(tms_id: str, lonlat: tuple[float, float, float, float]) -> dict[str, Any]:
    """A lon/lat box as a TMS 2.0 ``boundingBox`` in the tile matrix set's CRS."""
    tms = matrix_set(tms_id)
    west, south, east, north = lonlat
    lower, upper = tms.xy(west, south), tms.xy(east, north)
    return {
        "lowerLeft": [lower.x, lower.y],
        "upperRight": [upper.x, upper.y],
        "crs": crs_uri(tms_id),
    }


def matrix_limits(tms_id: str, lonlat: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """``tileMatrixSetLimits``: at each zoom, the rows and columns of the tiles that cover a
    lon/lat box (so clients such as GDAL fetch only tiles that may hold data)."""
    tms = matrix_set(tms_id)
    west, south, east, north = lonlat
    limits = []
    for z in range(max_zoom(tms) + 1):
        # a tile's bounds include its lower and right edges only up to the next tile: pull
        # the far corner in by a hair so an edge point does not add an empty row or column
        top_left = tms.tile(west, north, z)
        bottom_right = tms.tile(east - 1e-9, south + 1e-9, z)
        limits.append(
            {
                "tileMatrix": str(z),
                "minTileRow": top_left.y,
                "maxTileRow": max(top_left.y, bottom_right.y),
                "minTileCol": top_left.x,
                "maxTileCol": max(top_left.x, bottom_right.x),
            }
        )
    return limits


@dataclass(frozen=True)
class TileRequest:
    """One tile asked for: the collection, the tile and the query's filters (canonical
    order)."""

    collection: str
    address: TileAddress
    query: tuple[tuple[str, str], ...]

    def etag(self, version: tile_repo.DataVersion) -> str:
        """A weak ETag: the data version (sites version, active boundaries, zones and
        routes), collection,
        tile, filters and the size rule."""
        key = [
            *version,
            self.collection,
            self.address.tms_id,
            self.address.zoom,
            self.address.row,
            self.address.col,
            self.query,
            MAX_FEATURES,
            GRID,
            MAX_TILE_BYTES,
        ]
        return 'W/"' + hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32] + '"'


def request_for(
    collection: str, address: TileAddress, query: Sequence[tuple[str, str]]
) -> TileRequest:
    return TileRequest(collection, address, tuple(sorted(query)))


def current_etag(ctx: ReadContext, request: TileRequest) -> str:
    """The ETag the tile has now (one small query: for ``If-None-Match``); the dataset
    version it read is noted for the answer's header."""
    version = tile_repo.data_version(ctx.session)
    dataset.note_version(version[0])
    return request.etag(version)


#: Compiled tile statements by (collection, filters, tile matrix set, shape): building and
#: compiling one costs more than running it on a sparse tile.
_STATEMENTS: OrderedDict[tuple[Any, ...], tile_repo.TileStatement] = OrderedDict()
STATEMENT_CACHE_SIZE = 256


def _statement(
    ctx: ReadContext,
    provider: Provider,
    query: FeatureQuery,
    request: TileRequest,
    shape: tile_repo.TileShape,
) -> tile_repo.TileStatement:
    web_mercator = request.address.tms_id == "WebMercatorQuad"
    key = (request.collection, request.query, web_mercator, shape)
    statement = _STATEMENTS.get(key) if provider.stable_tile_layer else None
    if statement is None:
        layer = provider.tile_layer(ctx, query)
        if layer is None:
            raise NotFound(f"collection {provider.id!r} has no tiles", code="no_tiles")
        statement = tile_repo.compile_statement(provider.id, layer, web_mercator, shape)
        _STATEMENTS[key] = statement
        while len(_STATEMENTS) > STATEMENT_CACHE_SIZE:
            _STATEMENTS.popitem(last=False)
    else:
        _STATEMENTS.move_to_end(key)
    return statement


def build(
    ctx: ReadContext, provider: Provider, query: FeatureQuery, request: TileRequest
) -> tile_repo.BuiltTile:
    """The tile (MVT layer named after the collection) under the size rule: one statement
    (which also reads the data version for the ETag), again on a coarser grid only while the
    tile is over :data:`MAX_TILE_BYTES`."""
    box = locate(request.address)
    first, *coarser = shapes()
    statement = _statement(ctx, provider, query, request, first)
    built = tile_repo.build_tile(ctx.session, statement, box)
    if not statement.points:
        return built
    for shape in coarser:
        if len(built.data) <= MAX_TILE_BYTES:
            break
        statement = _statement(ctx, provider, query, request, shape)
        built = tile_repo.build_tile(ctx.session, statement, box)
    return built


def size_rule() -> dict[str, Any]:
    """The size rule as served in tileset metadata (see the module docstring)."""
    return {
        "maxPlainPointFeatures": MAX_FEATURES,
        "aggregationGrid": GRID,
        "maxFeatures": GRID * GRID,
        "maxBytes": MAX_TILE_BYTES,
        "coarserGrids": list(COARSER_GRIDS),
        "description": (
            f"Points: every matching point is its own feature while at most {MAX_FEATURES} "
            f"match in the tile; beyond that they are aggregated on a {GRID}x{GRID} grid of "
            "the tile (one feature per occupied cell: a cell with one point keeps it whole, "
            "a cell with more gives one feature at their mean position with point_count, "
            "aggregated=true and kinds). A tile over maxBytes is rebuilt on a coarser grid. "
            "No point is ever dropped: the sum of point_count (1 for a plain feature) is the "
            "number of matching items in the tile's box. Lines and polygons are clipped to "
            "the tile (64/4096 buffer) and simplified to one tile pixel."
        ),
    }
