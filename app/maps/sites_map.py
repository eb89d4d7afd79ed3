"""The sites map: clustered circle markers coloured by kind, over the border lines, with the
asked border highlighted and its distance band. One self-contained HTML page, embeddable in
an iframe."""

from __future__ import annotations

from typing import Any

import folium

from app.maps.assets import AssetUrls
from app.maps.common import (
    MapOptions,
    SitesLayer,
    base_map,
    border_layer,
    display_collection,
    finish,
    geometry_only,
    marker_cluster,
    with_popups,
)


def render_sites_map(
    sites: dict[str, Any],
    borders: dict[str, Any],
    options: MapOptions,
    assets: AssetUrls | None,
) -> str:
    fmap = base_map(options, assets)
    border_layer(borders, options).add_to(fmap)
    for name, layer, style in options.extra_layers:
        folium.GeoJson(
            geometry_only(layer), name=name, style_function=lambda _f, s=style: s
        ).add_to(fmap)
    collection = display_collection(sites, options.lang)
    cluster = marker_cluster(assets, options.lang)
    cluster.add_to(fmap)
    if collection["features"]:
        cluster.add_child(SitesLayer(with_popups(collection, options.lang)))
    return finish(fmap, options, None, [collection, borders], max_zoom=10)
