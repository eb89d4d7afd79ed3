"""Creating a site through the API: country from the point, validation, nothing half-stored."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Site
from tests.support.geojson import assert_feature
from tests.support.sites import BATOURI_CMR, BERBERATI_CAF, GULF_OF_GUINEA_SEA, site_feature

Headers = Callable[..., dict[str, str]]
URL = "/collections/sites/items"


def count_sites(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Site)).scalar_one()


def test_create_site_returns_feature_with_country_from_point(
    client: TestClient, api_key: Headers
) -> None:
    body = site_feature(
        *BERBERATI_CAF,
        name="Comptoir A",
        kind="sales_point",
        minerals=["Diamant", "or"],
        country="CMR",
        accuracy_m=12,
    )
    response = client.post(URL, json=body, headers=api_key("researcher"))
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/geo+json"
    feature = response.json()
    assert_feature(feature)
    assert response.headers["location"].endswith(f"{URL}/{feature['id']}")
    props = feature["properties"]
    assert props["country"] == "CAF", "the point decides, not the declared country"
    assert props["location_status"] == "country"
    assert props["minerals"] == ["diamond", "gold"]
    assert props["boundary_source"] == "natural-earth-10m"
    assert [w["code"] for w in feature["warnings"]] == ["country_mismatch"]
    assert feature["geometry"]["coordinates"] == list(BERBERATI_CAF)


def test_lon_lat_order_survives_the_round_trip(client: TestClient, api_key: Headers) -> None:
    """An asymmetric point: swapped, (4.43, 14.36) would lie in Niger, not Cameroon."""
    created = client.post(URL, json=site_feature(*BATOURI_CMR), headers=api_key("admin")).json()
    item = client.get(f"{URL}/{created['id']}").json()
    assert item["geometry"]["coordinates"] == [BATOURI_CMR[0], BATOURI_CMR[1]]
    assert item["properties"]["country"] == "CMR"


def test_point_at_sea_is_reported(client: TestClient, api_key: Headers) -> None:
    response = client.post(URL, json=site_feature(*GULF_OF_GUINEA_SEA), headers=api_key("admin"))
    assert response.status_code == 201
    props = response.json()["properties"]
    assert props["country"] is None
    assert props["location_status"] == "sea"


BAD_BODIES = {
    "longitude out of range": site_feature(181.0, 4.0),
    "latitude out of range": site_feature(15.0, -91.0),
    "not a feature": {"type": "FeatureCollection", "features": []},
    "polygon": {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
        "properties": {"kind": "mine", "name": "x"},
    },
    "unknown kind": site_feature(15.0, 4.0, kind="quarry"),
    "blank name": site_feature(15.0, 4.0, name="   "),
    "unknown property": site_feature(15.0, 4.0, colour="red"),
    "one coordinate": {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [15.0]},
        "properties": {"kind": "mine", "name": "x"},
    },
    "unknown mineral": site_feature(15.0, 4.0, minerals=["gold", "unobtainium"]),
    "negative accuracy": site_feature(15.0, 4.0, accuracy_m=-5),
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bodies_are_problems_and_store_nothing(
    client: TestClient, api_key: Headers, session: Session, body: dict[str, object]
) -> None:
    headers = api_key("researcher")
    before = count_sites(session)
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["code"] in ("invalid_body", "unknown_mineral")
    assert problem["errors"], "problems name what was wrong"
    assert count_sites(session) == before


def test_malformed_json_is_a_problem(client: TestClient, api_key: Headers) -> None:
    """Malformed syntax is a 400 (RFC 9110); a well-formed body that is no site, a 422."""
    response = client.post(
        URL, content=b"{not json", headers={**api_key("admin"), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_body"


def test_geo_json_media_type_is_accepted(client: TestClient, api_key: Headers) -> None:
    import json

    response = client.post(
        URL,
        content=json.dumps(site_feature(*BERBERATI_CAF)).encode(),
        headers={**api_key("admin"), "Content-Type": "application/geo+json"},
    )
    assert response.status_code == 201
