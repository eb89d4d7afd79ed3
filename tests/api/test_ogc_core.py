"""OGC API - Features Part 1 core: landing page, conformance, collections, API definition."""

from __future__ import annotations

import pytest
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


#: Every OGC route but the items, an item and the tiles (which parse their own parameters):
#: a misspelt parameter was answered 200 here, as if it had been applied (found by a helper).
OGC_ROUTES = [
    "/",
    "/conformance",
    "/collections",
    "/collections/sites",
    "/collections/sites/queryables",
    "/collections/sites/schema",
    "/collections/sites/feature-schema",
    "/tileMatrixSets",
    "/tileMatrixSets/WebMercatorQuad",
    "/collections/sites/tiles",
    "/api",
    "/api.html",
]


@pytest.mark.parametrize("path", OGC_ROUTES)
def test_an_undeclared_parameter_is_a_400_naming_it_on_every_ogc_route(
    client: TestClient, path: str
) -> None:
    response = client.get(path, params={"foo": "1"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "unknown_parameter"
    (item,) = problem["errors"]
    assert (item["code"], item["column"]) == ("unknown_parameter", "foo")
    assert problem["detail"].startswith("foo: unknown query parameter")


@pytest.mark.parametrize("path", OGC_ROUTES)
def test_f_lang_and_the_item_parameters_gis_clients_carry_are_taken(
    client: TestClient, path: str
) -> None:
    """GDAL sends the query of the URL it was given (``OAPIF:http://host/collections/sites?
    kind=mine``) with every request, QGIS the landing URL's (``/?border=CAF-CMR&within_km=25``,
    ``/?profile=flat``): these are the items' parameters, ignored here."""
    carried = {"kind": "mine", "border": "CAF-CMR", "within_km": "25", "profile": "flat"}
    assert client.get(path, params=carried).status_code == 200
    assert client.get(path, params={"lang": "fr"}).status_code == 200
    assert client.get(path, params={"f": "json"}).status_code == 200


def test_one_item_ignores_the_filters_of_its_collection_a_client_carries(
    client: TestClient,
) -> None:
    """A single feature's URL with the layer's query GDAL and QGIS repeat (``kind``,
    ``bbox``, ``limit``, ``filter``) is the feature, as on the other OGC routes: it was a 400
    (left by a helper as a loose end); an unknown parameter is still named."""
    borders = client.get("/collections/borders/items", params={"limit": "1"}).json()
    feature_id = borders["features"][0]["id"]
    url = f"/collections/borders/items/{feature_id}"
    carried = {"bbox": "0,0,40,20", "limit": "50", "filter": "pair_code = 'X'", "f": "json"}
    answer = client.get(url, params=carried)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == feature_id
    refused = client.get(url, params={"foo": "1"})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["column"] == "foo"
    # kind is a parameter of the sites, not of the borders: still named on a border
    assert client.get(url, params={"kind": "mine"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "parameter", "value"),
    [
        # kind is a parameter of the sites, not of the borders
        ("/collections/borders", "kind", "mine"),
        ("/collections/borders/queryables", "kind", "mine"),
        ("/collections", "f", "xml"),
        ("/collections/sites/queryables", "f", "html"),  # no page of the queryables
        ("/", "lang", "de"),
    ],
)
def test_a_parameter_the_route_does_not_take_is_still_named(
    client: TestClient, path: str, parameter: str, value: str
) -> None:
    response = client.get(path, params={parameter: value})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["column"] == parameter


@pytest.mark.parametrize("path", ["/health", "/signin"])
def test_the_service_routes_refuse_undeclared_parameters_too(client: TestClient, path: str) -> None:
    response = client.get(path, params={"foo": "1"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["column"] == "foo"
    assert client.get(path).status_code == 200
