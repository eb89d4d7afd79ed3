"""Collection documents (``/collections/{id}``): links, extents, CRS, attribution."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from app.api.collections import Collection
from app.api.feature_schemas import REL_SCHEMA, SCHEMA_MEDIA_TYPE
from app.api.responses import GEOJSON
from app.api.urls import base_url
from app.db import boundaries as boundary_repo
from app.db import sites as site_repo
from app.settings import Settings

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
EXTENT_TTL_S = 60.0

_extent_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _extent(session: Session, collection: Collection) -> dict[str, Any]:
    """Spatial (and for sites temporal) extent, cached briefly: it costs a scan on big tables."""
    cached = _extent_cache.get(collection.id)
    if cached and time.monotonic() - cached[0] < EXTENT_TTL_S:
        return cached[1]
    extent: dict[str, Any] = {}
    box = boundary_repo.extent(session)
    if box is not None:
        extent["spatial"] = {"bbox": [list(box)], "crs": CRS84}
    if collection.temporal:
        first, last = site_repo.temporal_extent(session)
        if first is not None:
            extent["temporal"] = {
                "interval": [
                    [
                        f"{first.isoformat()}T00:00:00Z",
                        f"{last.isoformat()}T23:59:59Z" if last else None,
                    ]
                ],
                "trs": GREGORIAN,
            }
    _extent_cache[collection.id] = (time.monotonic(), extent)
    return extent


def collection_document(
    request: Request, session: Session, settings: Settings, collection: Collection
) -> dict[str, Any]:
    base = base_url(request, settings)
    href = f"{base}/collections/{collection.id}"
    links: list[dict[str, str]] = [
        {"href": href, "rel": "self", "type": "application/json", "title": collection.title},
        {"href": f"{href}/items", "rel": "items", "type": GEOJSON, "title": "Features"},
        {
            "href": f"{href}/schema",
            "rel": REL_SCHEMA,
            "type": SCHEMA_MEDIA_TYPE,
            "title": "Schema of the features' properties (OGC API - Features Part 5)",
        },
        {
            "href": f"{href}/feature-schema",
            "rel": "describedby",
            "type": SCHEMA_MEDIA_TYPE,
            "title": "JSON Schema of one GeoJSON Feature",
        },
    ]
    document: dict[str, Any] = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "links": links,
    }
    if collection.id == "sites":
        links.append(
            {
                "href": f"{base}/maps/sites",
                "rel": "alternate",
                "type": "text/html",
                "title": "Map of the sites",
            }
        )
    source = boundary_repo.active_source(session)
    if source is not None:
        document["attribution"] = source.attribution
        document["boundarySource"] = {
            "id": source.id,
            "name": source.name,
            "version": source.version,
            "licence": source.licence,
        }
        if source.licence_url:
            links.append(
                {
                    "href": source.licence_url,
                    "rel": "license",
                    "type": "text/html",
                    "title": f"Boundary data licence: {source.licence}",
                }
            )
    extent = _extent(session, collection)
    if extent:
        document["extent"] = extent
    return document
