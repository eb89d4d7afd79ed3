"""``/maps/sites`` over HTTP: filters like the items endpoint, HTML out, framing policy."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.maps.labels import LANGUAGES, labels


def test_map_page_is_html_with_local_leaflet(client: TestClient) -> None:
    response = client.get("/maps/sites")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '"../static/vendor/leaflet/1.9.4/dist/leaflet.js"' in response.text
    assert "Natural Earth" in response.text
    assert "frame-ancestors" not in response.headers["content-security-policy"], (
        "embeddable anywhere by default"
    )


def test_static_assets_are_served(client: TestClient) -> None:
    client.get("/maps/sites")
    response = client.get("/static/vendor/leaflet/1.9.4/dist/leaflet.js")
    assert response.status_code == 200
    assert "Leaflet" in response.text[:500]


def test_map_rejects_what_items_reject(client: TestClient) -> None:
    for params in ({"bbox": "1,2"}, {"kind": "volcano"}, {"colour": "red"}, {"lang": "de"}):
        response = client.get("/maps/sites", params=params)
        assert response.status_code == 400, params
        assert response.headers["content-type"] == "application/problem+json"


def test_framing_policy_when_configured(app: FastAPI) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"frame_ancestors": "https://kimberleyprocess.example"}
    )
    response = TestClient(app).get("/maps/sites")
    assert response.headers["content-security-policy"].endswith(
        "; frame-ancestors https://kimberleyprocess.example"
    )


def test_border_band_and_highlight(client: TestClient) -> None:
    response = client.get(
        "/maps/sites", params={"border": "CAF-CMR", "within_km": "25", "lang": "fr"}
    )
    assert response.status_code == 200, response.text
    assert "moins de 25 km de CAF-CMR" in response.text  # (Folium escapes the À)
    assert "#e67e22" in response.text, "the asked border is highlighted"


def test_clusters_map(client: TestClient) -> None:
    response = client.get("/maps/clusters", params={"lang": "pt", "eps_km": "2"})
    assert response.status_code == 200, response.text
    assert "Agrupamentos de locais" in response.text
    assert client.get("/maps/clusters", params={"eps_km": "0"}).status_code == 400
    assert client.get("/maps/clusters", params={"kind": "mine"}).status_code == 400


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("page", ["/maps/sites", "/maps/clusters"])
def test_map_pages_declare_their_language(client: TestClient, page: str, lang: str) -> None:
    text = client.get(page, params={"lang": lang}).text
    assert text.count("<html") == 1 and f'<html lang="{lang}">' in text
    words = labels(lang)
    for key in ("zoom_in", "zoom_out", "layers", "Boundaries"):
        assert json.dumps(words[key])[1:-1] in text, key


def test_map_policy_names_the_configured_tile_host(app: FastAPI) -> None:
    client = TestClient(app)
    policy = client.get("/maps/sites").headers["content-security-policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in policy
    app.state.settings = app.state.settings.model_copy(update={"map_tiles": "none"})
    policy = client.get("/maps/clusters").headers["content-security-policy"]
    assert "img-src 'self' data:;" in policy
