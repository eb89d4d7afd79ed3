"""OGC API - Tiles (vector tiles of every collection): tile matrix sets, tilesets, TileJSON,
Mapbox Vector Tiles.

Paths as OGC API - Tiles spells them: ``/collections/{id}/tiles/{tileMatrixSetId}/
{tileMatrix}/{tileRow}/{tileCol}`` (z/y/x). A tile takes the filters of the collection's
items (declared once, ``app.api.params.tile_parameters``) and is built by PostGIS in one
statement (``app.db.tiles``) under the size rule of ``app.services.tiles``. Empty tiles are
204; every tile has a weak ``ETag`` (data version + query) and answers ``If-None-Match``
with 304.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app import collections as registry
from app.api import etags
from app.api import params as p
from app.api.core import parse_context
from app.api.dataset_headers import notes_own_version
from app.api.deps import (
    CallerDep,
    CollectionId,
    ReadSessionDep,
    SessionFactoryDep,
    SettingsDep,
    json_parameters,
)
from app.api.metadata import link
from app.api.responses import JSON
from app.api.urls import base_url
from app.collections.base import Provider, ReadContext
from app.collections.parsing import bad
from app.db import dataset
from app.services import tiles as tile_service

router = APIRouter(tags=["OGC API - Tiles"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]
JSON_TYPE = "application/json"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
TILEJSON = "tilejson"
TmsId = Annotated[
    str,
    Path(
        alias="tileMatrixSetId",
        description="Tile matrix set: " + ", ".join(tile_service.MATRIX_SET_IDS),
        json_schema_extra={"enum": list(tile_service.MATRIX_SET_IDS)},
    ),
]
Zoom = Annotated[int, Path(alias="tileMatrix", ge=0, le=tile_service.MAX_ZOOM, description="z")]
Row = Annotated[int, Path(alias="tileRow", ge=0, le=2**31, description="y (row, from the top)")]
Col = Annotated[int, Path(alias="tileCol", ge=0, le=2**31, description="x (column)")]
MVT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A Mapbox Vector Tile (one layer named after the collection)",
        "content": {tile_service.MVT: {"schema": {"type": "string", "format": "binary"}}},
    },
    204: {"description": "No feature in this tile"},
    304: {"description": "Not modified (If-None-Match)"},
}
JSON_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {JSON_TYPE: {"schema": {"type": "object"}}}}
}
#: The tiling schemes and the tileset lists: ``f=json``, ``lang``, and the item parameters GIS
#: clients carry (``app.api.params``); a tileset and a tile parse their own.
METADATA = [Depends(json_parameters), Depends(p.reject_undeclared_ogc_query)]


@router.get(
    "/tileMatrixSets",
    dependencies=METADATA,
    summary="Tile matrix sets (tiling schemes)",
    response_class=Response,
    responses=JSON_RESPONSES,
)
def list_matrix_sets(request: Request, settings: SettingsDep) -> Response:
    base = base_url(request, settings)
    sets = []
    for tms_id in tile_service.MATRIX_SET_IDS:
        tms = tile_service.matrix_set(tms_id)
        href = f"{base}/tileMatrixSets/{tms_id}"
        sets.append(
            {
                "id": tms_id,
                "title": tms.title,
                "uri": str(tms.uri),
                "links": [link(href, "self", JSON_TYPE), link(href, REL_TILING_SCHEME, JSON_TYPE)],
            }
        )
    self_link = link(f"{base}/tileMatrixSets", "self", JSON_TYPE, "Tile matrix sets")
    return JSON({"tileMatrixSets": sets, "links": [self_link]})


@router.get(
    "/tileMatrixSets/{tileMatrixSetId}",
    dependencies=METADATA,
    summary="One tile matrix set (OGC TMS 2.0 JSON)",
    response_class=Response,
    responses=JSON_RESPONSES,
)
def describe_matrix_set(tms_id: TmsId) -> Response:
    return JSON(tile_service.matrix_set_document(tms_id))


@router.get(
    "/collections/{collectionId}/tiles",
    dependencies=METADATA,
    summary="Vector tilesets of a collection",
    response_class=Response,
    responses=JSON_RESPONSES,
)
def list_tilesets(request: Request, settings: SettingsDep, collection_id: CollectionId) -> Response:
    provider = _tiled(collection_id)
    base = base_url(request, settings)
    href = f"{base}/collections/{provider.id}/tiles"
    tilesets = [_tileset_summary(base, provider, tms_id) for tms_id in tile_service.MATRIX_SET_IDS]
    links = [
        link(href, "self", JSON_TYPE, "Vector tilesets"),
        link(f"{base}/collections/{provider.id}", "collection", JSON_TYPE, provider.title),
    ]
    return JSON({"links": links, "tilesets": tilesets})


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}",
    summary="Tileset metadata (f=tilejson: TileJSON 3.0.0)",
    response_class=Response,
    responses=JSON_RESPONSES,
)
def describe_tileset(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    collection_id: CollectionId,
    tms_id: TmsId,
) -> Response:
    provider = _tiled(collection_id)
    tile_service.matrix_set(tms_id)
    declared = (*p.tile_parameters(settings, provider), p.format_parameter(("json", TILEJSON)))
    values = p.parse_query(request.query_params.multi_items(), declared, parse_context(session))
    provider.parse(p.feature_query(values), values)  # the filters are checked here, not later
    base = base_url(request, settings)
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "f"])
    if values.get("f") == TILEJSON:
        return JSON(tilejson(session, base, provider, tms_id, query))
    return JSON(tileset_document(session, base, provider, tms_id, query))


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    summary="One vector tile (z/y/x), with the same filters as the items",
    response_class=Response,
    responses=MVT_RESPONSES,
)
@notes_own_version
def read_tile(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    open_writer: SessionFactoryDep,
    collection_id: CollectionId,
    tms_id: TmsId,
    zoom: Zoom,
    row: Row,
    col: Col,
) -> Response:
    # Every answer carries Dataset-Version: the tile statement reads it; an answer that never
    # runs it (400, 404, 304) has it read at its start (``notes_own_version``).
    provider = _tiled(collection_id)
    address = tile_service.TileAddress(tms_id, zoom, row, col)
    tile_service.locate(address)  # 404 before any query when out of range
    values = p.parse_query(
        request.query_params.multi_items(),
        p.tile_parameters(settings, provider),
        parse_context(session),
    )
    query = provider.parse(p.feature_query(values), values)
    ctx = ReadContext(session, caller, base_url(request, settings), None, open_writer)
    asked = tile_service.request_for(provider.id, address, request.query_params.multi_items())
    if (unchanged := _not_modified(request, ctx, asked)) is not None:
        return unchanged
    built = tile_service.build(ctx, provider, query, asked)
    dataset.note_version(built.version[0])
    headers = {
        **_cache_headers(asked.etag(built.version)),
        "X-Borderlens-Features": str(built.features),
        "X-Borderlens-Points": str(built.points),
    }
    if not built.data:
        return Response(status_code=204, headers=headers)
    return Response(built.data, media_type=tile_service.MVT, headers=headers)


# -- helpers ------------------------------------------------------------------------------

TILES_URL = re.compile(r"^/collections/(?P<collectionId>[^/]+)/tiles(?:/|$)")


def allows(path: str, methods: frozenset[str]) -> frozenset[str]:
    """A collection without tiles has no tile URLs: 404 ``no_tiles`` to every method, as its
    routes answer a GET."""
    if match := TILES_URL.match(path):
        _tiled(match["collectionId"])
    return methods


def _tiled(collection_id: str) -> Provider:
    provider = registry.get(collection_id)
    tile_service.fields_of(provider)  # 404 no_tiles when it has none
    return provider


def _not_modified(
    request: Request, ctx: ReadContext, asked: tile_service.TileRequest
) -> Response | None:
    """304 when ``If-None-Match`` names the tile's current ETag (one small query), else None:
    without the header the tile statement itself reads the version for the ETag."""
    header = request.headers.get("if-none-match")
    if header is None:
        return None
    etag = tile_service.current_etag(ctx, asked)
    return etags.not_modified(header, etag, _cache_headers(etag))


def _cache_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": tile_service.CACHE_CONTROL}


def _tile_template(base: str, provider: Provider, tms_id: str, query: str) -> str:
    href = f"{base}/collections/{provider.id}/tiles/{tms_id}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    return f"{href}?{query}" if query else href


def _tileset_summary(base: str, provider: Provider, tms_id: str) -> dict[str, Any]:
    tms = tile_service.matrix_set(tms_id)
    href = f"{base}/collections/{provider.id}/tiles/{tms_id}"
    return {
        "title": f"{provider.title} ({tms_id})",
        "dataType": "vector",
        "crs": tile_service.crs_uri(tms_id),
        "tileMatrixSetURI": str(tms.uri),
        "links": [
            link(href, "self", JSON_TYPE, f"{provider.title} tileset ({tms_id})"),
            link(f"{base}/tileMatrixSets/{tms_id}", REL_TILING_SCHEME, JSON_TYPE, tms_id),
        ],
    }


def tileset_document(
    session: Session, base: str, provider: Provider, tms_id: str, query: str
) -> dict[str, Any]:
    """OGC API - Tiles tileset metadata: the tiling scheme, the tile URL template (keeping the
    request's filters), the box of the data and the tiles that cover it at each zoom, the one
    layer and its properties, and the size rule."""
    tms = tile_service.matrix_set(tms_id)
    document = _tileset_summary(base, provider, tms_id)
    template = _tile_template(base, provider, tms_id, query)
    document["links"].append(
        {**link(template, "item", tile_service.MVT, "Tiles"), "templated": True}
    )
    maximum = tile_service.max_zoom(tms)
    bounds = tile_service.bounds_of(session, provider)
    document["boundingBox"] = tile_service.bounding_box(tms_id, bounds)
    document["tileMatrixSetLimits"] = tile_service.matrix_limits(tms_id, bounds)
    document["layers"] = [
        {
            "id": provider.id,
            "title": provider.title,
            "dataType": "vector",
            "minTileMatrix": "0",
            "maxTileMatrix": str(maximum),
            "propertiesSchema": {"type": "object", "properties": tile_service.fields_of(provider)},
        }
    ]
    document["borderlens:sizeRule"] = tile_service.size_rule()
    return document


def tilejson(
    session: Session, base: str, provider: Provider, tms_id: str, query: str
) -> dict[str, Any]:
    """TileJSON 3.0.0 (Web Mercator only, as TileJSON assumes): ``tiles`` is the XYZ template
    ``{z}/{y}/{x}`` of this API, the request's filters kept."""
    if tms_id != "WebMercatorQuad":
        raise bad("f", "TileJSON describes Web Mercator tiles: ask WebMercatorQuad for it")
    template = (
        _tile_template(base, provider, tms_id, query)
        .replace("{tileMatrix}", "{z}")
        .replace("{tileRow}", "{y}")
        .replace("{tileCol}", "{x}")
    )
    maximum = tile_service.max_zoom(tile_service.matrix_set(tms_id))
    fields = tile_service.fields_of(provider)
    bounds = tile_service.bounds_of(session, provider)
    return {
        "tilejson": "3.0.0",
        "name": provider.title,
        "description": provider.description,
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": 0,
        "maxzoom": maximum,
        "bounds": list(bounds),
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 4],
        "vector_layers": [
            {
                "id": provider.id,
                "description": provider.title,
                "minzoom": 0,
                "maxzoom": maximum,
                "fields": {name: _field_text(schema) for name, schema in fields.items()},
            }
        ],
    }


def _field_text(schema: dict[str, Any]) -> str:
    return str(schema.get("description") or schema.get("type", "string"))
