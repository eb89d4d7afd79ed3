"""The map renderer on its own: no database, no server."""

from __future__ import annotations

from typing import Any

from app.maps.assets import local_urls
from app.maps.common import MapOptions, display_collection
from app.maps.sites_map import render_sites_map


def feature(name: str, kind: str = "mine", **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": f"BL-{abs(hash(name)) % 10**10:010d}",
        "geometry": {"type": "Point", "coordinates": [15.79, 4.26]},
        "properties": {
            "name": name,
            "kind": kind,
            "minerals": ["diamond"],
            "country": "CAF",
            "location_status": "country",
            **props,
        },
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


BORDERS = collection(
    {
        "type": "Feature",
        "id": "CAF-CMR",
        "geometry": {"type": "LineString", "coordinates": [[15.0, 4.0], [15.1, 5.0]]},
        "properties": {"pair_code": "CAF-CMR"},
    }
)


def test_names_are_escaped_in_popups() -> None:
    page = render_sites_map(
        collection(feature("<script>alert(1)</script>")), BORDERS, MapOptions(), None
    )
    assert "<script>alert(1)" not in page
    # The popup HTML is escaped before it is embedded as JSON (where & becomes \u0026).
    assert "\\u0026lt;script\\u0026gt;alert(1)" in page


def test_labels_follow_the_language() -> None:
    fr = display_collection(collection(feature("A", "sales_point")), "fr")["features"][0]
    assert fr["properties"]["kind_label"] == "Point de vente"
    assert fr["properties"]["minerals_label"] == "diamant"
    assert fr["properties"]["country_label"] == "République centrafricaine" or fr["properties"][
        "country_label"
    ].startswith("République")
    pt = display_collection(collection(feature("A")), "pt")["features"][0]
    assert pt["properties"]["minerals_label"] == "diamante"


def test_sea_and_disputed_sites_say_so() -> None:
    at_sea = feature("S", country=None, location_status="sea")
    shown = display_collection(collection(at_sea), "en")["features"][0]
    assert shown["properties"]["country_label"] == "at sea"


def test_local_assets_replace_cdn_links() -> None:
    page = render_sites_map(
        collection(feature("A")), BORDERS, MapOptions(), local_urls("http://example.test")
    )
    assert "http://example.test/static/vendor/leaflet/1.9.4/dist/leaflet.js" in page
    assert "cdn.jsdelivr" not in page and "bootstrap" not in page


def test_attribution_and_highlight() -> None:
    page = render_sites_map(
        collection(feature("A")),
        BORDERS,
        MapOptions(attribution="© OpenStreetMap contributors", highlight_pairs=("CAF-CMR",)),
        None,
    )
    assert "addAttribution" in page and "OpenStreetMap contributors" in page
    assert "#e67e22" in page, "the highlighted border gets its own style"
