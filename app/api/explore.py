"""``/maps/explore``: the large-data map on the vector tiles, and ``/maps/bands``, the distance
band it draws (GeoJSON in true metres).

Every parameter of the page is declared once here (view: ``center``, ``zoom``, ``layers``,
``embed``, ``lang``; filters: the sites items parameters), so a shared URL that asks for
something the service cannot draw is a 400 problem naming the parameter, never a blank map.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app import collections as registry
from app.api import etags
from app.api import params as p
from app.api.core import parse_context
from app.api.deps import BoundariesDep, ReadSessionDep, SettingsDep, release_connection
from app.api.responses import GEOJSON
from app.api.urls import base_url
from app.collections import sites as site_collection
from app.collections.base import Parameter, ParseContext, Provider
from app.collections.parameters import border_parameter
from app.collections.parsing import bad, boolean, number_in, one_of, text_value
from app.db import boundaries as boundary_repo
from app.errors import ServiceUnavailable
from app.html.negotiation import LANGUAGES
from app.maps import explore
from app.maps.assets import MapLibreUrls, ensure_assets, maplibre_urls
from app.services.border_bands import CACHE_CONTROL as BANDS_CACHE_CONTROL
from app.services.border_bands import (
    MAX_BAND_KM,
    MIN_BAND_KM,
    REQUEST_WAIT_S,
    band_tag,
    border_band,
)
from app.services.boundary_state import BoundarySet

router = APIRouter(tags=["Maps"])


def _center(raw: str, _ctx: ParseContext) -> tuple[float, float]:
    parts = text_value("center", raw, 60).split(",")
    if len(parts) != 2:
        raise bad("center", "give lon,lat in degrees (EPSG:4326), e.g. 15.5,4.2")
    return (number_in("center", parts[0], -180, 180), number_in("center", parts[1], -85, 85))


def _tiled() -> list[Provider]:
    """The collections the map can draw: those that serve vector tiles."""
    return [c for c in registry.PROVIDERS if c.tile_fields() is not None]


def _layers(raw: str, _ctx: ParseContext) -> tuple[str, ...]:
    known = (*(c.id for c in _tiled()), explore.BAND_LAYER)
    asked = tuple(dict.fromkeys(v.strip() for v in text_value("layers", raw, 500).split(",")))
    unknown = [name for name in asked if name and name not in known]
    if unknown:
        raise bad("layers", f"unknown layer {unknown[0][:40]!r}; layers are {', '.join(known)}")
    return tuple(name for name in asked if name)


VIEW_PARAMETERS = (
    Parameter(
        "center",
        "Map centre lon,lat (EPSG:4326); the page keeps it up to date",
        {"type": "string", "pattern": r"^-?[\d.]+,-?[\d.]+$"},
        _center,
    ),
    Parameter(
        "zoom",
        f"Zoom level of WebMercatorQuad (0 to {explore.MAX_ZOOM:g})",
        {"type": "number", "minimum": 0, "maximum": explore.MAX_ZOOM},
        lambda raw, _ctx: number_in("zoom", raw, 0, explore.MAX_ZOOM),
    ),
    Parameter(
        "layers",
        "Layers shown, comma-separated: collection ids and `bands`",
        {"type": "array", "items": {"type": "string"}},
        _layers,
    ),
    Parameter(
        "embed",
        "true: the map alone, for an iframe (no header, no filter panel)",
        {"type": "boolean", "default": False},
        lambda raw, _ctx: boolean("embed", raw),
    ),
    Parameter(
        "lang",
        "Page language: " + ", ".join(LANGUAGES),
        {"type": "string", "enum": list(LANGUAGES), "default": "en"},
        lambda raw, _ctx: one_of("lang", raw, LANGUAGES),
    ),
)
FILTER_PARAMETERS = (
    Parameter(
        "datetime",
        "RFC 3339 instant or interval",
        {"type": "string"},
        lambda raw, _ctx: p.parse_datetime(raw),
    ),
    *p.filter_parameters(),
    *site_collection.PARAMETERS,
)
EXPLORE_PARAMETERS = (*VIEW_PARAMETERS, *FILTER_PARAMETERS)
BAND_PARAMETERS = (
    border_parameter("A border pair (CAF-CMR) or a country (CMR); none: every border"),
    Parameter(
        "within_km",
        f"Band width in geodesic km ({MIN_BAND_KM:g} to {MAX_BAND_KM:g}: narrower bands are "
        "not drawn)",
        {"type": "number", "minimum": MIN_BAND_KM, "maximum": MAX_BAND_KM},
        lambda raw, _ctx: number_in("within_km", raw, MIN_BAND_KM, MAX_BAND_KM, "km"),
    ),
)


def _openapi(declared: tuple[Parameter, ...]) -> dict[str, Any]:
    return {"parameters": [parameter.openapi() for parameter in declared]}


@router.get(
    "/maps/explore",
    response_class=HTMLResponse,
    summary="Map of every site on the vector tiles (HTML; embeddable with embed=true)",
    openapi_extra=_openapi(EXPLORE_PARAMETERS),
)
def explore_map(
    request: Request, session: ReadSessionDep, settings: SettingsDep, boundaries: BoundariesDep
) -> HTMLResponse:
    items = request.query_params.multi_items()
    values = p.parse_query(items, EXPLORE_PARAMETERS, parse_context(session))
    query = site_collection.PROVIDER.parse(p.feature_query(values), values)
    site_collection.PROVIDER.check_filter(query)  # what the tiles would refuse is a 400 here
    base, lang = base_url(request, settings), values.get("lang", "en")
    collections = [(c.id, c.title) for c in _tiled()]
    source = boundary_repo.active_source(session)
    page = explore.render_explore(
        base=base,
        lang=lang,
        embed=values.get("embed", False),
        page_path=request.url.path,
        layer_list=explore.layers(collections, values.get("layers"), lang, "within_km" in values),
        center=values.get("center", explore.DEFAULT_CENTER),
        zoom=values.get("zoom", explore.DEFAULT_ZOOM),
        filters={k: v for k, v in items if k in explore.FILTERS},
        choices=_choices(boundaries, lang),
        attribution=source.attribution if source else "",
        assets=_assets(request, base),
        languages=[(code, f"?{urlencode(_with_lang(items, code))}") for code in LANGUAGES],
    )
    return HTMLResponse(page)


@router.get(
    "/maps/bands",
    summary="The band within within_km of a border, or of every border (GeoJSON)",
    openapi_extra=_openapi(BAND_PARAMETERS),
    responses={200: {"content": {GEOJSON: {}}}},
)
def bands(request: Request, session: ReadSessionDep, boundaries: BoundariesDep) -> Response:
    values = p.parse_query(
        request.query_params.multi_items(), BAND_PARAMETERS, parse_context(session)
    )
    if "within_km" not in values:
        raise bad("within_km", "required: the width of the band in km")
    border = values.get("border")
    pairs = border.pairs if border else tuple(b.pair_code for b in boundaries.borders)
    named, within_km = (border.asked if border else None), values["within_km"]
    tag = band_tag(boundaries, pairs, within_km, named)
    headers = {"ETag": tag, "Cache-Control": BANDS_CACHE_CONTROL}
    if unchanged := etags.not_modified(request.headers.get("if-none-match"), tag, headers):
        return unchanged  # known before drawing: a revalidation draws nothing
    # no more reads: the connection goes back before the band waits for its turn and is drawn
    release_connection(session)
    geometry = border_band(boundaries, pairs, within_km, wait_s=REQUEST_WAIT_S)
    body = _band_collection(geometry, within_km, named)
    return Response(body, media_type=GEOJSON, headers=headers)


def _band_collection(geometry: dict[str, Any], within_km: float, named: str | None) -> bytes:
    """The band as a GeoJSON FeatureCollection of one Feature."""
    properties = {"within_km": within_km, "border": named}
    feature = {"type": "Feature", "geometry": geometry, "properties": properties}
    return orjson.dumps({"type": "FeatureCollection", "features": [feature]})


def _with_lang(items: list[tuple[str, str]], lang: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in items if k != "lang"] + [("lang", lang)]


def _choices(boundaries: BoundarySet, lang: str) -> dict[str, Any]:
    pairs = sorted(border.pair_code for border in boundaries.borders)
    return explore.vocabularies(lang, boundaries.country_codes, pairs)


def _assets(request: Request, base: str) -> MapLibreUrls:
    state = request.app.state
    if not hasattr(state, "map_assets_ok"):
        state.map_assets_ok = ensure_assets(state.settings.cache_dir)
    if not state.map_assets_ok:  # never a CDN: the page would not work offline or under CSP
        raise ServiceUnavailable("the map's MapLibre GL JS files could not be fetched (npm)")
    return maplibre_urls(base)
