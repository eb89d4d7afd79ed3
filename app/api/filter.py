"""OGC API - Features Part 3 (filtering, 19-079r2) with CQL2 (21-065r2): ``/queryables``
and the ``filter`` / ``filter-lang`` parameters of items.

Parsing is ``app.collections.cql2`` (text or JSON to one tree); each collection's repository
translates the tree to SQL over its own fields (``app.db.cql2``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from app import collections as registry
from app.api.deps import CollectionId, SettingsDep
from app.api.responses import JSON
from app.api.urls import base_url
from app.collections.base import Parameter
from app.collections.cql2 import FILTER_LANGS, MAX_FILTER_CHARS, parse_filter_lang
from app.collections.parsing import text_value

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


def filter_parameters() -> tuple[Parameter, ...]:
    """``filter`` (kept as text until ``filter-lang`` is known) and ``filter-lang``."""
    return (
        Parameter(
            "filter",
            "CQL2 filter over the queryables (see /collections/{collectionId}/queryables), "
            "e.g. ACCENTI(CASEI(name)) = ACCENTI(CASEI('betare oya')) AND "
            "A_CONTAINS(minerals, ('diamond'))",
            {"type": "string"},
            lambda raw, _ctx: text_value("filter", raw, MAX_FILTER_CHARS),
        ),
        Parameter(
            "filter-lang",
            "Language of filter",
            {"type": "string", "enum": list(FILTER_LANGS), "default": FILTER_LANGS[0]},
            lambda raw, _ctx: parse_filter_lang(raw),
        ),
    )


@router.get(
    "/collections/{collectionId}/queryables",
    summary="Queryable properties of a collection (JSON Schema)",
    responses={200: {"content": {SCHEMA_JSON: {}}}},
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
