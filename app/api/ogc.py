"""OGC API - Features Part 1 at the root: landing page, conformance, collections, items.

Spelled exactly as the standard spells it (link relations, conformance URIs, media types),
because clients such as QGIS and GDAL check them literally.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from app.api import collections as registry
from app.api import params as p
from app.api.deps import CallerDep, ReadSessionDep, SessionFactoryDep, SettingsDep
from app.api.metadata import collection_document
from app.api.reading import ReadContext
from app.api.responses import GEOJSON, JSON, OPENAPI_30, dumps
from app.api.urls import base_url
from app.db import boundaries as boundary_repo
from app.errors import NotFound
from app.queries import FeatureQuery, Keyset, PageRequest

router = APIRouter(tags=["OGC API - Features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    # Part 4 (app/api/transactions.py), on the sites collection
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]
JSON_TYPE = "application/json"
CONTENT_CRS = {"Content-Crs": f"<{p.CRS84}>"}
CollectionId = Annotated[
    str, Path(alias="collectionId", pattern=r"^[a-z0-9_-]+$", description="Collection id")
]
FeatureId = Annotated[str, Path(alias="featureId", max_length=64, description="Feature id")]


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    item = {"href": href, "rel": rel, "type": type_}
    if title:
        item["title"] = title
    return item


@router.get("/", summary="Landing page")
def landing_page(request: Request, settings: SettingsDep) -> JSON:
    base = base_url(request, settings)
    return JSON(
        {
            "title": "borderlens",
            "description": (
                "Mine sites and mineral sales points along Central Africa's international "
                "borders: geo-referenced, measured against the borders, shared as OGC API "
                "Features."
            ),
            "links": [
                link(f"{base}/", "self", JSON_TYPE, "This document"),
                link(f"{base}/api", "service-desc", OPENAPI_30, "The API definition"),
                link(f"{base}/api.html", "service-doc", "text/html", "The API documentation"),
                link(f"{base}/conformance", "conformance", JSON_TYPE, "Conformance classes"),
                link(f"{base}/collections", "data", JSON_TYPE, "The feature collections"),
                link(f"{base}/maps/sites", "alternate", "text/html", "Map of the sites"),
                link(f"{base}/health", "status", JSON_TYPE, "Service health"),
            ],
        }
    )


@router.get("/conformance", summary="Conformance classes")
def conformance() -> JSON:
    return JSON({"conformsTo": CONFORMANCE})


@router.get("/collections", summary="Feature collections")
def list_collections(request: Request, session: ReadSessionDep, settings: SettingsDep) -> JSON:
    base = base_url(request, settings)
    documents = [
        collection_document(request, session, settings, collection)
        for collection in registry.COLLECTIONS.values()
    ]
    return JSON(
        {
            "links": [link(f"{base}/collections", "self", JSON_TYPE, "The feature collections")],
            "collections": documents,
        }
    )


@router.get("/collections/{collectionId}", summary="One feature collection")
def describe_collection(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    collection_id: CollectionId,
) -> JSON:
    collection = registry.get(collection_id)
    return JSON(collection_document(request, session, settings, collection))


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}},
)
def read_items(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    open_writer: SessionFactoryDep,
    collection_id: CollectionId,
    limit: int | None = Query(None, description="Features per page (1 to 10000, default 10)"),
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat (CRS84)"),
    datetime: str | None = Query(None, description="RFC 3339 instant or interval (a/b, ../b)"),
    cursor: str | None = Query(None, description="Opaque paging token from next/prev links"),
    kind: str | None = Query(None, description="sites: mine, sales_point (comma-separated)"),
    mineral: str | None = Query(None, description="sites: minerals, any language (diamond)"),
    country: str | None = Query(None, description="sites: ISO 3166-1 alpha-3 codes (CMR,CAF)"),
    status: str | None = Query(None, description=registry.STATUS_DOC),
    include_retired: Literal["true", "false"] | None = Query(
        None, description=registry.INCLUDE_RETIRED_DOC
    ),
    border: str | None = Query(
        None,
        description="sites: a border pair (CAF-CMR) or a country "
        "(CMR): with within_km, distance to that border",
    ),
    within_km: float | None = Query(
        None,
        description="sites: geodesic km to the border (or to "
        "the nearest international border without `border`)",
    ),
    sortby: str | None = Query(None, description="sites: border_distance_m or -border_distance_m"),
) -> Response:
    del limit, bbox, datetime, cursor, kind, mineral, country, border, within_km, sortby
    del status, include_retired
    collection = registry.get(collection_id)
    params = _multi_params(request)
    p.reject_unknown(params, collection.item_params)
    _check_format(params)
    p.check_crs(params)
    page_size = p.parse_limit(
        p.single(params, "limit"), settings.items_default_limit, settings.items_max_limit
    )
    query = FeatureQuery(
        bbox=p.parse_bbox(p.single(params, "bbox")),
        datetime=p.parse_datetime(p.single(params, "datetime")),
    )
    if collection.parse_extra is not None:
        query = collection.parse_extra(query, params, lambda: boundary_repo.border_pairs(session))
    keyset, matched = p.decode_cursor(p.single(params, "cursor"))
    if keyset is not None:
        registry.check_keyset_types(collection, keyset.values, query)
    # numberMatched is counted with the first page and carried in the cursor of the
    # next/prev links: later pages cost no count at all.
    base = base_url(request, settings)
    context = ReadContext(
        session,
        caller,
        base,
        settings.count_exact_up_to if keyset is None else None,
        open_writer,
    )
    page = collection.read_page(context, query, PageRequest(page_size, keyset))
    if keyset is None:
        matched = page.number_matched

    items_url = f"{base}/collections/{collection.id}/items"
    links = [
        link(_with_cursor(items_url, params, p.single(params, "cursor")), "self", GEOJSON),
        link(f"{base}/collections/{collection.id}", "collection", JSON_TYPE),
    ]
    going_back = keyset is not None and keyset.backwards
    more_after = page.has_more if not going_back else True
    more_before = keyset is not None and (page.has_more if going_back else True)
    if more_after and page.last_key is not None:
        token = p.encode_cursor(Keyset(page.last_key), matched)
        links.append(link(_with_cursor(items_url, params, token), "next", GEOJSON, "Next page"))
    if more_before and page.first_key is not None:
        token = p.encode_cursor(Keyset(page.first_key, backwards=True), matched)
        links.append(link(_with_cursor(items_url, params, token), "prev", GEOJSON, "Previous page"))

    meta: dict[str, Any] = {"numberReturned": page.returned, **page.extra}
    if matched is not None:
        meta["numberMatched"] = matched
    meta["timeStamp"] = _now()
    meta["links"] = links
    body = (
        b'{"type":"FeatureCollection","features":['
        + page.features_json.encode()
        + b"],"
        + dumps(meta)[1:]
    )
    return Response(body, media_type=GEOJSON, headers=CONTENT_CRS)


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}},
)
def read_item(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    open_writer: SessionFactoryDep,
    collection_id: CollectionId,
    feature_id: FeatureId,
) -> Response:
    collection = registry.get(collection_id)
    params = _multi_params(request)
    p.reject_unknown(params, ("f", "crs"))
    _check_format(params)
    p.check_crs(params)
    base = base_url(request, settings)
    context = ReadContext(session, caller, base, None, open_writer)
    headers = dict(CONTENT_CRS)
    if collection.read_tagged is not None:
        tagged = collection.read_tagged(context, feature_id)
        feature = None if tagged is None else tagged[0]
        if tagged is not None:
            headers.update({"ETag": tagged[1], "Vary": "Authorization"})
    else:
        feature = collection.read_one(context, feature_id)
    if feature is None:
        raise NotFound(
            f"no feature {feature_id!r} in collection {collection.id!r}", code="unknown_feature"
        )
    links = [
        link(f"{base}/collections/{collection.id}/items/{feature_id}", "self", GEOJSON),
        link(f"{base}/collections/{collection.id}", "collection", JSON_TYPE),
    ]
    body = feature[:-1] + ',"links":' + dumps(links).decode() + "}"
    return Response(body.encode(), media_type=GEOJSON, headers=headers)


def _multi_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def _check_format(params: dict[str, list[str]]) -> None:
    fmt = p.single(params, "f")
    if fmt is not None and fmt not in ("json", "geojson"):
        raise p.bad("f", f"this endpoint serves json/geojson only, not {fmt!r}")


def _with_cursor(url: str, params: dict[str, list[str]], cursor: str | None) -> str:
    pairs = [(k, v) for k, values in params.items() if k != "cursor" for v in values]
    if cursor is not None:
        pairs.append(("cursor", cursor))
    return f"{url}?{urlencode(pairs)}" if pairs else url


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
