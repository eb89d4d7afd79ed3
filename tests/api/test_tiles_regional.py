"""Vector tiles of the zones (polygons) and the trade routes (lines): a tile holds the items
of its box, filtered by the collections' own parameters, with public properties only; a
new upload changes the tiles' ETag."""

from __future__ import annotations

import json
from collections.abc import Callable

import morecantile
import pytest
from fastapi.testclient import TestClient
from shapely.affinity import translate

from tests.api.test_routes import BERBERATI, ipis_routes, mines
from tests.api.test_tiles import tile_url
from tests.api.test_tiles_collections import features_of, items_ids
from tests.api.test_zones import upload, zones_file
from tests.geo.test_zones import BOW_TIE, TWO_PARTS, WITH_HOLE

Headers = Callable[..., dict[str, str]]
MERCATOR = morecantile.tms.get("WebMercatorQuad")
ZONE_FIELDS = {"id", "name", "zone_type", "zone_set", "active"}
ROUTE_FIELDS = {
    "id",
    "mineral",
    "cross_border",
    "border_pair",
    "source_country",
    "destination_country",
    "length_km",
}


@pytest.fixture
def writer(api_key: Headers) -> dict[str, str]:
    return api_key("researcher")


def _upload_zone_sets(client: TestClient, writer: dict[str, str]) -> tuple[str, str]:
    green = upload(
        client, writer, "green.geojson", zones_file([WITH_HOLE, TWO_PARTS, BOW_TIE]),
        target="zones", zone_type="kp_compliant_zone", zone_set="KP green zones",
    )  # fmt: skip
    assert green.status_code == 201, green.text
    # the same shapes two degrees east, as protected areas
    moved = [translate(g, xoff=2.0) for g in (WITH_HOLE, TWO_PARTS, BOW_TIE)]
    parks = upload(
        client, writer, "parks.geojson", zones_file(moved),
        target="zones", zone_type="protected_area", zone_set="Parks",
    )  # fmt: skip
    assert parks.status_code == 201, parks.text
    return green.json()["zone_set"]["id"], parks.json()["zone_set"]["id"]


def test_zone_tiles_are_the_zones_of_the_tile_filtered_like_the_items(
    client: TestClient, writer: dict[str, str]
) -> None:
    green, parks = _upload_zone_sets(client, writer)
    tile = MERCATOR.tile(15.5, 4.5, 4)
    bounds = MERCATOR.bounds(tile)
    url = tile_url(4, tile.y, tile.x, collection="zones")
    features = features_of(client, url, "zones")
    ids = {f["properties"]["id"] for f in features}
    assert len(ids) == 6
    assert ids == items_ids(client, "zones", bounds)
    for feature in features:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert set(feature["properties"]) == ZONE_FIELDS
        assert feature["properties"]["active"] is True
    by_set = {f["properties"]["id"]: f["properties"]["zone_set"] for f in features}
    assert set(by_set.values()) == {green, parks}

    for query in ("zone_type=protected_area", f"zone_set={parks}", "zone_set=Parks"):
        only = features_of(client, f"{url}?{query}", "zones")
        expected = items_ids(client, "zones", bounds, query)
        assert {f["properties"]["id"] for f in only} == expected
        assert expected == {k for k, v in by_set.items() if v == parks}
    inactive = client.get(f"{url}?active=false")
    assert inactive.status_code == 204
    # another zone set (no site changes): the tile's old ETag no longer matches
    etag = client.get(url).headers["etag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    more = upload(
        client, writer, "more.geojson", zones_file([translate(g, xoff=-2.0) for g in
                                                   (WITH_HOLE, TWO_PARTS, BOW_TIE)]),
        target="zones", zone_type="concession", zone_set="Concessions",
    )  # fmt: skip
    assert more.status_code == 201, more.text
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200
    # a tile of Europe holds no zone
    far = MERCATOR.tile(2.0, 48.0, 6)
    assert client.get(tile_url(6, far.y, far.x, collection="zones")).status_code == 204

    # a smaller tile holds the zones that meet it
    small = MERCATOR.tile(15.05, 4.05, 9)
    inside = features_of(client, tile_url(9, small.y, small.x, collection="zones"), "zones")
    near = {f["properties"]["id"] for f in inside}
    assert near and near < ids
    assert near >= items_ids(client, "zones", MERCATOR.bounds(small))


def test_route_tiles_are_the_routes_of_the_tile_filtered_like_the_items(
    client: TestClient, writer: dict[str, str]
) -> None:
    known = upload(client, writer, "mines.geojson", mines([("Berberati", BERBERATI)]))
    assert known.status_code == 201, known.text
    answer = upload(client, writer, "ipis.geojson", ipis_routes(), target="routes")
    assert answer.status_code == 201, answer.text
    tile = MERCATOR.tile(15.5, 4.5, 4)
    bounds = MERCATOR.bounds(tile)
    url = tile_url(4, tile.y, tile.x, collection="routes")
    first = client.get(url)
    assert first.status_code == 200
    features = features_of(client, url, "routes")
    assert len(features) == 2
    assert {f["properties"]["id"] for f in features} == items_ids(client, "routes", bounds)
    for feature in features:
        assert feature["geometry"]["type"] in ("LineString", "MultiLineString")
        # nulls are left out of a tile (the domestic route crosses no border)
        assert set(feature["properties"]) <= ROUTE_FIELDS
        assert {"id", "cross_border", "length_km", "mineral"} <= set(feature["properties"])
    crossing = next(f["properties"] for f in features if f["properties"]["cross_border"])
    assert set(crossing) == ROUTE_FIELDS
    item = client.get(f"/collections/routes/items/{crossing['id']}").json()["properties"]
    assert crossing["border_pair"] == item["border_pair"] == "CAF-CMR"
    assert crossing["length_km"] == pytest.approx(item["length_km"], abs=1e-3)

    for query in ("cross_border=true", "mineral=or", "border=CMR", "cross_border=false"):
        only = features_of(client, f"{url}?{query}", "routes")
        expected = items_ids(client, "routes", bounds, query)
        assert len(expected) == 1
        assert {f["properties"]["id"] for f in only} == expected
    assert client.get(f"{url}?mineral=cobalt").status_code == 204
    far = MERCATOR.tile(2.0, 48.0, 6)
    assert client.get(tile_url(6, far.y, far.x, collection="routes")).status_code == 204

    # another upload of routes (between known sites: the sites do not change): the tile's
    # old ETag no longer matches
    etag = first.headers["etag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    routes = ipis_routes().replace(b'"2025"', b'"2026"')
    second = upload(client, writer, "ipis2.geojson", routes, target="routes")
    assert second.status_code == 201, second.text
    assert second.json()["counts"]["sites_created"] == 0
    fresh = client.get(url, headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert len(features_of(client, url, "routes")) == 4


def test_the_explore_map_lists_zones_and_routes(client: TestClient) -> None:
    page = client.get("/maps/explore", params={"layers": "zones,routes"})
    assert page.status_code == 200, page.text
    config = page.text.split('id="bl-explore-config">', 1)[1].split("</script>", 1)[0]
    layers = {layer["id"]: layer for layer in json.loads(config)["layers"]}
    assert layers["zones"]["style"] == "zones" and layers["zones"]["on"]
    assert layers["routes"]["style"] == "routes" and layers["routes"]["on"]
