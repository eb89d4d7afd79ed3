"""OGC API - Features Part 4 (OGC 20-002): create, replace, update and delete features.

``POST .../items`` creates, ``PUT .../items/{id}`` replaces (a GeoJSON Feature), ``PATCH``
updates (JSON Merge Patch, RFC 7396), ``DELETE`` retires (kept, with the ``reason`` query
parameter; hidden from item lists, still readable at its URL). Changes need ``If-Match`` with
the item's ``ETag`` (428 without, 412 when stale, ``*`` for whatever is current). Researcher
and admin keys write. The routes dispatch to the collection's provider: its ``writer()`` does
the work (only ``sites`` has one); collections without one answer 405, and neither ``Allow``
nor OPTIONS lists a write on their URLs (``allows``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from starlette.routing import compile_path

from app import collections as registry
from app.api import json_body, params
from app.api.contract import ref
from app.api.core import FeatureId
from app.api.deps import BoundariesDep, CollectionId, SessionDep, SettingsDep, WriterDep
from app.api.etags import parse_if_match
from app.api.responses import GEOJSON, dumps
from app.api.text_checks import NOT_BLANK
from app.api.urls import base_url
from app.collections.base import WriteContext, Writer, Written
from app.collections.site_bodies import site_feature_schema
from app.errors import MethodNotAllowed, NotFound

# Undeclared query parameters are a 400, but for the item parameters GIS clients carry
# (``app.api.params``).
router = APIRouter(
    tags=["OGC API - Features - Part 4"],
    dependencies=[Depends(params.reject_undeclared_ogc_query)],
)

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]
ITEMS = "/collections/{collectionId}/items"
ITEM = ITEMS + "/{featureId}"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRITE_URLS = tuple(compile_path(template)[0] for template in (ITEMS, ITEM))
REASON_MAX = 500


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem("Bad request: invalid JSON, query parameter or If-Match"),
    401: _problem("No API key (researcher or admin keys write)"),
    403: _problem("The key's role cannot write"),
    404: _problem("No such collection or feature"),
    405: _problem("The collection is read-only (see the Allow header)"),
    415: _problem("Unsupported Content-Type"),
    422: _problem("The body is not a valid feature (problems listed in errors)"),
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: _problem("The feature is retired; retired sites are kept as they were"),
    412: _problem("Precondition failed: the ETag in If-Match is stale"),
    428: _problem("Precondition required: send If-Match with the ETag of your last read"),
}
FEATURE_RESPONSE = {
    "content": {GEOJSON: {"schema": ref("Feature")}},
    "headers": {"ETag": {"description": "Strong entity tag of the new state", "schema": {}}},
}


def _body(*media_types: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    content = {media_type: {"schema": schema} for media_type in media_types}
    return {"requestBody": {"required": True, "description": description, "content": content}}


# The one writable collection's body is what the documented schema describes.
FEATURE_BODY = _body(
    *json_body.GEOJSON_TYPES,
    description="A GeoJSON Feature: a Point (lon, lat on WGS 84) and the site's properties. "
    "Members the server computes (country, border figures, dates, links) may be present and "
    "are ignored.",
    schema=site_feature_schema(),
)
PATCH_BODY = _body(
    *json_body.MERGE_PATCH_TYPES,
    description="A JSON Merge Patch (RFC 7396) of the site Feature: members given replace "
    "(arrays whole), null removes an optional member, members left out stay. A new "
    "geometry re-measures country and border figures.",
    schema={"type": "object"},
)

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="Required: the ETag of your last read of the feature, or * (428 without)",
    ),
]


def allows(path: str, methods: frozenset[str]) -> frozenset[str]:
    """The items and item URLs of a collection without a writer take no write (their route
    templates do, for ``sites``)."""
    for pattern in WRITE_URLS:
        if match := pattern.match(path):
            try:
                writable = registry.get(match["collectionId"]).writer() is not None
            except NotFound:
                return methods  # app.api.core's allows: the URL names nothing
            return methods if writable else methods - WRITES
    return methods


def _writer(collection_id: CollectionId) -> Writer:
    provider = registry.get(collection_id)
    writer = provider.writer()
    if writer is None:
        # Allow is added by app.api.hardening: what OPTIONS says for this URL (see allows)
        raise MethodNotAllowed(f"collection {provider.id!r} is read-only")
    return writer


async def _raw_body(request: Request) -> bytes:
    return await request.body()


# Declared first in each route, so an unknown (404) or read-only (405) collection is
# answered before the key is checked (401/403).
WriterOf = Annotated[Writer, Depends(_writer)]
BodyDep = Annotated[bytes, Depends(_raw_body)]


def _feature_response(
    written: Written, collection_id: str, base: str, status: int = 200
) -> Response:
    location = f"{base}/collections/{collection_id}/items/{written.feature_id}"
    extra: dict[str, Any] = {"links": [{"href": location, "rel": "self", "type": GEOJSON}]}
    if written.warnings:
        extra["warnings"] = [w.as_dict() for w in written.warnings]
    body = written.item.feature_json[:-1] + "," + dumps(extra).decode()[1:]
    headers = {"Vary": "Authorization"}
    if written.item.etag is not None:
        headers["ETag"] = written.item.etag
    if status == 201:
        headers["Location"] = location
    return Response(body.encode(), status_code=status, media_type=GEOJSON, headers=headers)


@router.post(
    ITEMS,
    status_code=201,
    summary="Create a feature (sites; researcher or admin key)",
    response_class=Response,
    responses={201: FEATURE_RESPONSE, **ERRORS},
    openapi_extra=FEATURE_BODY,
)
def create_item(
    writer: WriterOf,
    caller: WriterDep,
    collection_id: CollectionId,
    request: Request,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
) -> Response:
    document = json_body.parse(body, request.headers, json_body.GEOJSON_TYPES)
    written = writer.create(WriteContext(session, caller, boundaries), document)
    return _feature_response(written, collection_id, base_url(request, settings), 201)


@router.put(
    ITEM,
    summary="Replace a feature (sites; If-Match required)",
    response_class=Response,
    responses={200: FEATURE_RESPONSE, **CHANGE_ERRORS},
    openapi_extra=FEATURE_BODY,
)
def replace_item(
    writer: WriterOf,
    caller: WriterDep,
    collection_id: CollectionId,
    feature_id: FeatureId,
    request: Request,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
    if_match: IfMatchHeader = None,
) -> Response:
    condition = parse_if_match(if_match)
    document = json_body.parse(body, request.headers, json_body.GEOJSON_TYPES)
    context = WriteContext(session, caller, boundaries)
    written = writer.replace(context, feature_id, condition, document)
    return _feature_response(written, collection_id, base_url(request, settings))


@router.patch(
    ITEM,
    summary="Update a feature with a JSON Merge Patch (sites; If-Match required)",
    response_class=Response,
    responses={200: FEATURE_RESPONSE, **CHANGE_ERRORS},
    openapi_extra=PATCH_BODY,
)
def update_item(
    writer: WriterOf,
    caller: WriterDep,
    collection_id: CollectionId,
    feature_id: FeatureId,
    request: Request,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
    if_match: IfMatchHeader = None,
) -> Response:
    condition = parse_if_match(if_match)
    patch = json_body.parse(body, request.headers, json_body.MERGE_PATCH_TYPES)
    written = writer.update(WriteContext(session, caller, boundaries), feature_id, condition, patch)
    return _feature_response(written, collection_id, base_url(request, settings))


@router.delete(
    ITEM,
    summary="Retire a feature (sites: kept, hidden from item lists; If-Match required)",
    response_class=Response,
    responses={200: FEATURE_RESPONSE, **CHANGE_ERRORS},
)
def delete_item(
    writer: WriterOf,
    caller: WriterDep,
    collection_id: CollectionId,
    feature_id: FeatureId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
    reason: Annotated[
        str,
        Query(
            min_length=1,
            max_length=REASON_MAX,
            pattern=NOT_BLANK,
            description="Why the site is retired (kept with it; required)",
        ),
    ],
    if_match: IfMatchHeader = None,
) -> Response:
    condition = parse_if_match(if_match)
    written = writer.delete(
        WriteContext(session, caller, boundaries), feature_id, condition, reason
    )
    return _feature_response(written, collection_id, base_url(request, settings))
