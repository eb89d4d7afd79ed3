"""OGC API - Features Part 4 (OGC 20-002): create, replace, update and delete features.

``POST .../items`` creates, ``PUT .../items/{id}`` replaces (a GeoJSON Feature), ``PATCH``
updates (JSON Merge Patch, RFC 7396), ``DELETE`` retires (kept, with the ``reason`` query
parameter; hidden from item lists, still readable at its URL). Changes need ``If-Match`` with
the item's ``ETag`` (428 without, 412 when stale, ``*`` for whatever is current). Researcher
and admin keys write; only ``sites`` is writable, other collections answer 405.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from app.api import collections as registry
from app.api import json_body
from app.api.deps import BoundariesDep, SessionDep, SettingsDep, WriterDep
from app.api.etags import precondition, site_etag
from app.api.ogc import CollectionId, FeatureId
from app.api.responses import GEOJSON, dumps
from app.api.schemas import site_draft, site_feature_schema
from app.api.urls import base_url
from app.errors import MethodNotAllowed
from app.queries import Caller
from app.services import site_edits
from app.services.site_edits import CurrentSite, WrittenSite
from app.services.sites import SiteDraft

router = APIRouter(tags=["OGC API - Features - Part 4"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]
WRITABLE = frozenset({"sites"})
ITEMS = "/collections/{collectionId}/items"
ITEM = ITEMS + "/{featureId}"
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
    422: _problem("The body is not a valid site (problems listed in errors)"),
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: _problem("The site is retired; retired sites are kept as they were"),
    412: _problem("Precondition failed: the ETag in If-Match is stale"),
    428: _problem("Precondition required: send If-Match with the ETag of your last read"),
}
FEATURE_RESPONSE = {
    "content": {GEOJSON: {}},
    "headers": {"ETag": {"description": "Strong entity tag of the new state", "schema": {}}},
}


def _body(*media_types: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    content = {media_type: {"schema": schema} for media_type in media_types}
    return {"requestBody": {"required": True, "description": description, "content": content}}


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

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="Required: the ETag of your last read of the feature, or * (428 without)",
    ),
]


def _writable(collection_id: CollectionId) -> str:
    collection = registry.get(collection_id)
    if collection.id not in WRITABLE:
        raise MethodNotAllowed(
            f"collection {collection.id!r} is read-only", headers={"Allow": "GET"}
        )
    return collection.id


async def _raw_body(request: Request) -> bytes:
    return await request.body()


BodyDep = Annotated[bytes, Depends(_raw_body)]


def _feature_response(written: WrittenSite, base: str, status: int, caller: Caller) -> Response:
    location = f"{base}/collections/sites/items/{written.public_id}"
    extra: dict[str, Any] = {"links": [{"href": location, "rel": "self", "type": GEOJSON}]}
    if written.warnings:
        extra["warnings"] = [w.as_dict() for w in written.warnings]
    body = written.feature_json[:-1] + "," + dumps(extra).decode()[1:]
    headers = {"ETag": site_etag(written.version, caller), "Vary": "Authorization"}
    if status == 201:
        headers["Location"] = location
    return Response(body.encode(), status_code=status, media_type=GEOJSON, headers=headers)


@router.post(
    ITEMS,
    status_code=201,
    summary="Create a feature (sites; researcher or admin key)",
    response_class=Response,
    dependencies=[Depends(_writable)],
    responses={201: FEATURE_RESPONSE, **ERRORS},
    openapi_extra=FEATURE_BODY,
)
def create_item(
    caller: WriterDep,
    request: Request,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
) -> Response:
    document = json_body.parse(body, request.headers.get("content-type"), json_body.GEOJSON_TYPES)
    written = site_edits.create(session, boundaries, site_draft(document), caller)
    return _feature_response(written, base_url(request, settings), 201, caller)


@router.put(
    ITEM,
    summary="Replace a feature (sites; If-Match required)",
    response_class=Response,
    dependencies=[Depends(_writable)],
    responses={200: FEATURE_RESPONSE, **CHANGE_ERRORS},
    openapi_extra=FEATURE_BODY,
)
def replace_item(
    caller: WriterDep,
    feature_id: FeatureId,
    request: Request,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
    if_match: IfMatch = None,
) -> Response:
    condition = precondition(if_match)
    document = json_body.parse(body, request.headers.get("content-type"), json_body.GEOJSON_TYPES)

    def change(current: CurrentSite) -> SiteDraft:
        return site_draft(document, base=current.draft, feature_id=feature_id)

    written = site_edits.edit_site(session, boundaries, feature_id, condition, change, caller)
    return _feature_response(written, base_url(request, settings), 200, caller)


@router.patch(
    ITEM,
    summary="Update a feature with a JSON Merge Patch (sites; If-Match required)",
    response_class=Response,
    dependencies=[Depends(_writable)],
    responses={200: FEATURE_RESPONSE, **CHANGE_ERRORS},
    openapi_extra=PATCH_BODY,
)
def update_item(
    caller: WriterDep,
    feature_id: FeatureId,
    request: Request,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
    boundaries: BoundariesDep,
    if_match: IfMatch = None,
) -> Response:
    condition = precondition(if_match)
    patch = json_body.parse(body, request.headers.get("content-type"), json_body.MERGE_PATCH_TYPES)

    def change(current: CurrentSite) -> SiteDraft:
        merged = site_edits.apply_merge_patch(current.document, patch)
        return site_draft(merged, feature_id=feature_id)

    written = site_edits.edit_site(session, boundaries, feature_id, condition, change, caller)
    return _feature_response(written, base_url(request, settings), 200, caller)


@router.delete(
    ITEM,
    summary="Retire a feature (sites; kept, hidden from item lists; If-Match required)",
    response_class=Response,
    dependencies=[Depends(_writable)],
    responses={200: FEATURE_RESPONSE, **CHANGE_ERRORS},
)
def delete_item(
    caller: WriterDep,
    feature_id: FeatureId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    reason: Annotated[
        str,
        Query(
            min_length=1,
            max_length=REASON_MAX,
            pattern=r"^[^\x00]*[^\x00\s][^\x00]*$",
            description="Why the site is retired (kept with it)",
        ),
    ],
    if_match: IfMatch = None,
) -> Response:
    condition = precondition(if_match)
    written = site_edits.retire_site(session, feature_id, condition, reason, caller)
    return _feature_response(written, base_url(request, settings), 200, caller)
