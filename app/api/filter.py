"""OGC API - Features Part 3 (filtering, 19-079r2) with CQL2 (21-065r2): ``/queryables``
(the ``filter`` / ``filter-lang`` parameters of items are declared with the others in
``app.api.params``).

Parsing is ``app.collections.cql2`` (text or JSON to one tree); each collection's repository
translates the tree to SQL over its own fields (``app.db.cql2``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from app import collections as registry
from app.api import params as p
from app.api.deps import CollectionId, SettingsDep, json_parameters
from app.api.responses import JSON
from app.api.urls import base_url

router = APIRouter(tags=["OGC API - Features - Part 3: Filtering"])

CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    *(
        CQL2 + name
        for name in (
            "cql2-text",
            "cql2-json",
            "basic-cql2",
            "advanced-comparison-operators",
            "case-insensitive-comparison",
            "accent-insensitive-comparison",
            "basic-spatial-functions",
            "basic-spatial-functions-plus",
            "spatial-functions",
            "temporal-functions",
            "array-functions",
            "property-property",
        )
    ),
]
SCHEMA_JSON = "application/schema+json"


@router.get(
    "/collections/{collectionId}/queryables",
    summary="Queryable properties of a collection (JSON Schema)",
    responses={200: {"content": {SCHEMA_JSON: {}}}},
    dependencies=[Depends(json_parameters), Depends(p.reject_undeclared_ogc_query)],
)
def queryables(request: Request, settings: SettingsDep, collection_id: CollectionId) -> JSON:
    provider = registry.get(collection_id)
    href = f"{base_url(request, settings)}/collections/{provider.id}/queryables"
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": href,
        "type": "object",
        "title": provider.title,
        "properties": {name: q.schema for name, q in provider.queryables().items()},
        "additionalProperties": False,
    }
    return JSON(document, media_type=SCHEMA_JSON)
