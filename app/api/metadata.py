"""Collection documents (``/collections/{id}``): links, extents, CRS, attribution."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from app.api.crs import OFFERED_URIS, STORAGE_CRS
from app.api.feature_schemas import REL_SCHEMA, SCHEMA_MEDIA_TYPE
from app.api.responses import GEOJSON
from app.collections.base import Extent, Link, Provider
from app.db import boundaries as boundary_repo
from app.db import clusters as cluster_repo

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
EXTENT_TTL_S = 60.0
REL_TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"

_extent_cache: dict[tuple[str, int], tuple[float, Extent]] = {}


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    item = {"href": href, "rel": rel, "type": type_}
    if title:
        item["title"] = title
    return item


def link_dict(value: Link) -> dict[str, str]:
    return link(value.href, value.rel, value.type, value.title)


def _extent(session: Session, provider: Provider) -> dict[str, Any]:
    """The provider's extent, cached briefly (it costs a scan on big tables) and only for the
    version of the sites it was computed on: a write shows in the next document."""
    key = (provider.id, cluster_repo.sites_version(session))
    cached = _extent_cache.get(key)
    if cached and time.monotonic() - cached[0] < EXTENT_TTL_S:
        extent = cached[1]
    else:
        extent = provider.extent(session)
        if len(_extent_cache) > 64:  # old versions are never asked for again
            _extent_cache.clear()
        _extent_cache[key] = (time.monotonic(), extent)
    document: dict[str, Any] = {}
    if extent.bbox is not None:
        document["spatial"] = {"bbox": [list(extent.bbox)], "crs": CRS84}
    if extent.interval is not None:
        document["temporal"] = {"interval": [list(extent.interval)], "trs": GREGORIAN}
    return document


def collection_document(session: Session, base: str, provider: Provider) -> dict[str, Any]:
    href = f"{base}/collections/{provider.id}"
    links: list[dict[str, str]] = [
        link(href, "self", "application/json", provider.title),
        link(f"{href}/items", "items", GEOJSON, "Features"),
        link(f"{href}/schema", REL_SCHEMA, SCHEMA_MEDIA_TYPE, "Schema of the features (Part 5)"),
        # GDAL's OAPIF driver types its fields from this one (see app.api.feature_schemas).
        link(f"{href}/feature-schema", "describedby", SCHEMA_MEDIA_TYPE, "One GeoJSON Feature"),
        *(link_dict(extra) for extra in provider.links(base)),
    ]
    if provider.tile_fields() is not None:  # OGC API - Tiles (app.api.tiles)
        links.append(link(f"{href}/tiles", REL_TILESETS_VECTOR, "application/json", "Vector tiles"))
    document: dict[str, Any] = {
        "id": provider.id,
        "title": provider.title,
        "description": provider.description,
        "itemType": "feature",
        "crs": OFFERED_URIS,
        "storageCrs": STORAGE_CRS,
        "links": links,
    }
    if provider.keywords:
        document["keywords"] = list(provider.keywords)
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
                link(
                    source.licence_url,
                    "license",
                    "text/html",
                    f"Boundary data licence: {source.licence}",
                )
            )
    extent = _extent(session, provider)
    if extent:
        document["extent"] = extent
    return document
