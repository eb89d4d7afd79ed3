"""OGC API - Features Part 1 core: landing page, conformance, collections, API definition."""

from __future__ import annotations

from fastapi.testclient import TestClient

GEOJSON = "application/geo+json"


def test_landing_page_links(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    rels = {link["rel"]: link for link in response.json()["links"]}
    for rel in ("self", "service-desc", "service-doc", "conformance", "data"):
        assert rel in rels, rel
        assert rels[rel]["href"].startswith("http"), "links are absolute"
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["data"]["href"].endswith("/collections")


def test_conformance_uris_are_exact(client: TestClient) -> None:
    conforms = client.get("/conformance").json()["conformsTo"]
    cql2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
    tiles = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"
    assert set(conforms) == {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        cql2 + "cql2-text",
        cql2 + "cql2-json",
        cql2 + "basic-cql2",
        cql2 + "advanced-comparison-operators",
        cql2 + "case-insensitive-comparison",
        cql2 + "accent-insensitive-comparison",
        cql2 + "basic-spatial-functions",
        cql2 + "basic-spatial-functions-plus",
        cql2 + "spatial-functions",
        cql2 + "temporal-functions",
        cql2 + "array-functions",
        cql2 + "property-property",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
        tiles + "core",
        tiles + "tileset",
        tiles + "tilesets-list",
        tiles + "geodata-tilesets",
        tiles + "mvt",
        tiles + "oas30",
        "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
        "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
    }


def test_collections_list(client: TestClient) -> None:
    response = client.get("/collections")
    assert response.status_code == 200
    body = response.json()
    ids = [c["id"] for c in body["collections"]]
    assert {"sites", "borders", "countries"} <= set(ids)
    for collection in body["collections"]:
        assert all((ch.isalnum() and ch.islower()) or ch in "_-" for ch in collection["id"])
        rels = {link["rel"]: link for link in collection["links"]}
        assert rels["items"]["type"] == GEOJSON
        assert collection["itemType"] == "feature"
        crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        assert collection["crs"][0] == collection["storageCrs"] == crs84
        assert "http://www.opengis.net/def/crs/EPSG/0/3857" in collection["crs"]
        if collection["id"] in ("borders", "countries"):  # the others may hold no data yet
            assert "bbox" in collection["extent"]["spatial"]
        assert "Natural Earth" in collection["attribution"]


def test_one_collection_and_unknown_collection(client: TestClient) -> None:
    assert client.get("/collections/borders").json()["id"] == "borders"
    response = client.get("/collections/mines")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unknown_collection"


def test_collection_id_pattern_is_enforced(client: TestClient) -> None:
    response = client.get("/collections/public.sites/items")
    assert response.status_code in (400, 404)
    assert response.headers["content-type"] == "application/problem+json"


def test_api_definition_is_openapi_30(client: TestClient) -> None:
    response = client.get("/api")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    document = response.json()
    assert document["openapi"].startswith("3.0")
    assert "/collections/sites/items" in document["paths"]
    text = response.text
    assert '"type":"null"' not in text.replace(" ", ""), "3.1-only null types were rewritten"


def test_api_documentation_page(client: TestClient) -> None:
    response = client.get("/api.html")
    assert response.status_code == 200
    assert "/collections/sites/items" in response.text


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
