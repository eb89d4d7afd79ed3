"""Vector tiles of every collection besides sites: borders, countries and disputed areas
(clipped, simplified lines and polygons), observations (points) and clusters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import collections as registry
from app.services.sites import SiteDraft
from tests.api.test_items import add_sites
from tests.api.test_observations import survey, upload
from tests.api.test_tiles import decode, tile_url

MERCATOR = morecantile.tms.get("WebMercatorQuad")
CRS84 = morecantile.tms.get("WorldCRS84Quad")


def features_of(client: TestClient, url: str, layer: str) -> list[dict[str, Any]]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    decoded = decode(response.content)
    assert set(decoded) == {layer}
    features: list[dict[str, Any]] = decoded[layer]["features"]
    return features


def items_ids(client: TestClient, collection: str, bounds: Any, query: str = "") -> set[str]:
    box = f"{bounds.left!r},{bounds.bottom!r},{bounds.right!r},{bounds.top!r}"
    response = client.get(f"/collections/{collection}/items?bbox={box}&limit=10000&{query}")
    assert response.status_code == 200, response.text
    return {str(f["id"]) for f in response.json()["features"]}


#: Collections without vector tiles yet (points without a tile layer): they answer 404.
UNTILED = {"actors", "shared_sites"}


def test_every_collection_has_tilesets(client: TestClient) -> None:
    for provider in registry.PROVIDERS:
        response = client.get(f"/collections/{provider.id}/tiles")
        if provider.id in UNTILED:
            assert provider.tile_fields() is None, f"{provider.id} has tiles now: drop it"
            assert response.status_code == 404, provider.id
            continue
        assert response.status_code == 200, provider.id
        assert len(response.json()["tilesets"]) == 2


@pytest.mark.parametrize("tms_id", ["WebMercatorQuad", "WorldCRS84Quad"])
def test_border_tiles_are_clipped_lines_of_the_borders_there(
    client: TestClient, tms_id: str
) -> None:
    tms = morecantile.tms.get(tms_id)
    tile = tms.tile(16.0, 4.0, 4)
    features = features_of(client, tile_url(4, tile.y, tile.x, tms_id, "borders"), "borders")
    pairs = {f["properties"]["id"] for f in features}
    assert "CAF-CMR" in pairs
    # the borders drawn are those that cross the tile, or its buffer (64/4096 of a side)
    bounds = tms.bounds(tile)
    assert pairs >= crossing(client, bounds, 0.0)
    assert pairs <= crossing(client, bounds, 2 * 64 / 4096)
    for feature in features:
        assert feature["geometry"]["type"] in ("LineString", "MultiLineString")
        assert {"pair_code", "country_a", "country_b", "length_km"} <= set(feature["properties"])
    one = next(f for f in features if f["properties"]["id"] == "CAF-CMR")
    assert one["properties"]["length_km"] > 100
    for x, y in _coordinates(one["geometry"]):
        assert -64 <= x <= 4096 + 64 and -64 <= y <= 4096 + 64, "clipped to tile plus buffer"
    only = features_of(
        client,
        tile_url(4, tile.y, tile.x, tms_id, "borders") + "?filter=pair_code%3D%27CAF-CMR%27",
        "borders",
    )
    assert [f["properties"]["id"] for f in only] == ["CAF-CMR"]


def crossing(client: TestClient, bounds: Any, margin: float) -> set[str]:
    """Borders whose line meets the box (grown by ``margin`` of its size), by CQL2."""
    dx, dy = (bounds.right - bounds.left) * margin, (bounds.top - bounds.bottom) * margin
    box = f"{bounds.left - dx},{bounds.bottom - dy},{bounds.right + dx},{bounds.top + dy}"
    response = client.get(
        "/collections/borders/items",
        params={"filter": f"S_INTERSECTS(geometry, BBOX({box}))", "limit": 1000},
    )
    assert response.status_code == 200, response.text
    return {f["id"] for f in response.json()["features"]}


def _coordinates(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    def walk(node: Any) -> list[tuple[float, float]]:
        if isinstance(node[0], int | float):
            return [(node[0], node[1])]
        return [point for part in node for point in walk(part)]

    return walk(geometry["coordinates"])


def test_country_tiles_are_polygons_simplified_at_low_zoom(client: TestClient) -> None:
    world = features_of(client, tile_url(0, 0, 0, collection="countries"), "countries")
    detailed = features_of(client, tile_url(6, 31, 34, collection="countries"), "countries")
    codes = {f["properties"]["id"] for f in world}
    assert {"CAF", "CMR", "COD", "COG"} <= codes
    car = next(f for f in world if f["properties"]["id"] == "CAF")
    assert car["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert car["properties"]["name"] == "Central African Republic"
    vertices = len(_coordinates(car["geometry"]))
    assert vertices < 400, "simplified to a 4096-pixel world"
    assert detailed, "zoomed in, the countries there are drawn"
    disputed = client.get(tile_url(0, 0, 0, collection="disputed-areas"))
    assert disputed.status_code in (200, 204)


def test_observation_tiles_are_the_surveyed_points(
    client: TestClient, api_key: Callable[..., dict[str, str]]
) -> None:
    researcher = api_key("researcher")
    rows = [("Bania", 16.1, 3.9, "2023-05-02"), ("Nola", 16.05, 3.52, "2023-05-03")]
    report = upload(client, researcher, "visits.csv", survey(rows))
    tile = MERCATOR.tile(16.1, 3.9, 8)
    features = features_of(
        client, tile_url(8, tile.y, tile.x, collection="observations"), "observations"
    )
    expected = items_ids(client, "observations", MERCATOR.bounds(tile))
    assert {f["properties"]["id"] for f in features} == expected
    assert len(expected) == 2
    bania = next(f["properties"] for f in features if f["properties"]["name"] == "Bania")
    assert bania["upload"] == report["upload"]["id"]
    assert bania["observed_on"] == "2023-05-02"
    assert bania["minerals"] == "diamond"
    none = client.get(
        tile_url(8, tile.y, tile.x, collection="observations") + "?datetime=2030-01-01"
    )
    assert none.status_code == 204


def test_cluster_tiles_carry_the_clusters_there(client: TestClient, session: Session) -> None:
    group = [
        SiteDraft(kind="mine", name=f"cluster {i}", lon=20.0 + i * 0.01, lat=5.0 + i * 0.005)
        for i in range(4)
    ]
    add_sites(session, group)
    tile = MERCATOR.tile(20.0, 5.0, 7)
    features = features_of(client, tile_url(7, tile.y, tile.x, collection="clusters"), "clusters")
    expected = items_ids(client, "clusters", MERCATOR.bounds(tile))
    assert {str(f["properties"]["id"]) for f in features} == expected
    assert [f["properties"]["member_count"] for f in features] == [4]
    assert features[0]["properties"]["kinds"] == "mine"
    crossing = client.get(
        tile_url(7, tile.y, tile.x, collection="clusters") + "?cross_border_only=true"
    )
    assert crossing.status_code == 204
