"""The large-data map (``/maps/explore``): MapLibre GL JS drawing the service's own vector tiles.

The Folium pages (``/maps/sites``, ``/maps/clusters``) ship every feature in the page and stay
for small selections and reports; this page ships none. The browser asks the OGC API - Tiles
routes for Mapbox Vector Tiles (``/collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}``, the
items' filter parameters appended for the sites), one MVT layer per collection, named by the
collection id. At low zooms the sites tiles hold aggregated points carrying ``point_count``.

Everything a reader can change lives in the page URL (filters, centre, zoom, layers,
language, ``embed``), and the page script keeps the URL up to date as the map moves, so any
view can be shared or embedded as it is. No DB access here: the route hands in what it read.

The page config is a JSON document the server writes into the page (never executed):

* ``layers``: one entry per collection of the registry (so a new collection, ``zones`` for one,
  appears without touching this module) plus the distance band: ``id``, ``title`` (in the page
  language), ``style`` (how the script draws it), ``on`` (shown at load), ``filtered`` (the
  sites filters apply to its tiles);
* ``view``: ``center`` ``[lon, lat]`` (EPSG:4326) and ``zoom`` (WebMercatorQuad level);
* ``filters``: the raw filter parameters of the URL (name -> text);
* ``words``: every text the script shows, from the EN/FR/PT catalogues.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from app.html import i18n
from app.html.templating import environment
from app.maps.assets import MapLibreUrls
from app.maps.common import KIND_COLOURS
from geo.vocab import minerals, site_kinds

TILE_MATRIX_SET = "WebMercatorQuad"
#: The region the service is about: where a map with no centre in its URL opens.
DEFAULT_CENTER = (20.0, 2.0)
DEFAULT_ZOOM = 4.0
MAX_ZOOM = 22.0
BAND_LAYER = "bands"
#: How the script draws each known collection; any other collection is drawn by geometry type.
STYLES = {
    "countries": "countries",
    "borders": "borders",
    "sites": "sites",
    "clusters": "areas",
    "zones": "zones",
    "disputed_areas": "disputed",
    "observations": "points",
    "routes": "routes",
}
#: Shown when the URL names no layers (the distance band too when the URL has within_km).
DEFAULT_LAYERS = ("countries", "borders", "zones", "sites")
#: The sites filters (items parameters) the page takes, keeps in its URL and sends with the
#: sites tiles; anything else in the URL is a view parameter or refused.
FILTERS = (
    "kind",
    "mineral",
    "country",
    "status",
    "include_retired",
    "border",
    "within_km",
    "q",
    "datetime",
    "filter",
    "filter-lang",
)


@dataclass(frozen=True)
class Layer:
    id: str
    title: str
    style: str
    on: bool
    filtered: bool


def layer_titles(lang: str) -> dict[str, str]:
    """Layer names in ``lang`` (catalogue messages) for the collections the service knows."""
    _ = i18n.translations(lang).gettext
    return {
        "countries": _("Countries"),
        "borders": _("International borders"),
        "sites": _("Sites"),
        "clusters": _("Clusters of sites"),
        "zones": _("Zones"),
        "disputed_areas": _("Disputed areas"),
        "observations": _("Observations"),
        BAND_LAYER: _("Distance band"),
    }


def layers(
    collections: Sequence[tuple[str, str]],
    asked: Sequence[str] | None,
    lang: str,
    band: bool,
) -> list[Layer]:
    """The map's layers, bottom first: one per collection ``(id, title)`` and the band.

    ``asked``: the layer ids of the URL (None: the defaults).
    """
    titles = layer_titles(lang)
    order = {name: i for i, name in enumerate(("countries", "disputed_areas", "zones"))}
    ranked = sorted(collections, key=lambda c: (order.get(c[0], 10), c[0] == "sites"))
    shown = set(asked) if asked is not None else {*DEFAULT_LAYERS, *((BAND_LAYER,) if band else ())}
    out = [
        Layer(cid, titles.get(cid, title), STYLES.get(cid, "generic"), cid in shown, cid == "sites")
        for cid, title in ranked
    ]
    # The band goes under the borders and the sites.
    at = next((i for i, layer in enumerate(out) if layer.id in ("borders", "sites")), len(out))
    out.insert(at, Layer(BAND_LAYER, titles[BAND_LAYER], "band", BAND_LAYER in shown, False))
    return out


def words(lang: str) -> dict[str, str]:
    """Every text the page script shows, in ``lang``."""
    _ = i18n.translations(lang).gettext
    return {
        "aggregated": _("Sites grouped at this zoom: zoom in to see each one"),
        "count": _("Sites"),
        "kind": _("Kind"),
        "minerals": _("Minerals"),
        "country": _("Country"),
        "border": _("Border"),
        "distance": _("Distance to the border"),
        "open": _("Open the site's page"),
        "matched": _("{n} sites match the filters"),
        "matched_more": _("More than {n} sites match the filters"),
        "invalid": _("These filters are not valid:"),
        "band_failed": _("The distance band is not drawn:"),
        "loading": _("Loading…"),
        "km": _("{n} km"),
    }


def vocabularies(lang: str, countries: Sequence[str], pairs: Sequence[str]) -> dict[str, Any]:
    """The choices of the filter form, labelled in ``lang``."""
    return {
        "kinds": [
            {"code": code, "label": i18n.kind_label(code, lang), "colour": KIND_COLOURS[code]}
            for code in site_kinds().codes
        ],
        "minerals": [
            {"code": code, "label": i18n.mineral_label(code, lang)} for code in minerals().codes
        ],
        "countries": sorted(
            ({"code": c, "label": i18n.country_name(c, lang)} for c in countries),
            key=lambda item: item["label"],
        ),
        "borders": [{"code": p, "label": i18n.border_label(p, lang)} for p in pairs],
    }


def _script_json(value: object) -> str:
    # Inside <script type="application/json"> only "<" can end the block.
    return orjson.dumps(value).decode().replace("<", "\\u003c")


def render_explore(
    *,
    base: str,
    lang: str,
    embed: bool,
    page_path: str,
    layer_list: Sequence[Layer],
    center: tuple[float, float],
    zoom: float,
    filters: Mapping[str, str],
    choices: Mapping[str, Any],
    attribution: str,
    assets: MapLibreUrls,
    languages: Sequence[tuple[str, str]],
) -> str:
    """The page's HTML (``app/html/templates/explore.html``)."""
    config = {
        "base": base,
        "lang": lang,
        "embed": embed,
        "path": page_path,
        "tileMatrixSet": TILE_MATRIX_SET,
        "tiles": f"{base}/collections/{{collection}}/tiles/{TILE_MATRIX_SET}/{{z}}/{{y}}/{{x}}",
        "items": f"{base}/collections/sites/items",
        "bands": f"{base}/maps/bands",
        "sitePage": f"{base}/collections/sites/items/",
        "worker": assets.worker,
        "layers": [layer.__dict__ for layer in layer_list],
        "view": {"center": list(center), "zoom": zoom},
        "filters": dict(filters),
        "filterNames": list(FILTERS),
        "words": words(lang),
        "choices": choices,
        "attribution": attribution,
    }
    return (
        environment()
        .get_template("explore.html")
        .render(
            lang=lang,
            brand="borderlens",
            base=base,
            static=f"{base}/static/html",
            assets=assets,
            embed=embed,
            config=_script_json(config),
            layer_list=layer_list,
            choices=choices,
            filters=filters,
            languages=languages,
        )
    )
