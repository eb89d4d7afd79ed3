"""Border queries on ``sites``: the answer is exactly what an independent computation says."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.support.geojson import assert_feature_collection

URL = "/collections/sites/items"
ADMIN = Caller(role="admin", name="tests")
GEOD = Geod(ellps="WGS84")
# Sites whose brute-force distance lies this close to the threshold are moved: the two
# computations may differ by centimetres there, and a test must not hinge on that.
THRESHOLD_MARGIN_M = 20.0

BRUTE_FORCE_SQL = """
WITH segments AS (
    SELECT (ST_DumpSegments(geom)).geom::geography AS segment
    FROM borders b JOIN boundary_sources s ON s.id = b.source_id AND s.active
    WHERE b.pair_code = ANY(:pairs)
)
SELECT sites.public_id, min(ST_Distance(sites.geom::geography, segments.segment)) AS d
FROM sites CROSS JOIN segments
GROUP BY sites.public_id
"""


def store(session: Session, drafts: list[SiteDraft]) -> list[str]:
    state = BoundaryCache().current(session)
    assert state is not None
    return [c.public_id for c in create_sites(session, state, drafts, ADMIN)]


def all_pages(client: TestClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    body = client.get(URL, params=params).json()
    pages = [body]
    while (link := next((x for x in body["links"] if x["rel"] == "next"), None)) is not None:
        body = client.get(link["href"]).json()
        pages.append(body)
    return pages


def brute_force_m(session: Session, pairs: list[str]) -> dict[str, float]:
    rows = session.execute(text(BRUTE_FORCE_SQL), {"pairs": pairs})
    return {public_id: float(d) for public_id, d in rows}


@pytest.fixture
def border_region(session: Session) -> dict[str, SiteDraft]:
    """300 sites around the CAR-Cameroon border, both sides, with the CAF-CMR-COG and
    CAF-CMR-TCD tripoints in range, mixed kinds and minerals."""
    rng = random.Random(20261122)
    drafts = []
    for i in range(300):
        lon, lat = rng.uniform(13.8, 17.0), rng.uniform(1.8, 7.8)
        drafts.append(
            SiteDraft(
                kind=rng.choice(["mine", "sales_point"]),
                name=f"site {i}",
                lon=lon,
                lat=lat,
                minerals=rng.choice([["diamond"], ["gold"], ["diamond", "gold"], []]),
                accuracy_m=rng.choice([None, 10.0, 500.0]),
            )
        )
    ids = store(session, drafts)
    return dict(zip(ids, drafts, strict=True))


def test_border_within_km_kind_mineral_matches_brute_force(
    client: TestClient, session: Session, border_region: dict[str, SiteDraft]
) -> None:
    exact = brute_force_m(session, ["CAF-CMR"])
    assert all(abs(d - 25_000) > THRESHOLD_MARGIN_M for d in exact.values()), (
        "the fixture's seed puts no site on the threshold"
    )
    expected = {
        site_id
        for site_id, draft in border_region.items()
        if exact[site_id] <= 25_000 and draft.kind == "sales_point" and "diamond" in draft.minerals
    }
    assert len(expected) >= 5, "the fixture exercises the filter"
    params = {
        "border": "CAF-CMR",
        "within_km": "25",
        "kind": "sales_point",
        "mineral": "diamond",
        "limit": "7",
    }
    pages = all_pages(client, params)
    got = [f["id"] for page in pages for f in page["features"]]
    assert len(got) == len(set(got))
    assert set(got) == expected
    assert pages[0]["numberMatched"] == len(expected)
    for page in pages:
        assert_feature_collection(page)
        for feature in page["features"]:
            props = feature["properties"]
            assert props["query_border"] == "CAF-CMR"
            assert props["query_border_distance_m"] == pytest.approx(exact[feature["id"]], abs=0.5)


def test_pair_order_and_country_borders(
    client: TestClient, session: Session, border_region: dict[str, SiteDraft]
) -> None:
    def ids(**params: str) -> set[str]:
        pages = all_pages(client, {**params, "limit": "100"})
        return {f["id"] for page in pages for f in page["features"]}

    assert ids(border="CMR-CAF", within_km="25") == ids(border="CAF-CMR", within_km="25")
    cmr_pairs = [
        code
        for code in session.execute(
            text(
                "SELECT pair_code FROM borders b JOIN "
                "boundary_sources s ON s.id = b.source_id AND "
                "s.active"
            )
        ).scalars()
        if "CMR" in code.split("-")
    ]
    exact = brute_force_m(session, cmr_pairs)
    assert ids(border="CMR", within_km="40") == {k for k, d in exact.items() if d <= 40_000}


def test_within_km_alone_uses_the_nearest_border(
    client: TestClient, session: Session, border_region: dict[str, SiteDraft]
) -> None:
    pairs = list(
        session.execute(
            text(
                "SELECT pair_code FROM borders b JOIN boundary_sources s ON s.id = b.source_id AND "
                "s.active"
            )
        ).scalars()
    )
    exact = brute_force_m(session, pairs)
    pages = all_pages(client, {"within_km": "15", "limit": "50"})
    assert {f["id"] for p in pages for f in p["features"]} == {
        k for k, d in exact.items() if d <= 15_000
    }
    for page in pages:
        for feature in page["features"]:
            props = feature["properties"]
            assert props["border_distance_m"] == pytest.approx(exact[feature["id"]], abs=0.5)
            assert props["border_distance_km"] == pytest.approx(
                props["border_distance_m"] / 1000, abs=0.001
            )
            assert props["border_pair"] and props["side_confidence"]


def test_sort_by_border_distance_pages_in_order(
    client: TestClient, border_region: dict[str, SiteDraft]
) -> None:
    for sortby, descending in (("border_distance_m", False), ("-border_distance_m", True)):
        pages = all_pages(client, {"sortby": sortby, "limit": "37"})
        distances = [f["properties"]["border_distance_m"] for p in pages for f in p["features"]]
        assert len(distances) == len(border_region)
        assert distances == sorted(distances, reverse=descending)


def test_sorted_pages_with_a_border_filter_and_prev_links(
    client: TestClient, border_region: dict[str, SiteDraft]
) -> None:
    params = {"border": "CAF-CMR", "within_km": "60", "sortby": "border_distance_m", "limit": "9"}
    pages = all_pages(client, params)
    distances = [f["properties"]["query_border_distance_m"] for p in pages for f in p["features"]]
    assert distances == sorted(distances)
    prev = next(x for x in pages[2]["links"] if x["rel"] == "prev")
    back = client.get(prev["href"]).json()
    assert [f["id"] for f in back["features"]] == [f["id"] for f in pages[1]["features"]]


def test_hand_checked_ten_kilometres(client: TestClient, session: Session) -> None:
    """A point 10.000 km (geodesic) from the middle of the longest straight stretch of the
    CAF-CMR border, built with Geod.fwd, reads 10.000 km ± 5 m through the API."""
    row = session.execute(
        text(
            "SELECT ST_X(ST_StartPoint(g)), ST_Y(ST_StartPoint(g)), ST_X(ST_EndPoint(g)), "
            "ST_Y(ST_EndPoint(g)) FROM (SELECT (ST_DumpSegments(geom)).geom AS g FROM borders b "
            "JOIN boundary_sources s ON s.id = b.source_id AND s.active "
            "WHERE pair_code = 'CAF-CMR') segs ORDER BY ST_Length(g::geography) DESC LIMIT 1"
        )
    ).one()
    lon1, lat1, lon2, lat2 = (float(v) for v in row)
    azimuth, _, length = GEOD.inv(lon1, lat1, lon2, lat2)
    mid_lon, mid_lat, back_azimuth = GEOD.fwd(lon1, lat1, azimuth, length / 2)
    forward = back_azimuth + 180.0
    candidates = []
    for side in (90.0, -90.0):
        lon, lat, _ = GEOD.fwd(mid_lon, mid_lat, forward + side, 10_000.0)
        candidates.append((lon, lat))
    ids = store(
        session,
        [
            SiteDraft(kind="mine", name=f"ten km {i}", lon=lon, lat=lat)
            for i, (lon, lat) in enumerate(candidates)
        ],
    )
    for site_id in ids:
        props = client.get(f"{URL}/{site_id}").json()["properties"]
        assert props["border_pair"] == "CAF-CMR"
        assert props["border_distance_m"] == pytest.approx(10_000.0, abs=5.0)
        assert props["border_distance_km"] == pytest.approx(10.0, abs=0.005)


def test_side_confidence_follows_accuracy(client: TestClient, session: Session) -> None:
    lon, lat = 15.7883, 4.2612  # Berbérati, tens of km from Cameroon
    ids = store(
        session,
        [
            SiteDraft(kind="mine", name="precise", lon=lon, lat=lat, accuracy_m=5.0),
            SiteDraft(kind="mine", name="vague", lon=lon, lat=lat, accuracy_m=200_000.0),
            SiteDraft(kind="mine", name="unknown", lon=lon, lat=lat),
        ],
    )
    labels = [client.get(f"{URL}/{i}").json()["properties"]["side_confidence"] for i in ids]
    assert labels == ["confident", "ambiguous", "unknown"]
    neighbour = client.get(f"{URL}/{ids[0]}").json()["properties"]["neighbour_country"]
    assert neighbour == "CMR"


BAD = {
    "unknown pair": {"border": "CAF-FRA"},
    "not a border": {"border": "CAF-CAFE"},
    "country without borders": {"border": "XXX"},
    "negative distance": {"within_km": "-1"},
    "not a number": {"within_km": "ten"},
    "beyond the stored radius": {"border": "CAF-CMR", "within_km": "5000"},
    "unknown sort": {"sortby": "colour"},
}


@pytest.mark.parametrize("params", BAD.values(), ids=BAD.keys())
def test_bad_border_parameters(client: TestClient, params: dict[str, str]) -> None:
    response = client.get(URL, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_distances_follow_a_change_of_boundary_source(
    session: Session, client: TestClient, border_region: dict[str, SiteDraft], settings: Any
) -> None:
    from app.services import boundaries as boundary_service

    before = client.get(URL, params={"limit": "300"}).json()["features"]
    boundary_service.load_source(session, settings, "osm-maritime-10m")
    after = client.get(URL, params={"limit": "300"}).json()["features"]
    assert {f["properties"]["boundary_source"] for f in after} == {"osm-maritime-10m"}
    moved = np.array(
        [
            abs(a["properties"]["border_distance_m"] - b["properties"]["border_distance_m"])
            for a, b in zip(
                sorted(after, key=lambda f: f["id"]),
                sorted(before, key=lambda f: f["id"]),
                strict=True,
            )
        ]
    )
    # Natural Earth and the OSM-derived lines differ by kilometres on this border.
    assert np.median(moved) > 100
