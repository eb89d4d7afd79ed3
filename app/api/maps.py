"""``/maps/sites``: an embeddable HTML map with the same filters as the items endpoint."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.api import cluster_collection
from app.api import collections as registry
from app.api import params as p
from app.api.deps import (
    BoundariesDep,
    CallerDep,
    ReadSessionDep,
    SessionFactoryDep,
    SettingsDep,
)
from app.api.reading import ReadContext
from app.api.urls import base_url
from app.db import boundaries as boundary_repo
from app.db import sites as site_repo
from app.maps.assets import AssetUrls, ensure_assets, local_urls
from app.maps.clusters_map import render_clusters_map
from app.maps.common import MapOptions
from app.maps.labels import LANGUAGES, labels
from app.maps.sites_map import render_sites_map
from app.queries import FeatureQuery, PageRequest, SiteQuery
from app.services.border_bands import border_band
from app.services.boundary_state import BoundarySet
from app.settings import Settings

router = APIRouter(tags=["Maps"])

MAP_PARAMS = (
    "bbox",
    "datetime",
    "kind",
    "mineral",
    "country",
    "status",
    "include_retired",
    "border",
    "within_km",
    "lang",
    "limit",
)
BAND_STYLE = {"color": "#e67e22", "weight": 1, "fillColor": "#e67e22", "fillOpacity": 0.12}
MAX_BAND_BORDERS = 12
MAP_MAX_SITES = 5000


def map_assets(request: Request, base: str) -> AssetUrls | None:
    """Local Leaflet URLs when the pinned assets are in the cache (fetched once per process)."""
    state = request.app.state
    if not hasattr(state, "map_assets_ok"):
        state.map_assets_ok = ensure_assets(state.settings.cache_dir)
    return local_urls(base) if state.map_assets_ok else None


def _bands(
    query: SiteQuery, sites: dict[str, Any], boundaries: BoundarySet, lang: str
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The distance band asked for: around the asked border, or around the borders nearest
    to the sites shown when only ``within_km`` is given."""
    if query.within_km is None:
        return []
    if query.border is not None:
        pairs, named = query.border.pairs, query.border.asked
    else:
        nearest = {f["properties"].get("border_pair") for f in sites["features"]} - {None}
        pairs = tuple(sorted(nearest))[:MAX_BAND_BORDERS]
        named = ", ".join(pairs)
    if not pairs:
        return []
    label = labels(lang)["band"].format(km=query.within_km, border=named)
    band = border_band(boundaries, pairs, query.within_km)
    return [(label, {"type": "Feature", "geometry": band, "properties": {}}, BAND_STYLE)]


@router.get("/maps/sites", response_class=HTMLResponse, summary="Map of the sites (HTML)")
def sites_map(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    boundaries: BoundariesDep,
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat"),
    datetime: str | None = Query(None, description="RFC 3339 instant or interval"),
    kind: str | None = Query(None, description="mine, sales_point"),
    mineral: str | None = Query(None, description="minerals, any language"),
    country: str | None = Query(None, description="ISO 3166-1 alpha-3 codes"),
    status: str | None = Query(None, description=registry.STATUS_DOC),
    include_retired: Literal["true", "false"] | None = Query(
        None, description=registry.INCLUDE_RETIRED_DOC
    ),
    border: str | None = Query(
        None, description="A border pair (CAF-CMR) or a country: highlighted"
    ),
    within_km: float | None = Query(None, description="Distance band drawn around the border"),
    lang: str = Query("en", description="Labels: en, fr or pt"),
    limit: int | None = Query(None, description=f"Most sites drawn (up to {MAP_MAX_SITES})"),
) -> HTMLResponse:
    del bbox, datetime, kind, mineral, country, status, include_retired, border, within_km, limit
    params = _multi_params(request)
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
        highlight_pairs=query.border.pairs if query.border else (),
        extra_layers=_bands(query, sites, boundaries, lang),
    )
    base = base_url(request, settings)
    page_html = render_sites_map(sites, borders, options, map_assets(request, base))
    return HTMLResponse(page_html, headers=_frame_headers(settings))


CLUSTER_MAP_PARAMS = ("bbox", "lang", "limit", *cluster_collection.EXTRA_PARAMS)
MAP_MAX_CLUSTERS = 500
MAP_MAX_MEMBERS = 5000


@router.get("/maps/clusters", response_class=HTMLResponse, summary="Map of clusters (HTML)")
def clusters_map(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    open_writer: SessionFactoryDep,
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat"),
    eps_km: float | None = Query(None, description="Clustering radius (default 5 km)"),
    min_sites: int | None = Query(None, description="Smallest cluster (default 3)"),
    adapt: bool | None = Query(None, description="Shrink eps when one cluster takes the map"),
    cross_border_only: bool | None = Query(None, description="Default true on this map"),
    border: str | None = Query(None, description="A pair (both countries) or a country"),
    lang: str = Query("en", description="Labels: en, fr or pt"),
    limit: int | None = Query(None, description=f"Most clusters drawn (up to {MAP_MAX_CLUSTERS})"),
) -> HTMLResponse:
    del bbox, eps_km, min_sites, adapt, cross_border_only, border, limit  # parsed below
    params = _multi_params(request)
    p.reject_unknown(params, CLUSTER_MAP_PARAMS)
    if lang not in LANGUAGES:
        raise p.bad("lang", f"must be one of {', '.join(LANGUAGES)}")
    if "cross_border_only" not in params:
        params["cross_border_only"] = ["true"]
    most = p.parse_limit(p.single(params, "limit"), MAP_MAX_CLUSTERS, MAP_MAX_CLUSTERS)
    query = cluster_collection.parse_cluster_filters(
        FeatureQuery(bbox=p.parse_bbox(p.single(params, "bbox"))),
        params,
        lambda: boundary_repo.border_pairs(session),
    )
    base = base_url(request, settings)
    view = cluster_collection.view_for(ReadContext(session, caller, base, None, open_writer), query)
    shown = [c for c in view.clusters if cluster_collection.matches(c, query)][:most]
    clusters = {
        "type": "FeatureCollection",
        "features": [orjson.loads(cluster_collection.feature_json(c, view, base)) for c in shown],
    }
    member_ids = [site for c in shown for site in c.member_ids][:MAP_MAX_MEMBERS]
    members = orjson.loads(
        '{"type":"FeatureCollection","features":['
        + site_repo.features_of(session, member_ids, caller)
        + "]}"
    )
    source = boundary_repo.active_source(session)
    meta = view.metadata()
    note = f"eps {meta['eps_km_used']:g} km, ≥ {meta['min_sites']} sites"
    if meta["eps_km_used"] != meta["eps_km_asked"]:
        note += f" (asked {meta['eps_km_asked']:g} km: {meta['percolation'].get('reason', '')})"
    options = MapOptions(
        lang=lang,
        tiles=settings.map_tiles,
        attribution=source.attribution if source else "",
        note=note,
        title=labels(lang)["clusters_title"],
        highlight_pairs=query.border.pairs if query.border else (),
    )
    borders = orjson.loads(boundary_repo.borders_for_map(session))
    page_html = render_clusters_map(clusters, members, borders, options, map_assets(request, base))
    return HTMLResponse(page_html, headers=_frame_headers(settings))


def _multi_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


def _frame_headers(settings: Settings) -> dict[str, str]:
    if settings.frame_ancestors:
        return {"Content-Security-Policy": f"frame-ancestors {settings.frame_ancestors}"}
    return {}
