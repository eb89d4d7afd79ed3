"""``/collections/{id}/schema`` (OGC API - Features Part 5) and ``/collections/{id}/feature-schema``
(the JSON Schema of one GeoJSON Feature, which GDAL's OAPIF driver reads through the
collection's ``describedby`` link). Both come from ``app.api.feature_schemas``.

Query parameters other than ``profile`` are ignored, not refused: GDAL appends the query of a
filtered collection URL (``?kind=mine``) to every request it makes, the schema's included.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api import collections as registry
from app.api import feature_schemas, profiles
from app.api.deps import SettingsDep
from app.api.ogc import CollectionId
from app.api.responses import dumps
from app.api.urls import base_url

router = APIRouter(tags=["OGC API - Features"])
SCHEMA_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {feature_schemas.SCHEMA_MEDIA_TYPE: {}}}
}
ProfileQuery = Query(None, description=profiles.DESCRIPTION)


def _schema_response(document: dict[str, object]) -> Response:
    return Response(dumps(document), media_type=feature_schemas.SCHEMA_MEDIA_TYPE)


@router.get(
    "/collections/{collectionId}/schema",
    summary="Schema of the collection's features (OGC API - Features Part 5)",
    response_class=Response,
    responses=SCHEMA_RESPONSE,
)
def collection_schema(
    request: Request,
    settings: SettingsDep,
    collection_id: CollectionId,
    profile: str | None = ProfileQuery,
) -> Response:
    del profile
    collection = registry.get(collection_id)
    asked = profiles.parse_profile({k: [v] for k, v in request.query_params.items()})
    href = f"{base_url(request, settings)}/collections/{collection.id}/schema"
    return _schema_response(feature_schemas.part5_schema(collection.id, href, asked))


@router.get(
    "/collections/{collectionId}/feature-schema",
    summary="JSON Schema of one GeoJSON Feature of the collection",
    response_class=Response,
    responses=SCHEMA_RESPONSE,
)
def collection_feature_schema(
    request: Request,
    settings: SettingsDep,
    collection_id: CollectionId,
    profile: str | None = ProfileQuery,
) -> Response:
    del profile
    collection = registry.get(collection_id)
    asked = profiles.parse_profile({k: [v] for k, v in request.query_params.items()})
    href = f"{base_url(request, settings)}/collections/{collection.id}/feature-schema"
    return _schema_response(feature_schemas.feature_schema(collection.id, href, asked))
