"""``/collections/{id}/schema`` (OGC API - Features Part 5) and ``/collections/{id}/feature-schema``
(the JSON Schema of one GeoJSON Feature, which GDAL's OAPIF driver reads through the
collection's ``describedby`` link), both rendered by ``app.api.feature_schemas`` from the
provider's ``schema()``.

Besides ``profile``, ``f`` and ``lang``, the items parameters of the collection are taken and
ignored (GDAL appends the query of a filtered collection URL, ``?kind=mine``, to every request
it makes, the schema's included); any other parameter is a 400 naming it
(``app.api.params.reject_undeclared_ogc_query``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app import collections as registry
from app.api import feature_schemas, profiles
from app.api import params as p
from app.api.deps import CollectionId, SettingsDep, json_parameters
from app.api.responses import dumps
from app.api.urls import base_url
from app.collections.base import Provider

router = APIRouter(tags=["OGC API - Features"])
SCHEMA_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {feature_schemas.SCHEMA_MEDIA_TYPE: {}}}
}
Profile = Annotated[
    str | None,
    Query(
        description=profiles.PARAMETER.description,
        json_schema_extra={"enum": list(profiles.PROFILES)},
    ),
]
QUERY = [Depends(json_parameters), Depends(p.reject_undeclared_ogc_query)]
Render = Callable[[Provider, str, str | None], dict[str, Any]]
RENDERERS: dict[str, Render] = {
    "schema": feature_schemas.part5_schema,
    "feature-schema": feature_schemas.feature_schema,
}


def _schema(request: Request, settings: SettingsDep, collection_id: str, leaf: str) -> Response:
    provider = registry.get(collection_id)
    asked = profiles.profile_of(request.query_params.multi_items())
    profile = profiles.chosen(asked, request.headers.get("user-agent"))
    href = f"{base_url(request, settings)}/collections/{provider.id}/{leaf}"
    document = RENDERERS[leaf](provider, href, profile)
    return Response(
        dumps(document),
        media_type=feature_schemas.SCHEMA_MEDIA_TYPE,
        headers={"Vary": "User-Agent"},
    )


@router.get(
    "/collections/{collectionId}/schema",
    summary="Schema of the collection's features (OGC API - Features Part 5)",
    response_class=Response,
    responses=SCHEMA_RESPONSE,
    dependencies=QUERY,
)
def collection_schema(
    request: Request, settings: SettingsDep, collection_id: CollectionId, profile: Profile = None
) -> Response:
    del profile  # read from the query (with the item parameters GDAL sends, ignored)
    return _schema(request, settings, collection_id, "schema")


@router.get(
    "/collections/{collectionId}/feature-schema",
    summary="JSON Schema of one GeoJSON Feature of the collection (its describedby link)",
    response_class=Response,
    responses=SCHEMA_RESPONSE,
    dependencies=QUERY,
)
def collection_feature_schema(
    request: Request, settings: SettingsDep, collection_id: CollectionId, profile: Profile = None
) -> Response:
    del profile
    return _schema(request, settings, collection_id, "feature-schema")
