"""Sites in the Sudan / South Sudan disputed areas, on the default (OSM-derived) boundaries where
Kafia Kingi and Abyei lie in both countries' polygons: an upload keeps them with a
``disputed_area`` warning naming the claimants (they were rejected as ``dropped_minus_sign``:
negated, they lie in the DRC), and a declared claimant is where the point is, for uploads and
for sites written through the API alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.services import boundaries as boundary_service
from app.services.boundary_state import BoundaryCache
from app.settings import Settings
from tests.support.sites import site_feature

Headers = Callable[..., dict[str, str]]
KAFIA_KINGI = (24.2889, 8.7369)
ABYEI = (28.4, 9.6)
CSV = (
    "name,lon,lat\n"
    f"Kafia Kingi gold,{KAFIA_KINGI[0]},{KAFIA_KINGI[1]}\n"
    f"Abyei market,{ABYEI[0]},{ABYEI[1]}\n"
).encode()


@pytest.fixture
def osm_boundaries(session: Session, settings: Settings) -> None:
    """The default source, active inside the test's transaction (rolled back after)."""
    boundary_service.load_source(session, settings, "osm-maritime-10m")


def upload(client: TestClient, headers: dict[str, str], **fields: Any) -> Any:
    response = client.post(
        "/uploads",
        files={"file": ("disputed.csv", CSV)},
        data={"kind": "mine", **fields},
        headers=headers,
    )
    assert response.status_code == (200 if fields.get("dry_run") else 201), response.text
    return response.json()


@pytest.mark.slow
@pytest.mark.usefixtures("osm_boundaries")
def test_an_upload_keeps_points_in_the_disputed_areas(client: TestClient, api_key: Headers) -> None:
    report = upload(client, api_key("researcher"))
    assert report["counts"]["accepted"] == 2, report["issues"]
    assert [(i["row"], i["code"], i["severity"]) for i in report["issues"]] == [
        (2, "disputed_area", "warning"),
        (3, "disputed_area", "warning"),
    ]
    assert all("disputed by SDN and SSD" in i["message"] for i in report["issues"])
    for row in report["rows"]:
        site = client.get(f"/collections/sites/items/{row['site']}").json()["properties"]
        assert (site["country"], site["location_status"]) == (None, "disputed")
        assert site["claimants"] == ["SDN", "SSD"]


@pytest.mark.slow
@pytest.mark.usefixtures("osm_boundaries")
def test_a_declared_claimant_is_where_the_points_are(client: TestClient, api_key: Headers) -> None:
    """Either claimant declared: only the disputed-area warnings; a neighbour declared: a
    country mismatch as well, kept (not a lost minus sign)."""
    headers = api_key("researcher")
    for country, extra in (("SDN", []), ("SSD", []), ("CAF", ["country_mismatch"])):
        report = upload(client, headers, country=country, dry_run="true")
        assert report["counts"]["accepted"] == 2, (country, report["issues"])
        codes = [(i["row"], i["code"]) for i in report["issues"]]
        assert codes == [(row, code) for row in (2, 3) for code in [*extra, "disputed_area"]], (
            country
        )


@pytest.mark.slow
@pytest.mark.usefixtures("osm_boundaries")
def test_a_site_written_in_a_disputed_area_names_its_claimants(
    client: TestClient, api_key: Headers
) -> None:
    headers = api_key("admin")
    for country, warnings in (
        ("SSD", ["disputed_area"]),
        ("SDN", ["disputed_area"]),
        (None, ["disputed_area"]),
        ("CAF", ["country_mismatch", "disputed_area"]),
    ):
        declared = {"country": country} if country else {}
        body = site_feature(*ABYEI, name="Abyei market", kind="sales_point", **declared)
        response = client.post("/collections/sites/items", json=body, headers=headers)
        assert response.status_code == 201, response.text
        feature = response.json()
        assert [w["code"] for w in feature["warnings"]] == warnings, country
        assert all("SDN and SSD" in w["message"] for w in feature["warnings"])
        assert feature["properties"]["location_status"] == "disputed"
        assert feature["properties"]["claimants"] == ["SDN", "SSD"]


def test_a_site_written_on_a_border_line_is_in_either_country(
    client: TestClient, api_key: Headers, session: Session, boundary_cache: BoundaryCache
) -> None:
    """A point on the CAF-CMR line lies in both countries: declared as either, no
    country_mismatch, as for uploads (the API compared the declared country with the first
    country found alone)."""
    state = boundary_cache.current(session)
    assert state is not None
    line = next(b for b in state.borders if b.pair_code == "CAF-CMR")
    xy = shapely.get_coordinates(line.geometry)
    shared = state.locator.locate(xy[:, 0], xy[:, 1]).shared_by
    lon, lat = next(xy[k] for k, codes in enumerate(shared) if {"CAF", "CMR"} <= set(codes))
    for declared in ("CAF", "CMR"):
        body = site_feature(
            float(lon), float(lat), name="Line market", kind="sales_point", country=declared
        )
        response = client.post("/collections/sites/items", json=body, headers=api_key("admin"))
        assert response.status_code == 201, response.text
        assert [w["code"] for w in response.json().get("warnings", [])] == [], declared
