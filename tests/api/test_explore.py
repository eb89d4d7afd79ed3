"""``/maps/explore`` (the vector-tile map page) and ``/maps/bands`` through the real application:
the page config carries the view, filters and layers of the URL, the layer list follows the
collection registry, every text comes from the page language's catalogue, bad parameters are
400 problems naming the parameter, and the band is the geodesic buffer the Folium maps draw."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from app import collections as registry
from app.maps import explore

URL = "/maps/explore"


def config_of(html: str) -> dict[str, Any]:
    block = r'<script type="application/json" id="bl-explore-config">(.*?)</script>'
    found = re.search(block, html)
    assert found, "the page carries its config"
    document: dict[str, Any] = json.loads(found.group(1))
    return document


def test_page_defaults_and_layers_follow_the_registry(client: TestClient) -> None:
    response = client.get(URL)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    config = config_of(response.text)
    ids = [layer["id"] for layer in config["layers"]]
    tiled = {c.id for c in registry.PROVIDERS if c.tile_fields() is not None}
    assert set(ids) == {*tiled, "bands"}, "one layer per collection with tiles, and the band"
    assert {"sites", "borders", "countries"} <= tiled
    assert ids.index("countries") < ids.index("borders") < ids.index("sites"), "bottom first"
    assert ids.index("bands") < ids.index("sites")
    on = {layer["id"] for layer in config["layers"] if layer["on"]}
    assert on == {"countries", "borders", "zones", "sites"}, "no band without within_km"
    assert [layer["id"] for layer in config["layers"] if layer["filtered"]] == ["sites"]
    assert config["view"] == {"center": list(explore.DEFAULT_CENTER), "zoom": explore.DEFAULT_ZOOM}
    assert config["tiles"].endswith("/collections/{collection}/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert config["worker"].endswith("/maplibre-gl-csp-worker.js")
    # Local assets only: every script and stylesheet is the service's own.
    for src in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', response.text):
        assert src.startswith(("http://testserver/static/", "/static/")), src
    assert 'id="bl-filters"' in response.text and 'class="explore-top"' in response.text


def test_a_shared_url_is_restored_in_the_config(client: TestClient) -> None:
    query = (
        "kind=mine&mineral=gold&country=CMR&border=CAF-CMR&within_km=25&q=batouri"
        "&filter=accuracy_m%20%3C%2050&center=15.25,4.5&zoom=7.5&layers=sites,bands,borders"
        "&lang=fr"
    )
    config = config_of(client.get(f"{URL}?{query}").text)
    assert config["view"] == {"center": [15.25, 4.5], "zoom": 7.5}
    assert config["filters"] == {
        "kind": "mine",
        "mineral": "gold",
        "country": "CMR",
        "border": "CAF-CMR",
        "within_km": "25",
        "q": "batouri",
        "filter": "accuracy_m < 50",
    }
    assert {layer["id"] for layer in config["layers"] if layer["on"]} == {
        "sites",
        "bands",
        "borders",
    }
    assert config["lang"] == "fr"


def test_band_is_on_by_default_with_within_km(client: TestClient) -> None:
    config = config_of(client.get(f"{URL}?within_km=10").text)
    assert next(layer for layer in config["layers"] if layer["id"] == "bands")["on"]


@pytest.mark.parametrize(
    ("lang", "title", "layer", "apply"),
    [
        ("en", "Map of the sites", "International borders", "Apply"),
        ("fr", "Carte des sites", "Frontières internationales", "Appliquer"),
        ("pt", "Mapa dos locais", "Fronteiras internacionais", "Aplicar"),
    ],
)
def test_page_speaks_its_language(
    client: TestClient, lang: str, title: str, layer: str, apply: str
) -> None:
    html = client.get(f"{URL}?lang={lang}").text
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{title}</h1>" in html
    assert apply in html
    config = config_of(html)
    assert next(x for x in config["layers"] if x["id"] == "borders")["title"] == layer
    assert all(config["words"].values())
    if lang != "en":  # every word of the script is translated
        english = explore.words("en")
        assert all(config["words"][key] != english[key] for key in ("aggregated", "invalid"))


def test_embed_mode_has_no_chrome(client: TestClient) -> None:
    html = client.get(f"{URL}?embed=true&zoom=6").text
    assert config_of(html)["embed"] is True
    assert 'id="bl-filters"' not in html and "explore-top" not in html
    assert 'id="bl-explore"' in html and 'id="bl-legend"' in html


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("center=200,4", "center"),
        ("center=15", "center"),
        ("zoom=30", "zoom"),
        ("layers=sites,nowhere", "layers"),
        ("embed=maybe", "embed"),
        ("kind=volcano", "kind"),
        ("within_km=-3", "within_km"),
        ("border=XXX-YYY", "border"),
        ("filter=name%20%3D%3D%3D", "filter"),
        # parses, but the tiles would refuse it: refused here, not an empty map
        ("filter=foo%3D1", "filter"),
        ("filter=name%3D5", "filter"),
        ("filter=S_INTERSECTS(geometry%2CLINESTRING(0%200))", "filter"),
        ("lang=de", "lang"),
        ("limit=10", "limit"),
    ],
)
def test_bad_parameters_are_problems(client: TestClient, query: str, parameter: str) -> None:
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert parameter in response.json()["detail"]


def test_band_is_the_geodesic_buffer_of_the_border(client: TestClient) -> None:
    response = client.get("/maps/bands", params={"border": "CAF-CMR", "within_km": "25"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    [feature] = response.json()["features"]
    assert feature["properties"] == {"within_km": 25.0, "border": "CAF-CMR"}
    band = shapely.geometry.shape(feature["geometry"])
    borders = client.get("/collections/borders/items", params={"limit": "100"}).json()
    line = next(f for f in borders["features"] if f["id"] == "CAF-CMR")
    vertex = shapely.geometry.shape(line["geometry"]).representative_point()
    geod = Geod(ellps="WGS84")
    for azimuth in (0.0, 90.0, 180.0, 270.0):
        inside = shapely.Point(geod.fwd(vertex.x, vertex.y, azimuth, 20_000)[:2])
        assert band.contains(inside), "20 km from the border is inside a 25 km band"
    outside = shapely.Point(geod.fwd(vertex.x, vertex.y, 90.0, 200_000)[:2])
    assert not band.contains(outside)


def test_band_without_a_border_covers_every_border(client: TestClient) -> None:
    response = client.get("/maps/bands", params={"within_km": "5"})
    assert response.status_code == 200
    band = shapely.geometry.shape(response.json()["features"][0]["geometry"])
    borders = client.get("/collections/borders/items", params={"limit": "200"}).json()
    for feature in borders["features"]:
        assert band.contains(shapely.geometry.shape(feature["geometry"]).representative_point())


@pytest.mark.parametrize(
    "query", ["", "within_km=0", "within_km=0.5", "within_km=5000", "within_km=5&border=Q"]
)
def test_band_needs_a_valid_width(client: TestClient, query: str) -> None:
    response = client.get(f"/maps/bands?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_a_band_is_revalidated_without_being_drawn(client: TestClient) -> None:
    """A band carries a weak ETag known before it is drawn (the boundary source, the borders,
    the width, how bands are drawn) and Cache-Control; If-None-Match naming it is a 304
    without body, the same for every width asked the same way, another for another width."""
    url = "/maps/bands?border=CAF-CMR&within_km=7"
    first = client.get(url)
    assert first.status_code == 200
    tag = first.headers["etag"]
    assert tag.startswith('W/"') and first.headers["cache-control"] == "public, max-age=300"
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag and again.headers["cache-control"]
    assert client.get(url, headers={"If-None-Match": "*"}).status_code == 304
    other = client.get("/maps/bands?border=CAF-CMR&within_km=8", headers={"If-None-Match": tag})
    assert other.status_code == 200 and other.headers["etag"] != tag
    assert client.get(url).headers["etag"] == tag, "the same band, the same tag"
