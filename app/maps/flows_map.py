"""The flows map: each (source, destination) pair of trade routes as a geodesic line with an
arrowhead at the destination, its width growing with the number of routes, cross-border flows
in red over the borders. One self-contained, embeddable HTML page (Folium; Leaflet only, no
plugin: arrowheads are small triangles computed on the ellipsoid)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import folium

from app.db.routes import Flow
from app.maps.assets import AssetUrls
from app.maps.common import MapOptions, base_map, border_layer, finish, map_text
from geo.geodesic import WGS84
from geo.routes import geodesic_line
from geo.vocab import minerals

CROSS_BORDER_COLOUR = "#c0392b"
DOMESTIC_COLOUR = "#2874a6"
MAX_WEIGHT = 14

WORDS = {
    "en": {"title": "Trade flows", "cross": "Cross-border flow",
           "domestic": "Flow within a country", "flows": "Flows", "routes": "routes",
           "border": "Border crossed"},
    "fr": {"title": "Flux commerciaux", "cross": "Flux transfrontalier",
           "domestic": "Flux à l'intérieur d'un pays", "flows": "Flux", "routes": "itinéraires",
           "border": "Frontière franchie"},
    "pt": {"title": "Fluxos comerciais", "cross": "Fluxo transfronteiriço",
           "domestic": "Fluxo dentro de um país", "flows": "Fluxos", "routes": "rotas",
           "border": "Fronteira atravessada"},
}  # fmt: skip


def words(lang: str) -> dict[str, str]:
    return WORDS.get(lang, WORDS["en"])


def weight(count: int) -> float:
    """Line width in pixels: 2 for one route, growing with the square root of the count."""
    return min(2.0 + 2.0 * math.sqrt(max(count, 1) - 1), MAX_WEIGHT)


def arrowhead(flow: Flow, length_m: float) -> list[tuple[float, float]]:
    """A triangle (lat, lon) pointing at the destination along the arriving geodesic."""
    _, back_azimuth, _ = WGS84.inv(flow.lon1, flow.lat1, flow.lon2, flow.lat2)
    size = min(max(length_m * 0.06, 300.0), 25_000.0)
    corners = [WGS84.fwd(flow.lon2, flow.lat2, back_azimuth + side, size) for side in (-22.0, 22.0)]
    return [(flow.lat2, flow.lon2), *((lat, lon) for lon, lat, _ in corners)]


def popup(flow: Flow, lang: str) -> str:
    w = words(lang)
    names = ", ".join(minerals().term(m).label(lang) for m in flow.minerals if m)
    lines = [
        f"<b>{map_text(flow.source_name)} → {map_text(flow.destination_name)}</b>",
        f"{flow.count} {map_text(w['routes'])}",
    ]
    if names:
        lines.append(map_text(names))
    if flow.cross_border and flow.border_pair:
        lines.append(f"{map_text(w['border'])}: {map_text(flow.border_pair)}")
    return "<br>".join(lines)


def render_flows_map(
    flows: Sequence[Flow], borders: dict[str, Any], options: MapOptions, assets: AssetUrls | None
) -> str:
    fmap = base_map(options, assets)
    border_layer(borders, options).add_to(fmap)
    w = words(options.lang)
    group = folium.FeatureGroup(name=w["flows"])
    points: list[list[float]] = []
    for flow in flows:
        colour = CROSS_BORDER_COLOUR if flow.cross_border else DOMESTIC_COLOUR
        path = geodesic_line(flow.lon1, flow.lat1, flow.lon2, flow.lat2, step_m=5_000)
        length_m = float(WGS84.geometry_length(path))
        locations = [(lat, lon) for lon, lat in path.coords]
        folium.PolyLine(  # type: ignore[no-untyped-call]
            locations, color=colour, weight=weight(flow.count), opacity=0.8,
            tooltip=folium.Tooltip(popup(flow, options.lang)),
            class_name="flow cross-border" if flow.cross_border else "flow",
        ).add_to(group)  # fmt: skip
        folium.Polygon(
            arrowhead(flow, length_m), color=colour, weight=1, fill=True, fill_color=colour,
            fill_opacity=0.9, class_name="flow-arrow",
        ).add_to(group)  # fmt: skip
        points += [[flow.lon1, flow.lat1], [flow.lon2, flow.lat2]]
    group.add_to(fmap)
    extent = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {},
             "geometry": {"type": "MultiPoint", "coordinates": points}}
        ] if points else [],
    }  # fmt: skip
    entries = [(w["cross"], CROSS_BORDER_COLOUR), (w["domestic"], DOMESTIC_COLOUR)]
    return finish(fmap, options, entries, [extent, borders], max_zoom=10)
