"""Every collection publishes its schema, and every served property has, on every page and
for every caller, the one JSON type its schema declares (a real is a JSON number with a
fraction even when whole: clients type fields from the first page they read). The ``flat``
profile serves each array or object as its JSON text and nothing else differently."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import collections as registry
from app.api.feature_schemas import REL_SCHEMA, SCHEMA_MEDIA_TYPE
from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.support.sites import BATOURI_CMR, BERBERATI_CAF

Headers = Callable[..., dict[str, str]]
#: The collections this file's fixture fills (zones, routes, actors and shared sites come from
#: their own uploads or peers; their property types are not checked here yet).
FILLED_ELSEWHERE = {"zones", "routes", "actors", "shared_sites"}
COLLECTIONS = [p.id for p in registry.PROVIDERS if p.id not in FILLED_ELSEWHERE]
# Whole and fractional reals, in an order that puts whole ones on the first page.
ACCURACIES = (15.0, 20.0, 5.0, None, 6.5, 2.25, 1e-3, 100.0, 3.0)
SURVEY = "name,lon,lat,date,kind,minerals,accuracy\n" + "".join(
    f"Visit {i},{14.40 + i * 0.004},{4.45},2024-03-0{i + 1},mine,diamant,{acc}\n"
    for i, acc in enumerate(("12", "7.5", "30", ""))
)


@pytest.fixture
def dataset(session: Session, client: TestClient, api_key: Headers) -> dict[str, str]:
    """Sites of every shape (grouped, so that clusters form), and observations from an upload;
    returns an admin's headers."""
    state = BoundaryCache().current(session)
    assert state is not None
    drafts = []
    for group, (lon, lat) in enumerate((BERBERATI_CAF, BATOURI_CMR)):
        for i, accuracy in enumerate(ACCURACIES):
            drafts.append(
                SiteDraft(
                    kind="mine" if i % 2 else "sales_point",
                    name=f"site {group}-{i}",
                    lon=lon + i * 0.005,
                    lat=lat,
                    minerals=["diamond", "gold"][: i % 3],
                    aliases=["Zone A", "Chantier, bas"] if i == 5 else [],
                    accuracy_m=accuracy,
                    observed_on=dt.date(2024, 1, 1 + i),
                    attributes={"pits": i, "depth_m": i * 1.5} if i % 2 else {},
                    restricted={"owner": f"owner {i}"} if i % 3 == 0 else {},
                )
            )
    create_sites(session, state, drafts, Caller(role="admin", name="schemas"))
    admin = api_key("admin")
    response = client.post(
        "/uploads", headers=admin, files={"file": ("visits.csv", SURVEY.encode(), "text/csv")}
    )
    assert response.status_code == 201, response.text
    return admin


def pages(client: TestClient, url: str, headers: dict[str, str] | None) -> Iterator[str]:
    """The raw text of every page (small pages: the types must hold across them)."""
    next_url: str | None = url
    while next_url:
        response = client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        yield response.text
        links = response.json()["links"]
        next_url = next((x["href"] for x in links if x["rel"] == "next"), None)


def features(client: TestClient, url: str, headers: dict[str, str] | None) -> list[Any]:
    return [f for text in pages(client, url, headers) for f in json.loads(text)["features"]]


def has_type(value: Any, schema: dict[str, Any]) -> bool:
    """``json.loads`` keeps 15.0 a float and 15 an int: the distinction clients see."""
    kind = schema.get("type")
    if kind == "number":
        return isinstance(value, float)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list) and all(has_type(v, schema["items"]) for v in value)
    if kind == "string":
        if not isinstance(value, str):
            return False
        if schema.get("format") == "date":
            return bool(dt.date.fromisoformat(value))
        if schema.get("format") == "date-time":
            return dt.datetime.fromisoformat(value).tzinfo is not None
        return True
    return False


QUERIES = {"sites": ["", "&border=CAF-CMR&within_km=100"]}


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_every_property_has_its_declared_type_on_every_page(
    client: TestClient, dataset: dict[str, str], collection: str, who: str
) -> None:
    schema = registry.get(collection).schema()
    headers = dataset if who == "admin" else None
    seen: set[str] = set()
    for query in QUERIES.get(collection, [""]):
        for feature in features(client, f"/collections/{collection}/items?limit=4{query}", headers):
            for name, value in feature["properties"].items():
                assert name in schema, f"{collection}.{name} is served but not declared"
                seen.add(name)
                if value is not None:
                    assert has_type(value, schema[name]), f"{collection}.{name}: {value!r}"
    if collection != "disputed-areas":  # none in the test region
        assert seen, "the collection has features to check"


def test_whole_reals_are_written_with_a_fraction(client: TestClient, dataset: Any) -> None:
    """The raw text, as a client reading the first page sees it."""
    text = next(pages(client, "/collections/sites/items?limit=3", None))
    assert '"accuracy_m":15.0' in text.replace(" ", "")
    served = {
        f["properties"]["accuracy_m"]
        for f in features(client, "/collections/sites/items?limit=50", None)
    }
    assert {15.0, 6.5, 2.25, 0.001, 100.0} <= served


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_the_flat_profile_serves_lists_and_objects_as_their_json_text(
    client: TestClient, dataset: dict[str, str], collection: str
) -> None:
    url = f"/collections/{collection}/items?limit=5"
    default = {f["id"]: f["properties"] for f in features(client, url, dataset)}
    flat = {f["id"]: f["properties"] for f in features(client, url + "&profile=flat", dataset)}
    assert flat.keys() == default.keys()
    for feature_id, properties in flat.items():
        assert properties.keys() == default[feature_id].keys()
        for name, value in properties.items():
            want = default[feature_id][name]
            if isinstance(want, list | dict):
                assert isinstance(value, str) and json.loads(value) == want
            else:
                assert value == want and type(value) is type(want)


def test_one_item_in_the_flat_profile(client: TestClient, dataset: dict[str, str]) -> None:
    first = features(client, "/collections/sites/items?limit=1", None)[0]
    response = client.get(f"/collections/sites/items/{first['id']}?profile=flat")
    assert response.status_code == 200
    assert json.loads(response.json()["properties"]["minerals"]) == first["properties"]["minerals"]


@pytest.mark.parametrize(
    "url",
    [
        "/collections/sites/items?profile=tabular",
        "/collections/borders/items?profile=",
        "/collections/sites/items/BL-XXXX?profile=FLAT",
        "/collections/clusters/schema?profile=csv",
    ],
)
def test_an_unknown_profile_is_a_400(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_parameter"


def _link(document: dict[str, Any], rel: str) -> str:
    (found,) = [x for x in document["links"] if x["rel"] == rel]
    assert found["type"] == SCHEMA_MEDIA_TYPE
    href: str = found["href"]
    return href


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_the_collection_links_its_schemas(client: TestClient, collection: str) -> None:
    declared = registry.get(collection).schema()
    document = client.get(f"/collections/{collection}").json()

    part5 = client.get(_link(document, REL_SCHEMA))
    assert part5.status_code == 200
    assert part5.headers["content-type"] == SCHEMA_MEDIA_TYPE
    body = part5.json()
    assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(body["properties"]) == set(declared)
    assert body["properties"]["geometry"]["x-ogc-role"] == "primary-geometry"

    feature = client.get(_link(document, "describedby"))
    assert feature.status_code == 200
    assert feature.headers["content-type"] == SCHEMA_MEDIA_TYPE
    members = feature.json()["properties"]["properties"]["properties"]
    assert set(members) == set(declared) - {"geometry"}
    # GDAL reads one type string per property (a list of types would make it text).
    assert all(isinstance(member["type"], str) for member in members.values())


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_the_schemas_follow_the_profile(client: TestClient, collection: str) -> None:
    declared = registry.get(collection).schema()
    structured = {n for n, s in declared.items() if s.get("type") in ("array", "object")}
    for leaf, path in (("schema", ()), ("feature-schema", ("properties", "properties"))):
        # GDAL appends a filtered URL's query (the collection's item parameters) to the
        # schema request: they pass (app.api.params.reject_undeclared_ogc_query)
        query = "profile=flat&bbox=14,2,17,6&limit=5"
        body = client.get(f"/collections/{collection}/{leaf}?{query}").json()
        members = body["properties"]
        for step in path:
            members = members[step]
        for name in structured:
            assert members[name]["type"] == "string"
            assert members[name]["contentMediaType"] == "application/json"
        for name in set(members) - structured - {"geometry"}:
            assert members[name]["type"] == declared[name]["type"]


def test_qgis_gets_the_flat_profile_without_asking(client: TestClient) -> None:
    qgis = {"User-Agent": "Mozilla/5.0 QGIS/32215/Debian GNU/Linux 12 (bookworm)"}
    flat = client.get("/collections/borders/items", headers=qgis)
    assert "User-Agent" in flat.headers["vary"]
    default = client.get("/collections/borders/items", headers={"User-Agent": "GDAL/3.6.2"})
    assert (
        flat.json()["features"]
        == client.get("/collections/borders/items", params={"profile": "flat"}).json()["features"]
    )
    assert default.json()["features"] == client.get("/collections/borders/items").json()["features"]
    schema = client.get("/collections/sites/feature-schema", headers=qgis).json()
    minerals = schema["properties"]["properties"]["properties"]["minerals"]
    assert minerals["type"] == "string"
