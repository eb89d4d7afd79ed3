"""``/maps/sites``: an embeddable HTML map with the same filters as the items endpoint."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.api import params as p
from app.api.core import parse_context
from app.api.deps import (
    BoundariesDep,
    CallerDep,
    ReadSessionDep,
    SessionFactoryDep,
    SettingsDep,
    release_connection,
)
from app.api.hardening import generated_page_policy
from app.api.urls import base_url
from app.collections import clusters as cluster_collection
from app.collections import sites as site_collection
from app.collections.base import Parameter, ParseContext, ReadContext
from app.collections.parsing import one_of
from app.db import boundaries as boundary_repo
from app.db import sites as site_repo
from app.maps.assets import AssetUrls, ensure_assets, local_urls
from app.maps.clusters_map import render_clusters_map
from app.maps.common import MapOptions, tile_origins
from app.maps.labels import LANGUAGES, labels
from app.maps.sites_map import render_sites_map
from app.queries import Caller, PageRequest, SiteQuery
from app.services import zones
from app.services.border_bands import MAX_BAND_KM, MIN_BAND_KM, REQUEST_WAIT_S, border_band
from app.services.boundary_state import BoundarySet
from app.settings import Settings

router = APIRouter(tags=["Maps"])

BAND_STYLE = {"color": "#e67e22", "weight": 1, "fillColor": "#e67e22", "fillOpacity": 0.12}
MAX_BAND_BORDERS = 12
# Wider bands are not drawn: they cover the region anyway, and a geodesic buffer of a
# border thousands of km wide folds over itself.
MAP_MAX_SITES = 5000


def map_assets(request: Request) -> AssetUrls | None:
    """Local Leaflet URLs (relative to the page) when the pinned assets are in the cache
    (fetched once per process)."""
    state = request.app.state
    if not hasattr(state, "map_assets_ok"):
        state.map_assets_ok = ensure_assets(state.settings.cache_dir)
    return local_urls() if state.map_assets_ok else None


def _bands(
    query: SiteQuery, sites: dict[str, Any], boundaries: BoundarySet, lang: str
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The distance band asked for: around the asked border, or around the borders nearest
    to the sites shown when only ``within_km`` is given."""
    if query.within_km is None or not MIN_BAND_KM <= query.within_km <= MAX_BAND_KM:
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
    band = border_band(boundaries, pairs, query.within_km, wait_s=REQUEST_WAIT_S)
    return [(label, {"type": "Feature", "geometry": band, "properties": {}}, BAND_STYLE)]


def _map_parameters(extra: tuple[Parameter, ...], most: int) -> tuple[Parameter, ...]:
    return (
        Parameter(
            "bbox",
            "minLon,minLat,maxLon,maxLat (CRS84)",
            p.BBOX_SCHEMA,
            lambda raw, _ctx: p.bbox_numbers(raw),
        ),
        Parameter(
            "lang",
            "Labels: " + ", ".join(LANGUAGES),
            {"type": "string", "enum": list(LANGUAGES), "default": "en"},
            lambda raw, _ctx: one_of("lang", raw, LANGUAGES),
        ),
        Parameter(
            "limit",
            f"Most features drawn (1 to {most})",
            {"type": "integer", "minimum": 1, "maximum": most, "default": most},
            lambda raw, _ctx: p.parse_limit(raw, most),
        ),
        *extra,
    )


SITE_MAP_PARAMETERS = _map_parameters(
    (
        Parameter(
            "datetime",
            "RFC 3339 instant or interval",
            {"type": "string"},
            lambda raw, _ctx: p.parse_datetime(raw),
        ),
        *site_collection.PARAMETERS,
    ),
    MAP_MAX_SITES,
)


def _parse(request: Request, declared: tuple[Parameter, ...], ctx: ParseContext) -> dict[str, Any]:
    return p.parse_query(request.query_params.multi_items(), declared, ctx)


@router.get(
    "/maps/sites",
    response_class=HTMLResponse,
    summary="Map of the sites (HTML)",
    openapi_extra={"parameters": [param.openapi() for param in SITE_MAP_PARAMETERS]},
)
def sites_map(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    boundaries: BoundariesDep,
) -> HTMLResponse:
    values = _parse(request, SITE_MAP_PARAMETERS, parse_context(session))
    lang = values.get("lang", "en")
    query = site_collection.PROVIDER.parse(p.feature_query(values), values)
    base = base_url(request, settings)
    # popups show public attributes only: restricted values are not even read
    context = ReadContext(session, caller.public_view, base, settings.count_exact_up_to)
    page = site_collection.PROVIDER.page(
        context, query, PageRequest(values.get("limit", MAP_MAX_SITES))
    )
    sites = orjson.loads('{"type":"FeatureCollection","features":[' + page.features_json + "]}")
    borders = orjson.loads(boundary_repo.borders_for_map(session))
    source = boundary_repo.active_source(session)
    note = None
    if page.has_more:
        matched = page.number_matched or "?"
        note = labels(lang)["shown"].format(shown=page.returned, matched=matched)
    zone_layers = zones.map_layers(session, lang)
    # no more reads: the connection goes back before the band and the page are drawn
    release_connection(session)
    options = MapOptions(
        lang=lang,
        tiles=settings.map_tiles,
        attribution=source.attribution if source else "",
        note=note,
        highlight_pairs=query.border.pairs if query.border else (),
        extra_layers=[*_bands(query, sites, boundaries, lang), *zone_layers],
    )
    page_html = render_sites_map(sites, borders, options, map_assets(request))
    return HTMLResponse(page_html, headers=_page_headers(page_html, settings))


MAP_MAX_CLUSTERS = 500
MAP_MAX_MEMBERS = 5000
CLUSTER_MAP_PARAMETERS = _map_parameters(cluster_collection.PARAMETERS, MAP_MAX_CLUSTERS)


@router.get(
    "/maps/clusters",
    response_class=HTMLResponse,
    summary="Map of clusters (HTML); cross_border_only defaults to true here",
    openapi_extra={"parameters": [param.openapi() for param in CLUSTER_MAP_PARAMETERS]},
)
def clusters_map(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    open_writer: SessionFactoryDep,
) -> HTMLResponse:
    values: dict[str, Any] = {"cross_border_only": True}
    values |= _parse(request, CLUSTER_MAP_PARAMETERS, parse_context(session))
    lang: str = values.get("lang", "en")
    query = cluster_collection.PROVIDER.parse(p.feature_query(values), values)
    base = base_url(request, settings)
    context = ReadContext(session, caller.public_view, base, None, open_writer)
    page = cluster_collection.PROVIDER.page(
        context, query, PageRequest(values.get("limit", MAP_MAX_CLUSTERS))
    )
    clusters = orjson.loads('{"type":"FeatureCollection","features":[' + page.features_json + "]}")
    members = _cluster_members(session, clusters, caller)
    source = boundary_repo.active_source(session)
    options = MapOptions(
        lang=lang,
        tiles=settings.map_tiles,
        attribution=source.attribution if source else "",
        note=_clustering_note(page.extra["clustering"]),
        title=labels(lang)["clusters_title"],
        highlight_pairs=query.border.pairs if query.border else (),
    )
    borders = orjson.loads(boundary_repo.borders_for_map(session))
    release_connection(session)  # no more reads: not held while the page is drawn
    page_html = render_clusters_map(clusters, members, borders, options, map_assets(request))
    return HTMLResponse(page_html, headers=_page_headers(page_html, settings))


def _cluster_members(session: Session, clusters: dict[str, Any], caller: Caller) -> Any:
    """The member sites of the clusters (at most ``MAP_MAX_MEMBERS``) as a FeatureCollection,
    as the caller's public view shows them."""
    member_ids = [
        member["id"] for c in clusters["features"] for member in c["properties"]["members"]
    ][:MAP_MAX_MEMBERS]
    return orjson.loads(
        '{"type":"FeatureCollection","features":['
        + site_repo.features_of(session, member_ids, caller.public_view)
        + "]}"
    )


def _clustering_note(meta: object) -> str:
    """The map's line on how the clusters were made (and why, if the distance asked for was
    not the one used)."""
    assert isinstance(meta, dict)
    note = f"eps {meta['eps_km_used']:g} km, ≥ {meta['min_sites']} sites"
    if meta["eps_km_used"] != meta["eps_km_asked"]:
        note += f" (asked {meta['eps_km_asked']:g} km: {meta['percolation'].get('reason', '')})"
    return note


def _page_headers(page_html: str, settings: Settings) -> dict[str, str]:
    """The map's own CSP: its inline scripts by hash, tiles from the configured host
    (``frame-ancestors`` is added for every HTML page by the hardening middleware)."""
    policy = generated_page_policy(page_html, img_sources=tile_origins(settings.map_tiles))
    return {"Content-Security-Policy": policy}
