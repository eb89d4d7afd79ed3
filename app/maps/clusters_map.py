"""The clusters map: each cluster's outline (cross-border ones in orange), its member sites,
and on click a summary of the cluster. One self-contained, embeddable HTML page."""

from __future__ import annotations

from typing import Any

import folium
from branca.element import MacroElement
from jinja2 import Template

from app.maps.assets import AssetUrls
from app.maps.common import (
    KIND_COLOURS,
    MapOptions,
    SitesLayer,
    base_map,
    border_layer,
    country_name,
    display_collection,
    finish,
    map_text,
    script_json,
    with_popups,
)
from app.maps.labels import labels
from geo.vocab import minerals, site_kinds

CROSS_BORDER_FILL = "#e67e22"
LOCAL_FILL = "#85929e"
CROSS_BORDER = {
    "color": "#d35400",
    "weight": 2,
    "fillColor": CROSS_BORDER_FILL,
    "fillOpacity": 0.25,
}
LOCAL = {"color": "#5d6d7e", "weight": 1.5, "fillColor": LOCAL_FILL, "fillOpacity": 0.2}


class ClustersLayer(MacroElement):
    """Cluster outlines, styled by cross-border or not, each with its summary popup."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.data_json }}, {
            style: function (feature) {
                return feature.properties.cross_border
                    ? {{ this.cross_border|tojson }} : {{ this.local|tojson }};
            },
            onEachFeature: function (feature, layer) {
                layer.bindPopup(feature.properties.popup_html);
            }
        }).addTo({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, collection: dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "ClustersLayer"
        self.data_json = script_json(collection)
        self.cross_border = CROSS_BORDER
        self.local = LOCAL


def summary_html(props: dict[str, Any], lang: str) -> str:
    words = labels(lang)
    title = words["cross_border"] if props["cross_border"] else words["local_cluster"]
    rows = (
        (words["members"], str(props["member_count"])),
        (words["countries"], ", ".join(country_name(c, lang) for c in props["countries"])),
        (words["kind"], ", ".join(site_kinds().term(k).label(lang) for k in props["kinds"])),
        (words["minerals"], ", ".join(minerals().term(m).label(lang) for m in props["minerals"])),
        (words["span"], f"{props['span_km']:.1f} km"),
    )
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:8px'>{map_text(label)}</th>"
        f"<td>{map_text(value)}</td></tr>"
        for label, value in rows
        if value
    )
    return f"<b>{map_text(title)}</b><table>{cells}</table>"


def render_clusters_map(
    clusters: dict[str, Any],
    members: dict[str, Any],
    borders: dict[str, Any],
    options: MapOptions,
    assets: AssetUrls | None,
) -> str:
    fmap = base_map(options, assets)
    border_layer(borders, options).add_to(fmap)
    for feature in clusters["features"]:
        props = feature["properties"]
        props["popup_html"] = summary_html(props, options.lang)
        props.pop("members", None)  # the member markers are drawn; the list is not needed
    outlines = folium.FeatureGroup(name=labels(options.lang)["clusters"])
    outlines.add_child(ClustersLayer(clusters))
    outlines.add_to(fmap)
    sites = folium.FeatureGroup(name=labels(options.lang)["members"])
    collection = display_collection(members, options.lang)
    if collection["features"]:
        sites.add_child(SitesLayer(with_popups(collection, options.lang)))
    sites.add_to(fmap)
    words = labels(options.lang)
    entries = [
        (words["cross_border"], CROSS_BORDER_FILL),
        (words["local_cluster"], LOCAL_FILL),
        *((words[kind], colour) for kind, colour in KIND_COLOURS.items()),
    ]
    return finish(fmap, options, entries, [clusters, borders], max_zoom=11)
