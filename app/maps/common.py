"""Pieces every borderlens map is made of: base map, border lines, site markers, legend,
boundary attribution. Input is plain GeoJSON; no database access here."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import folium
from branca.element import MacroElement
from folium.plugins import MarkerCluster
from jinja2 import Template

from app.maps.assets import AssetUrls
from app.maps.labels import labels, localise_attribution
from geo.countries import read_country_table
from geo.vocab import minerals

KIND_COLOURS = {"mine": "#c0392b", "sales_point": "#1f6fb2"}
BORDER_STYLE = {"color": "#444444", "weight": 1.5, "opacity": 0.8}
HIGHLIGHT_STYLE = {"color": "#e67e22", "weight": 4, "opacity": 0.95}
DEFAULT_CENTRE = (4.0, 18.0)  # lat, lon: the CAR and its neighbours
MAX_ZOOM = 18
OSM_TILES = ("openstreetmap", "openstreetmap.mapnik")
OSM_COPYRIGHT = "https://www.openstreetmap.org/copyright"


@dataclass(frozen=True)
class MapOptions:
    lang: str = "en"
    tiles: str | None = "OpenStreetMap"
    attribution: str = ""
    note: str | None = None
    title: str | None = None
    highlight_pairs: tuple[str, ...] = ()
    extra_layers: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)


def country_name(iso3: str | None, lang: str) -> str:
    names = {c.iso3: c.name(lang) for c in read_country_table()}
    return names.get(iso3 or "", iso3 or "")


#: Folium pages go through Jinja twice: branca renders each element's template, then wraps
#: the output in a new ``Template`` and renders that again. Text a user wrote that reaches a
#: page must hold no Jinja opener by then, or it runs as a template (a site named
#: ``{{ ... }}`` ran Python in the service). JSON written for a script escapes them; HTML
#: text writes braces (and what a JavaScript template literal reads: folium's tooltips are
#: ones) as character references.
_JINJA_OPENERS = (("{{", "{\\u007b"), ("{%", "{\\u0025"), ("{#", "{\\u0023"))
_HTML_EXTRA = str.maketrans(
    {"{": "&#123;", "}": "&#125;", "`": "&#96;", "$": "&#36;", "\\": "&#92;"}
)


def map_text(value: str) -> str:
    """``value`` as HTML text for a map page: escaped, and inert to Jinja and to JavaScript
    template literals (braces, backquote, dollar and backslash as character references)."""
    return html.escape(value).translate(_HTML_EXTRA)


def script_json(data: Any) -> str:
    """``data`` as JSON for a ``<script>`` of a map page: ``<``, ``>``, ``&`` and ``'``
    escaped as Jinja's ``tojson`` does, and no Jinja opener (``{{``, ``{%``, ``{#`` can only
    stand inside a JSON string, where the second character is written as an escape)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(raw, escaped)
    for opener, escaped in _JINJA_OPENERS:
        text = text.replace(opener, escaped)
    return text


def geometry_only(layer: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON layer (collection, feature or geometry) without its features' properties:
    what a layer drawn by Folium itself (``folium.GeoJson``, whose data is rendered twice)
    may carry of user text."""
    if layer.get("type") == "FeatureCollection":
        return {**layer, "features": [geometry_only(f) for f in layer["features"]]}
    if layer.get("type") == "Feature":
        return {"type": "Feature", "geometry": layer.get("geometry"), "properties": {}}
    return layer


def display_collection(sites: dict[str, Any], lang: str) -> dict[str, Any]:
    """The few properties a popup shows, already translated (keeps the page small)."""
    words = labels(lang)
    vocabulary = minerals()
    features = []
    for feature in sites["features"]:
        props = feature["properties"]
        status = props.get("location_status")
        country = (
            country_name(props.get("country"), lang)
            if status == "country"
            else words.get(status or "", status or "")
        )
        features.append(
            {
                "type": "Feature",
                "id": feature["id"],
                "geometry": feature["geometry"],
                "properties": {
                    "id": feature["id"],
                    "name": props.get("name", ""),
                    "kind": props["kind"],
                    "kind_label": words.get(props["kind"], props["kind"]),
                    "minerals_label": ", ".join(
                        vocabulary.term(code).label(lang) for code in props.get("minerals") or []
                    ),
                    "country_label": country,
                    "last_observed": props.get("last_observed") or "",
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def tile_origins(tiles: str | None) -> list[str]:
    """Where the base layer's tile images come from, as CSP sources (``{s}`` -> ``*``)."""
    if tiles in (None, "", "none"):
        return []
    # A URL template as is; a provider name through Folium (xyzservices), as the map does.
    url = tiles if "://" in tiles else str(folium.TileLayer(tiles).tiles)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return []
    host = parts.netloc.replace("{s}", "*")
    return [f"{parts.scheme}://{host}"]


def base_map(options: MapOptions, assets: AssetUrls | None) -> folium.Map:
    tiles = None if options.tiles in (None, "", "none") else options.tiles
    attr = None
    if tiles is not None and tiles.lower() in OSM_TILES:
        contributors = labels(options.lang)["OpenStreetMap contributors"]
        attr = f'&copy; <a href="{OSM_COPYRIGHT}">{map_text(contributors)}</a>'
    # An explicit max_zoom: without a tile layer the map has none, and the cluster plugin
    # refuses to start. Zoom and scale controls are added by ``Controls``, in the page's
    # language.
    fmap = folium.Map(
        location=DEFAULT_CENTRE,
        zoom_start=5,
        tiles=tiles,
        attr=attr,
        control_scale=False,
        zoom_control=False,
        max_zoom=MAX_ZOOM,
        maxZoom=MAX_ZOOM,  # Folium gives max_zoom to the tile layer only, not to the map
    )
    fmap.add_child(Controls(options.lang))
    if assets is not None:
        # Only Leaflet is needed: markers are circle markers, so jQuery, Bootstrap and the
        # awesome-markers icon fonts that Folium loads by default are left out.
        fmap.default_js = [("leaflet", assets.leaflet_js)]
        fmap.default_css = [("leaflet_css", assets.leaflet_css)]
    return fmap


def marker_cluster(assets: AssetUrls | None, lang: str) -> MarkerCluster:
    cluster = MarkerCluster(  # type: ignore[no-untyped-call]
        name=labels(lang)["sites"],
        options={
            "disableClusteringAtZoom": 9,
            "showCoverageOnHover": False,
            "maxClusterRadius": 40,
        },
    )
    if assets is not None:
        cluster.default_js = [("markerclusterjs", assets.markercluster_js)]
        cluster.default_css = [
            ("markerclustercss", assets.markercluster_css[0]),
            ("markerclusterdefaultcss", assets.markercluster_css[1]),
        ]
    return cluster


class SitesLayer(MacroElement):
    """Circle markers with one popup each, added to the marker cluster.

    Folium's ``GeoJsonPopup`` binds the popup to the GeoJSON group; Leaflet.markercluster
    takes the markers out of that group, which is never on the map, so the popups would never
    open. Binding per marker avoids that. Popup HTML is escaped in Python.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.data_json }}, {
            pointToLayer: function (feature, latlng) {
                return L.circleMarker(latlng, {
                    radius: 7, weight: 1, color: "#222222", fillOpacity: 0.9,
                    fillColor: {{ this.colours|tojson }}[feature.properties.kind] || "#777777"
                });
            },
            onEachFeature: function (feature, layer) {
                layer.bindPopup(feature.properties.popup_html);
                layer.bindTooltip(feature.properties.tooltip_html);
            }
        });
        {{ this._parent.get_name() }}.addLayer({{ this.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, collection: dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "SitesLayer"
        self.data_json = script_json(collection)
        self.colours = KIND_COLOURS


def popup_html(props: dict[str, Any], lang: str) -> str:
    words = labels(lang)
    rows = (
        (words["kind"], props["kind_label"]),
        (words["minerals"], props["minerals_label"]),
        (words["country"], props["country_label"]),
        (words["last_observed"], props["last_observed"]),
    )
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:8px'>{map_text(label)}</th>"
        f"<td>{map_text(str(value))}</td></tr>"
        for label, value in rows
        if value
    )
    return f"<b>{map_text(props['name'])}</b><table>{cells}</table>"


def with_popups(collection: dict[str, Any], lang: str) -> dict[str, Any]:
    for feature in collection["features"]:
        props = feature["properties"]
        props["popup_html"] = popup_html(props, lang)
        props["tooltip_html"] = map_text(props["name"])
    return collection


def border_layer(borders: dict[str, Any], options: MapOptions) -> folium.GeoJson:
    highlighted = set(options.highlight_pairs)
    return folium.GeoJson(
        borders,
        name=labels(options.lang)["borders"],
        style_function=lambda feature: (
            HIGHLIGHT_STYLE
            if feature["properties"].get("pair_code") in highlighted
            else BORDER_STYLE
        ),
        tooltip=folium.GeoJsonTooltip(
            fields=["pair_code"], aliases=[labels(options.lang)["border"]]
        ),
    )


class Attribution(MacroElement):
    """Adds the boundary dataset's attribution (ODbL requires it wherever data is shown)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, text: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "BoundaryAttribution"
        self.text = text


class Controls(MacroElement):
    """Zoom buttons and a metric scale bar with the page's words (Leaflet's are English)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        L.control.zoom({
            position: "topleft",
            zoomInTitle: {{ this.words.zoom_in|tojson }},
            zoomOutTitle: {{ this.words.zoom_out|tojson }}
        }).addTo({{ this._parent.get_name() }});
        L.control.scale({position: "bottomleft", imperial: false})
            .addTo({{ this._parent.get_name() }});
        {{ this._parent.get_name() }}.attributionControl.setPrefix(
            '<a href="https://leafletjs.com" title="' + {{ this.words.leaflet_title|tojson }}
            + '">Leaflet</a>');
        {{ this._parent.get_name() }}.on("popupopen", function (event) {
            var close = event.popup.getElement().querySelector(".leaflet-popup-close-button");
            if (close) { close.setAttribute("aria-label", {{ this.words.close|tojson }}); }
        });
        {% endmacro %}"""
    )

    def __init__(self, lang: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Controls"
        self.words = labels(lang)


class Legend(MacroElement):
    """The legend as a Leaflet control in the top-right corner, under the layer switcher:
    Leaflet stacks the controls of a corner (an opened switcher pushes it down), the scale bar
    and the attribution are in the bottom corners, and the attribution, which spans the whole
    width of a narrow map, stays below it. Also names the layer switcher, which Leaflet
    titles in English, once every control is on the map."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "topright"});
        {{ this.get_name() }}.onAdd = function () {
            var box = L.DomUtil.create("div", "leaflet-control bl-legend");
            box.id = "bl-legend";
            box.setAttribute("role", "region");
            box.setAttribute("aria-label", {{ this.words.legend|tojson }});
            box.innerHTML = {{ this.content|tojson }};
            L.DomEvent.disableClickPropagation(box);
            return box;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {{ this._parent.get_name() }}.getContainer()
            .querySelectorAll(".leaflet-control-layers-toggle").forEach(function (toggle) {
                toggle.title = {{ this.words.layers|tojson }};
                toggle.setAttribute("aria-label", {{ this.words.layers|tojson }});
            });
        {% endmacro %}"""
    )

    def __init__(self, content: str, lang: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Legend"
        self.content = content
        self.words = labels(lang)


LEGEND_STYLE = (
    "background:rgba(255,255,255,.92);padding:6px 10px;border-radius:4px;"
    "font:12px sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.3);max-width:260px"
)


def legend(options: MapOptions, entries: list[tuple[str, str]] | None = None) -> Legend:
    """A legend box: (label, colour) entries (default: the two kinds of site) and a note."""
    words = labels(options.lang)
    shown = entries or [(words[kind], colour) for kind, colour in KIND_COLOURS.items()]
    rows = "".join(
        f"<div><span style='display:inline-block;width:10px;height:10px;border-radius:5px;"
        f"background:{colour};margin-right:6px'></span>{map_text(label)}</div>"
        for label, colour in shown
    )
    note = f"<div class='bl-note'>{map_text(options.note)}</div>" if options.note else ""
    title = map_text(options.title or words["title"])
    return Legend(f"<div style='{LEGEND_STYLE}'><b>{title}</b>{rows}{note}</div>", options.lang)


def bounds_of(collection: dict[str, Any]) -> list[list[float]] | None:
    lons: list[float] = []
    lats: list[float] = []

    def walk(coordinates: Any) -> None:
        if coordinates and isinstance(coordinates[0], int | float):
            lons.append(coordinates[0])
            lats.append(coordinates[1])
        else:
            for part in coordinates:
                walk(part)

    for feature in collection["features"]:
        if feature.get("geometry"):
            walk(feature["geometry"]["coordinates"])
    if not lons:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def finish(
    fmap: folium.Map,
    options: MapOptions,
    legend_entries: list[tuple[str, str]] | None,
    fit_to: list[dict[str, Any]],
    max_zoom: int,
) -> str:
    """Attribution, legend, layer switcher, the view fitted to the first collection with
    something in it; returns the page's HTML."""
    if options.attribution:
        fmap.add_child(Attribution(localise_attribution(options.attribution, options.lang)))
    root: Any = fmap.get_root()
    folium.LayerControl(collapsed=True).add_to(fmap)
    fmap.add_child(legend(options, legend_entries))  # after the layer switcher: it names it
    for collection in fit_to:
        if bounds := bounds_of(collection):
            fmap.fit_bounds(bounds, padding=(20, 20), max_zoom=max_zoom)
            break
    rendered: str = root.render()
    return with_lang(rendered, options.lang)


def with_lang(page: str, lang: str) -> str:
    """The page with ``<html lang=…>`` (Folium writes a bare ``<html>``)."""
    if "<html>" not in page:
        raise ValueError("the map page has no <html> element to give a language to")
    return page.replace("<html>", f'<html lang="{html.escape(lang)}">', 1)
