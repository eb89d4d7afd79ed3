"""Parts 2 and 3 and search through HTTP: filter/filter-lang/filter-crs, /queryables, crs and
bbox-crs on items and item, Content-Crs, and q= on sites."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy.orm import Session

from app import collections as registry
from app.db import actors as actor_repo
from app.db import boundaries, clusters, observations
from app.db import federation as federation_repo
from app.db import routes as route_repo
from app.db import sites as site_repo
from app.db import zones as zone_repo
from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.support.geojson import assert_feature_collection

URL = "/collections/sites/items"
ADMIN = Caller(role="admin", name="tests")
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

DRAFTS = [
    SiteDraft("mine", "Bétaré Oya", 14.09, 5.60, ["gold"], ["Betare-Oya"],
              observed_on=dt.date(2024, 3, 1)),
    SiteDraft("sales_point", "Garoua-Boulaï", 14.55, 5.88, ["gold", "diamond"],
              observed_on=dt.date(2023, 5, 2)),
    SiteDraft("sales_point", "Berbérati comptoir", 15.79, 4.26, ["diamond"],
              observed_on=dt.date(2022, 1, 9)),
    SiteDraft("mine", "Carnot", 15.94, 4.94, ["diamond"], observed_on=dt.date(2021, 7, 4)),
    SiteDraft("mine", "Nola", 16.05, 3.53, ["diamond", "gold"]),
    SiteDraft("mine", "Ouesso", 16.05, 1.61, ["gold"], observed_on=dt.date(2020, 2, 2)),
    SiteDraft("mine", "Batouri", 14.36, 4.43, ["gold"], observed_on=dt.date(2019, 6, 30)),
]  # fmt: skip


def add_sites(session: Session, drafts: list[SiteDraft]) -> dict[str, str]:
    state = BoundaryCache().current(session)
    assert state is not None
    created = create_sites(session, state, drafts, ADMIN)
    return {c.public_id: d.name for c, d in zip(created, drafts, strict=True)}


@pytest.fixture
def sites(session: Session) -> dict[str, str]:
    return add_sites(session, DRAFTS)


def names(client: TestClient, **params: Any) -> list[str]:
    response = client.get(URL, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert_feature_collection(body)
    return [f["properties"]["name"] for f in body["features"]]


def test_every_queryable_has_its_sql_and_nothing_else_does() -> None:
    """What /queryables promises is exactly what the filter translation knows."""
    fields = {
        "sites": site_repo.SITE_FIELDS,
        "observations": observations.OBSERVATIONS.fields,
        "borders": boundaries.BORDERS.fields,
        "countries": boundaries.COUNTRIES.fields,
        "disputed-areas": boundaries.DISPUTED.fields,
        "clusters": clusters.CLUSTER_FIELDS,
        "zones": zone_repo.ZONE_FIELDS,
        "routes": route_repo.ROUTE_FIELDS,
        "actors": actor_repo.ACTOR_FIELDS,
        "shared_sites": federation_repo.SHARED_SITES.fields,
    }
    assert set(fields) == {provider.id for provider in registry.PROVIDERS}
    for provider in registry.PROVIDERS:
        declared = fields[provider.id]
        assert declared is not None
        assert list(declared) == list(provider.queryables()), provider.id


def test_queryables_are_json_schema_named_as_properties(
    client: TestClient, sites: dict[str, str]
) -> None:
    response = client.get("/collections/sites/queryables")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/schema+json")
    body = response.json()
    assert body["type"] == "object" and body["$id"].endswith("/collections/sites/queryables")
    feature = client.get(URL, params={"limit": 1}).json()["features"][0]
    assert set(body["properties"]) - {"geometry"} <= set(feature["properties"]) | {
        "border_distance_km"  # derived from border_distance_m
    }
    for collection in ("observations", "borders", "countries", "disputed-areas", "clusters"):
        assert client.get(f"/collections/{collection}/queryables").status_code == 200
    assert client.get("/collections/nope/queryables").status_code == 404


@pytest.mark.parametrize(
    ("filter_", "lang"),
    [
        ("ACCENTI(CASEI(name)) = ACCENTI(CASEI('betare oya'))", None),
        (
            json.dumps(
                {
                    "op": "=",
                    "args": [
                        {
                            "op": "accenti",
                            "args": [{"op": "casei", "args": [{"property": "name"}]}],
                        },
                        {"op": "accenti", "args": [{"op": "casei", "args": ["betare oya"]}]},
                    ],
                }
            ),
            "cql2-json",
        ),
    ],
)
def test_accent_insensitive_filter_finds_betare_oya(
    client: TestClient, sites: dict[str, str], filter_: str, lang: str | None
) -> None:
    params = {"filter": filter_, **({"filter-lang": lang} if lang else {})}
    assert names(client, **params) == ["Bétaré Oya"]


def test_filter_combines_with_border_and_kind_parameters(
    client: TestClient, sites: dict[str, str]
) -> None:
    found = set(names(client, filter="A_CONTAINS(minerals, ('diamond'))", kind="sales_point"))
    assert found == {"Garoua-Boulaï", "Berbérati comptoir"}
    near = set(names(client, border="CAF-CMR", within_km=100))
    both = set(names(client, border="CAF-CMR", within_km=100, filter="kind = 'mine'"))
    mines = {d.name for d in DRAFTS if d.kind == "mine"}
    assert both == near & mines
    assert both < near


def test_filter_crs_reads_geometries_in_that_crs(client: TestClient, sites: dict[str, str]) -> None:
    lonlat = set(names(client, filter="S_INTERSECTS(geometry, BBOX(14, 4, 15, 6))"))
    latlon = set(
        names(
            client,
            filter="S_INTERSECTS(geometry, BBOX(4, 14, 6, 15))",
            **{"filter-crs": EPSG + "4326"},
        )
    )
    assert lonlat == latlon == {"Bétaré Oya", "Garoua-Boulaï", "Batouri"}


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"filter": "name = "}, "line 1, column 8"),
        ({"filter": '{"op": "="', "filter-lang": "cql2-json"}, "line 1, column 10"),
        ({"filter": "colour = 'red'"}, "unknown property 'colour'; queryables: geometry, kind"),
        ({"filter": "accuracy_m = 'high'"}, "cannot compare number with string"),
        ({"filter": "x = 1", "filter-lang": "cql3"}, "filter-lang"),
        ({"filter": "kind = 'mine'", "filter-crs": "EPSG:2154"}, "filter-crs"),
        ({"crs": "EPSG:2154"}, "crs: 'EPSG:2154' is not an offered CRS"),
        ({"bbox": "1,2,3,4", "bbox-crs": "EPSG:9999"}, "bbox-crs"),
        ({"bbox": "600000,0,500000,100000", "bbox-crs": EPSG + "32633"}, "lower corner"),
        # finite densified bounds, but outline vertices PROJ cannot invert (PostGIS: a 500)
        ({"bbox": "0,0,2e7,2e7", "bbox-crs": EPSG + "32633"}, "the box lies outside the domain"),
        ({"bbox": "-1e30,-1e30,1e30,1e30", "bbox-crs": EPSG + "32633"}, "outside the domain"),
        ({"q": "  "}, "q: empty search"),
        # an open ring was read as closed (200); a coordinate beyond any CRS's range said the
        # parser's rule names, or failed inside the parser (400 digits: a 500)
        (
            {"filter": "S_INTERSECTS(geometry, POLYGON((15 4, 16 4, 16 5)))"},
            "its outer ring is not closed",
        ),
        ({"filter": "S_INTERSECTS(geometry, POINT(1e308 4))"}, "1e308 is out of range"),
        ({"filter": f"S_INTERSECTS(geometry, POINT({'9' * 400} 4))"}, "is out of range"),
    ],
)
def test_bad_filters_and_crs_are_400_naming_the_problem(
    client: TestClient, sites: dict[str, str], params: dict[str, str], needle: str
) -> None:
    response = client.get(URL, params=params)
    assert response.status_code == 400, response.text
    assert needle in response.json()["detail"]


def test_filters_run_on_other_collections(client: TestClient) -> None:
    border = client.get("/collections/borders/items", params={"filter": "pair_code = 'CAF-CMR'"})
    assert [f["id"] for f in border.json()["features"]] == ["CAF-CMR"]
    country = client.get(
        "/collections/countries/items",
        params={"filter": "S_INTERSECTS(geometry, POINT(15.79 4.26))"},
    )
    assert [f["id"] for f in country.json()["features"]] == ["CAF"]
    clusters = client.get("/collections/clusters/items", params={"filter": "member_count >= 2"})
    assert clusters.status_code == 200


def test_crs_4326_is_latitude_first_and_3857_matches_pyproj(
    client: TestClient, sites: dict[str, str]
) -> None:
    plain = client.get(URL, params={"limit": 100}).json()["features"]
    lonlat = {f["id"]: f["geometry"]["coordinates"] for f in plain}
    response = client.get(URL, params={"limit": 100, "crs": "EPSG:4326"})
    assert response.headers["content-crs"] == f"<{EPSG}4326>"
    for feature in response.json()["features"]:
        lon, lat = lonlat[feature["id"]]
        assert feature["geometry"]["coordinates"] == [lat, lon]
    response = client.get(URL, params={"limit": 100, "crs": EPSG + "3857"})
    assert response.headers["content-crs"] == f"<{EPSG}3857>"
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    for feature in response.json()["features"]:
        x, y = to_3857.transform(*lonlat[feature["id"]])
        assert feature["geometry"]["coordinates"] == pytest.approx([x, y], abs=1e-3)
    assert client.get(URL).headers["content-crs"] == f"<{CRS84}>"


def test_one_item_in_a_utm_zone(client: TestClient, sites: dict[str, str]) -> None:
    site_id = next(i for i, n in sites.items() if n == "Carnot")
    item = f"{URL}/{site_id}"
    lon, lat = client.get(item).json()["geometry"]["coordinates"]
    response = client.get(item, params={"crs": "[EPSG:32633]"})
    assert response.status_code == 200
    assert response.headers["content-crs"] == f"<{EPSG}32633>"
    x, y = Transformer.from_crs(4326, 32633, always_xy=True).transform(lon, lat)
    assert response.json()["geometry"]["coordinates"] == pytest.approx([x, y], abs=1e-3)
    assert response.json()["properties"]["name"] == "Carnot"


def test_utm_bbox_returns_the_sites_of_the_equivalent_lonlat_box(
    client: TestClient, sites: dict[str, str]
) -> None:
    to_utm = Transformer.from_crs(4326, 32633, always_xy=True)
    # Corners of the lon/lat box 14..16.5 E, 4..5.7 N; no site lies near its edges.
    x0, y0 = to_utm.transform(14.0, 4.0)
    x1, y1 = to_utm.transform(16.5, 5.7)
    utm = set(names(client, bbox=f"{x0},{y0},{x1},{y1}", **{"bbox-crs": EPSG + "32633"}))
    lonlat = set(names(client, bbox="14,4,16.5,5.7"))
    assert utm == lonlat == {"Bétaré Oya", "Berbérati comptoir", "Carnot", "Batouri"}
    latlon = set(names(client, bbox="4,14,5.7,16.5", **{"bbox-crs": "EPSG:4326"}))
    assert latlon == lonlat


@pytest.mark.parametrize("srid", [3857, 32633])
def test_a_bbox_of_one_point_in_a_projected_crs_is_a_box(
    client: TestClient, sites: dict[str, str], srid: int
) -> None:
    """A box of zero size in a projected CRS (a point, or a line) answers as one in lon/lat
    (GEOS refused to densify its outline: a 500 on items, tiles and CSV; found by a helper
    running schemathesis)."""
    x, y = Transformer.from_crs(4326, srid, always_xy=True).transform(15.0, 4.5)
    crs_uri = EPSG + str(srid)
    assert names(client, bbox=f"{x},{y},{x},{y}", **{"bbox-crs": crs_uri}) == []
    x0, y0 = Transformer.from_crs(4326, srid, always_xy=True).transform(15.79, 4.0)
    _, y1 = Transformer.from_crs(4326, srid, always_xy=True).transform(15.79, 4.5)
    line = names(client, bbox=f"{x0},{y0},{x0},{y1}", **{"bbox-crs": crs_uri})
    assert line == [] or line == ["Berbérati comptoir"]  # a box as wide as a hair
    for path in (
        URL + "?f=csv",
        "/collections/countries/items",
        "/collections/sites/tiles/WebMercatorQuad/0/0/0",
    ):
        sep = "&" if "?" in path else "?"
        response = client.get(f"{path}{sep}bbox={x},{y},{x},{y}&bbox-crs={crs_uri}")
        assert response.status_code in (200, 204), (path, response.text)


@pytest.mark.parametrize("q", ["betare", "betaré", "BÉTARÉ OYA", "betare-oya", "bettare"])
def test_q_finds_betare_oya(client: TestClient, sites: dict[str, str], q: str) -> None:
    assert names(client, q=q)[:1] == ["Bétaré Oya"]


def test_q_pages_by_rank_and_combines_with_sortby(client: TestClient, session: Session) -> None:
    drafts = [
        SiteDraft("mine", f"Bétaré Oya {'I' * (i % 4 + 1)} {i}", 14.0 + i / 50, 5.5,
                  observed_on=dt.date(2020, 1, 1) + dt.timedelta(days=i))
        for i in range(13)
    ]  # fmt: skip
    add_sites(session, [*DRAFTS, *drafts])  # the exact name has the lowest id: rank decides
    seen: list[str] = []
    body = client.get(URL, params={"q": "betare oya", "limit": 4}).json()
    while True:
        seen.extend(f["properties"]["name"] for f in body["features"])
        following = next((item for item in body["links"] if item["rel"] == "next"), None)
        if following is None:
            break
        body = client.get(following["href"]).json()
    assert len(seen) == len(set(seen)) == 14
    assert seen[0] == "Bétaré Oya"  # the exact name ranks first
    by_date = names(client, q="betare oya", sortby="-last_observed")
    assert by_date[:2] == ["Bétaré Oya", "Bétaré Oya I 12"]


QUALIFIERS = [
    ({"filter-lang": "cql2-text"}, "filter-lang", "filter"),
    ({"filter-lang": "cql2-json"}, "filter-lang", "filter"),
    ({"filter-crs": EPSG + "4326"}, "filter-crs", "filter"),
    ({"filter-lang": "cql2-text", "bbox": "14,4,15,6"}, "filter-lang", "filter"),
    ({"bbox-crs": EPSG + "4326"}, "bbox-crs", "bbox"),
]


@pytest.mark.parametrize(
    "path",
    ["/collections/sites/items", "/collections/borders/items", "/statistics?group_by=country"],
)
@pytest.mark.parametrize(("params", "qualifier", "qualified"), QUALIFIERS)
def test_a_qualifier_without_what_it_qualifies_is_a_400(
    client: TestClient, path: str, params: dict[str, str], qualifier: str, qualified: str
) -> None:
    """filter-lang or filter-crs without filter (bbox-crs without bbox) was accepted
    silently and every feature came: OGC API - Features Parts 2 and 3 make them qualifiers."""
    answer = client.get(path, params=params)
    assert answer.status_code == 400, answer.text
    message = f"{qualified} is missing: {qualifier} only says how {qualified} is read"
    assert answer.json()["detail"] == f"{qualifier}: {message}"
    assert answer.json()["errors"][0] == {
        "code": "invalid_parameter",
        "message": message,
        "column": qualifier,
    }
