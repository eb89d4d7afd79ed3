"""OGC API - Features Part 1 (core) at the root: landing page, conformance, collections, items.

Spelled exactly as the standard spells it (link relations, conformance URIs, media types),
because clients such as QGIS and GDAL check them literally. Every collection is a provider
from ``app.collections``; the routes parse the declared parameters, call one provider and
shape the response.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from app import collections as registry
from app.api import etags, profiles
from app.api import exports as export_api
from app.api import params as p
from app.api.contract import negotiable
from app.api.crs import content_crs
from app.api.deps import (
    CallerDep,
    CollectionId,
    ReadSessionDep,
    SessionFactoryDep,
    SettingsDep,
    page_parameters,
)
from app.api.metadata import collection_document, link, link_dict
from app.api.responses import GEOJSON, JSON, OPENAPI_30, dumps
from app.api.urls import base_url
from app.collections.base import Item, ParseContext, Provider, ReadContext
from app.collections.parsing import has_control_characters
from app.db import boundaries as boundary_repo
from app.errors import NotFound
from app.html import pages as html
from app.html.pages import negotiated
from app.queries import FeaturePage, Keyset, PageRequest
from app.services import exports
from geo.countries import read_country_table
from geo.crs import OfferedCrs

router = APIRouter(tags=["OGC API - Features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
JSON_TYPE = "application/json"
FeatureId = Annotated[str, Path(alias="featureId", max_length=64, description="Feature id")]
NOT_MODIFIED: dict[int | str, Any] = {
    304: {"description": "Not modified: If-None-Match names the ETag (app.api.etags)"}
}
COLLECTION_URL = re.compile(r"^/collections/(?P<collectionId>[^/]+)(?:/|$)")


def allows(path: str, methods: frozenset[str]) -> frozenset[str]:
    """Every URL under ``/collections/{collectionId}`` names that collection: one the registry
    does not have is a 404 to every method (``app.api.hardening``), OPTIONS included."""
    if match := COLLECTION_URL.match(path):
        registry.get(match["collectionId"])
    return methods


#: The landing page, conformance and collection documents: ``f`` and ``lang`` (JSON or the
#: HTML page), and the item parameters GIS clients carry (``app.api.params``).
PAGE = [Depends(page_parameters), Depends(p.reject_undeclared_ogc_query)]


@router.get(
    "/",
    summary="Landing page",
    response_model=None,
    responses=negotiable("LandingPage"),
    dependencies=PAGE,
)
def landing_page(request: Request, settings: SettingsDep) -> Response:
    base = base_url(request, settings)
    document = JSON(
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
                link(
                    f"{base}/tileMatrixSets",
                    "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                    JSON_TYPE,
                    "Tile matrix sets of the vector tiles",
                ),
                link(f"{base}/maps/sites", "alternate", "text/html", "Map of the sites"),
                link(f"{base}/health", "status", JSON_TYPE, "Service health"),
            ],
        }
    )
    return negotiated(request, document, html.render_landing)


@router.get(
    "/conformance",
    dependencies=PAGE,
    summary="Conformance classes",
    response_model=None,
    responses=negotiable("ConfClasses"),
)
def conformance(request: Request) -> Response:
    document = JSON({"conformsTo": request.app.state.conformance})
    return negotiated(request, document, html.render_conformance)


@router.get(
    "/collections",
    dependencies=PAGE,
    summary="Feature collections",
    response_model=None,
    responses=negotiable("Collections"),
)
def list_collections(request: Request, session: ReadSessionDep, settings: SettingsDep) -> Response:
    base = base_url(request, settings)
    documents = [collection_document(session, base, c) for c in registry.PROVIDERS]
    document = JSON(
        {
            "links": [link(f"{base}/collections", "self", JSON_TYPE, "The feature collections")],
            "collections": documents,
        }
    )
    return negotiated(request, document, html.render_collections)


@router.get(
    "/collections/{collectionId}",
    dependencies=PAGE,
    summary="One feature collection",
    response_model=None,
    responses=negotiable("Collection"),
)
def describe_collection(
    request: Request, session: ReadSessionDep, settings: SettingsDep, collection_id: CollectionId
) -> Response:
    provider = registry.get(collection_id)
    document = JSON(collection_document(session, base_url(request, settings), provider))
    return negotiated(request, document, html.render_collection)


def parse_context(session: ReadSessionDep) -> ParseContext:
    return ParseContext(
        border_pairs=lambda: boundary_repo.border_pairs(session),
        country_codes=lambda: [country.iso3 for country in read_country_table()],
    )


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    response_class=Response,
    responses={
        200: {
            "content": {
                **negotiable("FeatureCollection", GEOJSON)[200]["content"],
                **exports.OPENAPI_CONTENT,
            }
        },
        **NOT_MODIFIED,
    },
)
def read_items(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    open_writer: SessionFactoryDep,
    collection_id: CollectionId,
) -> Response:
    provider = registry.get(collection_id)
    declared = p.item_parameters(settings, provider)
    values = p.parse_query(request.query_params.multi_items(), declared, parse_context(session))
    query = provider.parse(p.feature_query(values), values)
    keyset, matched = values.get("cursor", (None, None))
    if keyset is not None:
        p.check_keyset_types(provider.key_types_for(query), keyset.values)
    # numberMatched is counted with the first page and carried in the cursor of the
    # next/prev links: later pages cost no count at all.
    base = base_url(request, settings)
    cap = settings.count_exact_up_to if keyset is None else None
    crs = values.get("crs")
    context = ReadContext(session, caller, base, cap, open_writer, crs, values.get("as_of"))
    fmt = exports.chosen(values.get("f"), request.headers.get("accept"))
    if fmt is not None:
        return export_api.export_response(request, context, provider, query, values, fmt)
    limit = values.get("limit", settings.items_default_limit)
    page = provider.page(context, query, PageRequest(limit, keyset))
    page = profiles.page_in(page, profiles.chosen(values.get("profile"), _agent(request)))
    total = page.number_matched if keyset is None else matched
    response = items_response(request, base, provider, page, keyset, total, crs)
    return etags.conditional(request, negotiated(request, response, html.render_items))


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    response_class=Response,
    responses={**negotiable("Feature", GEOJSON), **NOT_MODIFIED},
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
    provider = registry.get(collection_id)
    declared = p.item_parameters_single(settings, provider)
    query = p.without_carried(request.query_params.multi_items(), settings, provider)
    values = p.parse_query(query, declared, parse_context(session))
    base = base_url(request, settings)
    crs = values.get("crs")
    item = None
    if not has_control_characters(feature_id):  # no id holds one; PostgreSQL refuses NUL
        context = ReadContext(session, caller, base, None, open_writer, crs, values.get("as_of"))
        item = provider.item(context, feature_id)
    if item is None:
        raise NotFound(
            f"no feature {feature_id!r} in collection {provider.id!r}", code="unknown_feature"
        )
    item = profiles.item_in(item, profiles.chosen(values.get("profile"), _agent(request)))
    response = item_response(base, provider, feature_id, item, crs)
    return etags.conditional(request, negotiated(request, response, html.render_item))


# -- response shaping -------------------------------------------------------------------


def _agent(request: Request) -> str | None:
    return request.headers.get("user-agent")


#: What the items and an item vary with besides the URL: the profile QGIS gets by default, the
#: values the caller may read (a key, or a signed-in page's cookie).
VARY = "User-Agent, Authorization, Cookie"


def item_response(
    base: str, provider: Provider, feature_id: str, item: Item, crs: OfferedCrs | None = None
) -> Response:
    """The Feature with its links. ``ETag``: the row version the collection gives (sites:
    what ``If-Match`` takes), else a weak tag of the content."""
    href = f"{base}/collections/{provider.id}/items/{feature_id}"
    links = [
        link(href, "self", GEOJSON),
        link(f"{base}/collections/{provider.id}", "collection", JSON_TYPE),
        *(link_dict(extra) for extra in provider.item_links(base, feature_id)),
    ]
    body = (item.feature_json[:-1] + ',"links":' + dumps(links).decode() + "}").encode()
    headers = {
        **content_crs(crs),
        "Vary": VARY,
        "ETag": item.etag or etags.content_tag(body),
    }
    return Response(body, media_type=GEOJSON, headers=headers)


def items_response(
    request: Request,
    base: str,
    provider: Provider,
    page: FeaturePage,
    keyset: Keyset | None,
    matched: int | None,
    crs: OfferedCrs | None = None,
) -> Response:
    """The FeatureCollection text (features joined as PostGIS wrote them), its paging links in
    the body and as ``Link`` headers."""
    pairs = request.query_params.multi_items()
    items_url = f"{base}/collections/{provider.id}/items"
    links = [
        link(with_cursor(items_url, pairs, request.query_params.get("cursor")), "self", GEOJSON),
        link(f"{base}/collections/{provider.id}", "collection", JSON_TYPE),
    ]
    going_back = keyset is not None and keyset.backwards
    more_after = page.has_more if not going_back else True
    more_before = keyset is not None and (page.has_more if going_back else True)
    if more_after and page.last_key is not None:
        token = p.encode_cursor(Keyset(page.last_key), matched)
        links.append(link(with_cursor(items_url, pairs, token), "next", GEOJSON, "Next page"))
    if more_before and page.first_key is not None:
        token = p.encode_cursor(Keyset(page.first_key, backwards=True), matched)
        links.append(link(with_cursor(items_url, pairs, token), "prev", GEOJSON, "Previous page"))
    meta: dict[str, Any] = {"numberReturned": page.returned, **page.extra}
    if matched is not None:
        meta["numberMatched"] = matched
    features = page.features_json.encode()
    # tagged by everything it holds but the time it was answered (a read as of a version:
    # that version's time, part of the content)
    etag = etags.content_tag(features, dumps({**meta, "links": links}))
    meta.setdefault("timeStamp", _now())
    meta["links"] = links
    body = b'{"type":"FeatureCollection","features":[' + features + b"]," + dumps(meta)[1:]
    headers = {**content_crs(crs), **_link_header(links), "Vary": VARY, "ETag": etag}
    return Response(body, media_type=GEOJSON, headers=headers)


def _link_header(links: list[dict[str, str]]) -> dict[str, str]:
    """RFC 8288 ``Link`` header for next/prev, so clients can page without parsing bodies."""
    paging = [item for item in links if item["rel"] in ("next", "prev")]
    if not paging:
        return {}
    return {
        "Link": ", ".join(
            f'<{item["href"]}>; rel="{item["rel"]}"; type="{item["type"]}"' for item in paging
        )
    }


def with_cursor(url: str, pairs: Sequence[tuple[str, str]], cursor: str | None) -> str:
    kept = [(k, v) for k, v in pairs if k != "cursor"]
    if cursor is not None:
        kept.append(("cursor", cursor))
    return f"{url}?{urlencode(kept)}" if kept else url


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
