"""``/maps/sites``: an embeddable HTML map with the same filters as the items endpoint."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.api import collections as registry
from app.api import params as p
from app.api.deps import CallerDep, ReadSessionDep, SettingsDep
from app.api.urls import base_url
from app.db import boundaries as boundary_repo
from app.db import sites as site_repo
from app.maps.assets import AssetUrls, ensure_assets, local_urls
from app.maps.labels import LANGUAGES, labels
from app.maps.sites_map import MapOptions, render_sites_map
from app.queries import FeatureQuery, PageRequest

router = APIRouter(tags=["Maps"])

MAP_PARAMS = ("bbox", "datetime", "kind", "mineral", "country", "lang", "limit")
MAP_MAX_SITES = 5000


def map_assets(request: Request, base: str) -> AssetUrls | None:
    """Local Leaflet URLs when the pinned assets are in the cache (fetched once per process)."""
    state = request.app.state
    if not hasattr(state, "map_assets_ok"):
        state.map_assets_ok = ensure_assets(state.settings.cache_dir)
    return local_urls(base) if state.map_assets_ok else None


@router.get("/maps/sites", response_class=HTMLResponse, summary="Map of the sites (HTML)")
def sites_map(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat"),
    datetime: str | None = Query(None, description="RFC 3339 instant or interval"),
    kind: str | None = Query(None, description="mine, sales_point"),
    mineral: str | None = Query(None, description="minerals, any language"),
    country: str | None = Query(None, description="ISO 3166-1 alpha-3 codes"),
    lang: str = Query("en", description="Labels: en, fr or pt"),
    limit: int | None = Query(None, description=f"Most sites drawn (up to {MAP_MAX_SITES})"),
) -> HTMLResponse:
    del bbox, datetime, kind, mineral, country, limit  # parsed below, like the items endpoint
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    p.reject_unknown(params, MAP_PARAMS)
    if lang not in LANGUAGES:
        raise p.bad("lang", f"must be one of {', '.join(LANGUAGES)}")
    most = p.parse_limit(p.single(params, "limit"), MAP_MAX_SITES, MAP_MAX_SITES)
    base_query = FeatureQuery(
        bbox=p.parse_bbox(p.single(params, "bbox")),
        datetime=p.parse_datetime(p.single(params, "datetime")),
    )
    query = registry.parse_site_filters(
        base_query, params, lambda: boundary_repo.border_pairs(session)
    )
    page = site_repo.page(session, query, PageRequest(most), caller)
    matched = site_repo.count(session, query, settings.count_exact_up_to)
    sites = orjson.loads('{"type":"FeatureCollection","features":[' + page.features_json + "]}")
    borders = orjson.loads(boundary_repo.borders_for_map(session))
    source = boundary_repo.active_source(session)
    note = None
    if page.has_more:
        note = labels(lang)["shown"].format(shown=page.returned, matched=matched or "?")
    options = MapOptions(
        lang=lang,
        tiles=settings.map_tiles,
        attribution=source.attribution if source else "",
        note=note,
    )
    base = base_url(request, settings)
    page_html = render_sites_map(sites, borders, options, map_assets(request, base))
    headers = {}
    if settings.frame_ancestors:
        headers["Content-Security-Policy"] = f"frame-ancestors {settings.frame_ancestors}"
    return HTMLResponse(page_html, headers=headers)
