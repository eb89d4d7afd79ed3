"""OGC API - Tiles: tile matrix sets, tilesets, TileJSON and Mapbox Vector Tiles of every
collection, decoded with mapbox-vector-tile and compared with the items of the same box and
filters."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import parse_qs, urlsplit

import mapbox_vector_tile
import morecantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.services import tiles as tile_service
from app.services.sites import SiteDraft
from tests.api.test_items import add_sites

MVT = "application/vnd.mapbox-vector-tile"
MERCATOR = morecantile.tms.get("WebMercatorQuad")
CRS84 = morecantile.tms.get("WorldCRS84Quad")


def drafts() -> list[SiteDraft]:
    """120 sites spread over CAR, Cameroon, Congo: mines and sales points, gold or diamond."""
    rng = random.Random(7)
    return [
        SiteDraft(
            kind="sales_point" if i % 4 == 0 else "mine",
            name=f"Bétaré Oya {i}" if i % 10 == 0 else f"tile site {i}",
            lon=rng.uniform(13.0, 22.0),
            lat=rng.uniform(1.0, 7.0),
            minerals=["gold"] if i % 3 else ["diamond", "gold"],
        )
        for i in range(120)
    ]


def decode(content: bytes) -> dict[str, Any]:
    return dict(mapbox_vector_tile.decode(content))


def tile_url(
    z: int, y: int, x: int, tms: str = "WebMercatorQuad", collection: str = "sites"
) -> str:
    return f"/collections/{collection}/tiles/{tms}/{z}/{y}/{x}"


def items_in(client: TestClient, bounds: Any, query: str = "") -> dict[str, dict[str, Any]]:
    box = f"{bounds.left!r},{bounds.bottom!r},{bounds.right!r},{bounds.top!r}"
    response = client.get(f"/collections/sites/items?bbox={box}&limit=10000&{query}")
    assert response.status_code == 200, response.text
    return {f["id"]: f["properties"] for f in response.json()["features"]}


def tile_features(client: TestClient, url: str, layer: str = "sites") -> list[dict[str, Any]]:
    response = client.get(url)
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    decoded = decode(response.content)
    assert set(decoded) == {layer}
    return [feature["properties"] for feature in decoded[layer]["features"]]


def test_tile_matrix_sets_come_from_morecantile(client: TestClient) -> None:
    listed = client.get("/tileMatrixSets").json()
    assert [item["id"] for item in listed["tileMatrixSets"]] == [
        "WebMercatorQuad",
        "WorldCRS84Quad",
    ]
    for tms_id in ("WebMercatorQuad", "WorldCRS84Quad"):
        document = client.get(f"/tileMatrixSets/{tms_id}").json()
        reference = morecantile.tms.get(tms_id).model_dump(mode="json", exclude_none=True)
        assert document["id"] == tms_id
        assert document["tileMatrices"][:10] == reference["tileMatrices"][:10]
    missing = client.get("/tileMatrixSets/GoogleCRS84Quad")
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_tile_matrix_set"


def test_conformance_declares_the_tiles_classes(client: TestClient) -> None:
    classes = client.get("/conformance").json()["conformsTo"]
    for name in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt"):
        assert f"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{name}" in classes


def test_a_site_tile_holds_the_items_of_its_box(client: TestClient, session: Session) -> None:
    ids = add_sites(session, drafts())
    tile = MERCATOR.tile(15.0, 4.0, 6)
    features = tile_features(client, tile_url(6, tile.y, tile.x))
    expected = items_in(client, MERCATOR.bounds(tile))
    assert expected, "the tile is not empty"
    assert {f["id"] for f in features} == set(expected)
    assert set(expected) <= set(ids)
    one = features[0]
    site = expected[one["id"]]
    assert one["name"] == site["name"]
    assert one["kind"] == site["kind"]
    assert one["country"] == site["country"]
    assert one["minerals"] == ",".join(site["minerals"])
    assert one["status"] == site["status"]
    assert one["border_pair"] == site["border_pair"]
    assert one["border_distance_m"] == pytest.approx(site["border_distance_m"])
    assert "point_count" not in one


@pytest.mark.parametrize(
    "query",
    [
        "kind=sales_point",
        "mineral=diamant",
        "kind=mine&mineral=diamond&country=CAF",
        "filter=kind%3D%27sales_point%27%20AND%20border_distance_m%20%3C%20150000",
        "within_km=100",
        "q=tile%20site%201",
    ],
)
def test_a_filtered_tile_holds_only_the_matching_items(
    client: TestClient, session: Session, query: str
) -> None:
    add_sites(session, drafts())
    tile = MERCATOR.tile(17.0, 4.0, 4)
    everything = items_in(client, MERCATOR.bounds(tile))
    expected = items_in(client, MERCATOR.bounds(tile), query)
    features = tile_features(client, f"{tile_url(4, tile.y, tile.x)}?{query}")
    assert {f["id"] for f in features} == set(expected)
    assert 0 < len(expected) < len(everything), "the filter selects some, not all"


def test_random_tiles_from_z4_to_z12_equal_the_items_of_their_box(
    client: TestClient, session: Session
) -> None:
    sites = drafts()
    add_sites(session, sites)
    rng = random.Random(2026)
    checked = 0
    for _ in range(24):
        zoom = rng.randint(4, 12)
        site = rng.choice(sites)  # a tile with at least this site, at a random zoom
        tms, tms_id = rng.choice(((MERCATOR, "WebMercatorQuad"), (CRS84, "WorldCRS84Quad")))
        tile = tms.tile(site.lon, site.lat, zoom)
        query = rng.choice(("", "kind=mine", "mineral=diamond"))
        features = tile_features(client, f"{tile_url(zoom, tile.y, tile.x, tms_id)}?{query}")
        expected = items_in(client, tms.bounds(tile), query)
        assert {f["id"] for f in features} == set(expected), (tms_id, tile, query)
        checked += len(expected)
    assert checked > 24


def insert_dense_sites(
    session: Session, count: int, box: tuple[float, float, float, float]
) -> None:
    """``count`` sites uniformly in ``box``, set-based (one INSERT ... SELECT)."""
    session.execute(
        text(
            "INSERT INTO sites (public_id, kind, name, minerals, geom, country_iso3, "
            "location_status) "
            "SELECT 'TT-' || lpad(g::text, 10, '0'), "
            "CASE WHEN g % 3 = 0 THEN 'sales_point' ELSE 'mine' END, 'dense ' || g, "
            "ARRAY['gold'], ST_SetSRID(ST_MakePoint(:x0 + random() * :dx, "
            ":y0 + random() * :dy), 4326), 'CAF', 'country' "
            "FROM generate_series(1, :n) AS g"
        ),
        {"x0": box[0], "y0": box[1], "dx": box[2] - box[0], "dy": box[3] - box[1], "n": count},
    )


def test_dense_tiles_aggregate_points_and_keep_every_count(
    client: TestClient, session: Session
) -> None:
    add_sites(session, drafts())
    insert_dense_sites(session, 6000, (18.0, 4.0, 19.0, 5.0))
    tile = MERCATOR.tile(18.5, 4.5, 6)
    response = client.get(tile_url(6, tile.y, tile.x))
    features = decode(response.content)["sites"]["features"]
    properties = [f["properties"] for f in features]
    aggregated = [p for p in properties if p.get("aggregated")]
    assert aggregated, "6 000 points in one tile are aggregated"
    assert len(features) <= tile_service.GRID**2
    assert len(response.content) <= tile_service.MAX_TILE_BYTES
    expected = items_in(client, MERCATOR.bounds(tile))
    total = sum(p.get("point_count", 1) for p in properties)
    assert total == len(expected) == int(response.headers["X-Borderlens-Points"])
    singles = {p["id"] for p in properties if "point_count" not in p}
    assert singles <= set(expected)
    for item in aggregated:
        counts = dict(part.split(":") for part in item["kinds"].split(","))
        assert set(counts) <= {"mine", "sales_point"}
        assert sum(int(n) for n in counts.values()) == item["point_count"] > 1
    # filtered: the counts are those of the matching items
    filtered = client.get(f"{tile_url(6, tile.y, tile.x)}?kind=sales_point")
    kept = [f["properties"] for f in decode(filtered.content)["sites"]["features"]]
    assert all("mine" not in p.get("kinds", "") for p in kept)
    assert all(p.get("kind", "sales_point") == "sales_point" for p in kept)
    matching = items_in(client, MERCATOR.bounds(tile), "kind=sales_point")
    assert sum(p.get("point_count", 1) for p in kept) == len(matching)


def test_a_tile_over_the_byte_cap_is_rebuilt_coarser_with_every_count(
    session: Session, monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    insert_dense_sites(session, 3000, (18.0, 4.0, 19.0, 5.0))
    tile = MERCATOR.tile(18.5, 4.5, 7)
    full = client.get(tile_url(7, tile.y, tile.x))
    assert "point_count" not in str(decode(full.content)), "under 4 096 points: all plain"
    monkeypatch.setattr(tile_service, "MAX_TILE_BYTES", len(full.content) // 4)
    smaller = client.get(tile_url(7, tile.y, tile.x) + "?kind=mine,sales_point")
    features = decode(smaller.content)["sites"]["features"]
    assert len(smaller.content) <= len(full.content) // 4
    assert sum(f["properties"].get("point_count", 1) for f in features) == 3000


def test_empty_tiles_etags_and_revalidation(client: TestClient, session: Session) -> None:
    add_sites(session, drafts())
    empty = client.get(tile_url(5, 0, 0))
    assert empty.status_code == 204
    assert empty.content == b""
    tile = MERCATOR.tile(17.0, 4.0, 5)
    first = client.get(tile_url(5, tile.y, tile.x))
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    assert "max-age" in first.headers["Cache-Control"]
    again = client.get(tile_url(5, tile.y, tile.x), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    filtered = client.get(tile_url(5, tile.y, tile.x) + "?kind=mine")
    assert filtered.headers["ETag"] != etag, "the query is part of the tag"
    add_sites(session, [SiteDraft(kind="mine", name="new one", lon=17.0, lat=4.0)])
    changed = client.get(tile_url(5, tile.y, tile.x), headers={"If-None-Match": etag})
    assert changed.status_code == 200, "a new version of the sites is a new tag"
    assert changed.headers["ETag"] != etag
    ids = {f["properties"]["id"] for f in decode(changed.content)["sites"]["features"]}
    assert (
        len(ids)
        == len({f["properties"]["id"] for f in decode(first.content)["sites"]["features"]}) + 1
    )


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        (tile_url(3, 8, 0), 404, "tile_out_of_range"),
        (tile_url(3, 0, 8), 404, "tile_out_of_range"),
        (tile_url(0, 0, 1), 404, "tile_out_of_range"),
        (tile_url(0, 0, 2, "WorldCRS84Quad"), 404, "tile_out_of_range"),
        (tile_url(3, 0, 0, "NoSuchQuad"), 404, "unknown_tile_matrix_set"),
        (tile_url(0, 0, 0, collection="nothing"), 404, "unknown_collection"),
        (tile_url(3, 0, 0) + "?limit=5", 400, "unknown_parameter"),
        (tile_url(3, 0, 0) + "?kind=volcano", 400, None),
        (tile_url(3, 0, 0) + "?filter=nonsense%20%3D", 400, None),
        ("/collections/sites/tiles/WebMercatorQuad/99/0/0", 400, None),
        ("/collections/sites/tiles/WebMercatorQuad/a/0/0", 400, None),
    ],
)
def test_bad_tiles_are_problems(
    client: TestClient, url: str, status: int, code: str | None
) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if code is not None:
        assert response.json()["code"] == code


def test_tilesets_metadata_and_tilejson_keep_the_filters(
    client: TestClient, session: Session
) -> None:
    add_sites(session, drafts())
    listed = client.get("/collections/sites/tiles").json()
    assert [t["tileMatrixSetURI"] for t in listed["tilesets"]] == [
        str(MERCATOR.uri),
        str(CRS84.uri),
    ]
    metadata = client.get("/collections/sites/tiles/WebMercatorQuad?kind=mine").json()
    item = next(link for link in metadata["links"] if link["rel"] == "item")
    assert item["type"] == MVT
    assert item["href"].endswith(
        "/sites/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}?kind=mine"
    )
    assert metadata["layers"][0]["id"] == "sites"
    fields = metadata["layers"][0]["propertiesSchema"]["properties"]
    assert {"id", "name", "kind", "minerals", "point_count", "aggregated"} <= set(fields)
    assert metadata["borderlens:sizeRule"]["maxFeatures"] == tile_service.GRID**2
    tilejson = client.get(
        "/collections/sites/tiles/WebMercatorQuad?f=tilejson&kind=mine&mineral=gold"
    )
    document = tilejson.json()
    assert document["tilejson"] == "3.0.0"
    template = document["tiles"][0]
    assert "/collections/sites/tiles/WebMercatorQuad/{z}/{y}/{x}?" in template
    assert parse_qs(urlsplit(template).query) == {"kind": ["mine"], "mineral": ["gold"]}
    assert document["vector_layers"][0]["id"] == "sites"
    west, south, east, north = document["bounds"]
    assert 12 < west < east < 23 and 0 < south < north < 8
    refused = client.get("/collections/sites/tiles/WorldCRS84Quad?f=tilejson")
    assert refused.status_code == 400
    bad_filter = client.get("/collections/sites/tiles/WebMercatorQuad?kind=volcano")
    assert bad_filter.status_code == 400


def test_collection_documents_link_their_tilesets(client: TestClient) -> None:
    document = client.get("/collections/sites").json()
    rels = {link["rel"]: link["href"] for link in document["links"]}
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"].endswith(
        "/collections/sites/tiles"
    )
    landing = client.get("/").json()
    assert any(link["href"].endswith("/tileMatrixSets") for link in landing["links"])


def test_every_tile_answer_says_its_dataset_version(client: TestClient, session: Session) -> None:
    """The tile statement reads the dataset version itself (no second query per tile); the
    answers that never run it (bad parameters, bad paths, out of range, 304) still carry it."""
    add_sites(session, drafts())
    current = client.get("/conformance").headers["Dataset-Version"]
    tile = MERCATOR.tile(17.0, 4.0, 5)
    etag = client.get(tile_url(5, tile.y, tile.x)).headers["ETag"]
    answers = {
        "tile": client.get(tile_url(5, tile.y, tile.x)),
        "empty": client.get(tile_url(5, 0, 0)),
        "not modified": client.get(tile_url(5, tile.y, tile.x), headers={"If-None-Match": etag}),
        "bad parameter": client.get(tile_url(3, 0, 0) + "?kind=volcano"),
        "bad path": client.get("/collections/sites/tiles/WebMercatorQuad/a/0/0"),
        "out of range": client.get(tile_url(3, 8, 0)),
        "no such collection": client.get(tile_url(0, 0, 0, collection="nothing")),
    }
    assert {name: a.status_code for name, a in answers.items()} == {
        "tile": 200,
        "empty": 204,
        "not modified": 304,
        "bad parameter": 400,
        "bad path": 400,
        "out of range": 404,
        "no such collection": 404,
    }
    assert {name: a.headers.get("Dataset-Version") for name, a in answers.items()} == dict.fromkeys(
        answers, current
    )
    add_sites(session, [SiteDraft(kind="mine", name="one more", lon=17.0, lat=4.0)])
    later = client.get(tile_url(5, tile.y, tile.x))
    assert int(later.headers["Dataset-Version"]) > int(current)
    assert later.headers["Dataset-Version"] == client.get("/conformance").headers["Dataset-Version"]
