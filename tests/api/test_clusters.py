"""The ``clusters`` collection on a constructed dataset: the right groups, flagged correctly,
with ids that survive a recompute, and a percolating radius reported or adapted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.support.geojson import assert_feature_collection
from tests.support.sites import site_feature

URL = "/collections/clusters/items"
GEOD = Geod(ellps="WGS84")
ADMIN = Caller(role="admin", name="tests")


def store(session: Session, drafts: list[SiteDraft]) -> list[str]:
    state = BoundaryCache().current(session)
    assert state is not None
    return [c.public_id for c in create_sites(session, state, drafts, ADMIN)]


def around(
    lon: float, lat: float, name: str, offsets_km: list[tuple[float, float]], kind: str = "mine"
) -> list[SiteDraft]:
    """Sites at (azimuth°, km) from a point."""
    drafts = []
    for i, (azimuth, km) in enumerate(offsets_km):
        x, y, _ = GEOD.fwd(lon, lat, azimuth, km * 1000)
        drafts.append(
            SiteDraft(
                kind=kind if i else "sales_point",
                name=f"{name} {i}",
                lon=x,
                lat=y,
                minerals=["diamond"] if i % 2 else ["gold"],
            )
        )
    return drafts


def border_vertex(session: Session, near_lat: float) -> tuple[float, float]:
    lon, lat = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_DumpPoints(geom)).geom AS p FROM borders b "
            "JOIN boundary_sources s ON s.id = b.source_id AND s.active "
            "WHERE pair_code='CAF-CMR') v "
            "ORDER BY abs(ST_Y(p) - :lat) LIMIT 1"
        ),
        {"lat": near_lat},
    ).one()
    return float(lon), float(lat)


@pytest.fixture
def constructed(session: Session) -> dict[str, set[str]]:
    """Two groups straddling CAF-CMR (sites 1-2 km apart, on both sides), one group inside
    CAF (near Bria), and noise: sites tens of km from anything."""
    spread = [(0, 0), (90, 1.5), (270, 1.5), (45, 2.0), (225, 2.0), (135, 1.2)]
    north = around(*border_vertex(session, 6.2), "north", spread)
    south = around(*border_vertex(session, 4.3), "south", spread)
    inside = around(21.99, 6.54, "bria", spread[:4])
    noise = [
        SiteDraft(kind="mine", name=f"noise {i}", lon=lon, lat=lat)
        for i, (lon, lat) in enumerate(
            [(18.0, 8.0), (19.5, 5.0), (23.0, 5.5), (14.5, 3.0), (17.0, 3.5)]
        )
    ]
    groups = {}
    for label, drafts in (("north", north), ("south", south), ("inside", inside), ("noise", noise)):
        groups[label] = set(store(session, drafts))
    return groups


def clusters(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(URL, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert_feature_collection(body)
    return body


def members(feature: dict[str, Any]) -> set[str]:
    return {m["id"] for m in feature["properties"]["members"]}


def test_constructed_groups_come_back_flagged(
    client: TestClient, constructed: dict[str, set[str]]
) -> None:
    body = clusters(client)
    assert body["numberMatched"] == 3
    found = {frozenset(members(f)): f["properties"] for f in body["features"]}
    for label in ("north", "south", "inside"):
        assert frozenset(constructed[label]) in found, label
    for label in ("north", "south"):
        props = found[frozenset(constructed[label])]
        assert props["cross_border"] is True
        assert props["countries"] == ["CAF", "CMR"]
        assert props["member_count"] == 6
        assert set(props["kinds"]) == {"mine", "sales_point"}
        assert 2.0 < props["span_km"] < 5.0
    inside = found[frozenset(constructed["inside"])]
    assert inside["cross_border"] is False and inside["countries"] == ["CAF"]
    noise = constructed["noise"]
    assert not any(noise & members(f) for f in body["features"])
    clustering = body["clustering"]
    assert clustering["eps_km_asked"] == 5.0 and clustering["eps_km_used"] == 5.0
    assert clustering["percolation"]["percolated"] is False
    for feature in body["features"]:
        for member in feature["properties"]["members"]:
            assert member["href"].endswith(f"/collections/sites/items/{member['id']}")


def test_filters(client: TestClient, constructed: dict[str, set[str]]) -> None:
    assert clusters(client, cross_border_only="true")["numberMatched"] == 2
    assert clusters(client, border="CMR-CAF")["numberMatched"] == 2
    assert clusters(client, border="CMR")["numberMatched"] == 2
    assert clusters(client, border="CAF-COD")["numberMatched"] == 0
    in_bria = clusters(client, bbox="21.5,6.0,22.5,7.0")
    assert [members(f) for f in in_bria["features"]] == [constructed["inside"]]


def test_ids_survive_adding_a_far_site(
    client: TestClient, api_key: Callable[..., dict[str, str]], constructed: dict[str, set[str]]
) -> None:
    before = {f["id"]: members(f) for f in clusters(client)["features"]}
    response = client.post(
        "/collections/sites/items",
        json=site_feature(25.0, 9.0, name="far"),
        headers=api_key("researcher"),
    )
    assert response.status_code == 201
    after = {f["id"]: members(f) for f in clusters(client)["features"]}
    assert after == before
    one = client.get(f"{URL}/{next(iter(after))}")
    assert one.status_code == 200 and one.json()["id"] == next(iter(after))


def test_other_parameters_and_paging(client: TestClient, constructed: dict[str, set[str]]) -> None:
    tight = clusters(client, eps_km="0.5", min_sites="2")
    assert tight["clustering"]["eps_km_asked"] == 0.5
    assert all(f["properties"]["member_count"] < 6 for f in tight["features"])
    first = client.get(URL, params={"limit": 1}).json()
    nxt = next(x for x in first["links"] if x["rel"] == "next")
    second = client.get(nxt["href"]).json()
    assert second["features"][0]["id"] != first["features"][0]["id"]
    assert second["numberMatched"] == 3


def test_a_percolating_radius_is_reported_or_adapted(client: TestClient, session: Session) -> None:
    """A chain of sites 3 km apart over 600 km: at 5 km every site is one "cluster"."""
    lon, lat = 16.0, 5.0
    chain = []
    for i in range(200):
        x, y, _ = GEOD.fwd(lon, lat, 90.0, i * 3000.0)
        chain.append(SiteDraft(kind="mine", name=f"chain {i}", lon=x, lat=y))
    store(session, chain)

    said = clusters(client, adapt="false")
    assert said["clustering"]["percolation"]["percolated"] is True
    assert said["features"][0]["properties"]["member_count"] == 200
    assert "spans" in said["clustering"]["percolation"]["reason"]

    adapted = clusters(client)
    assert adapted["clustering"]["eps_km_used"] < 3.0 < adapted["clustering"]["eps_km_asked"]
    assert adapted["clustering"]["percolation"]["percolated"] is False
    assert adapted["numberMatched"] == 0, "with eps under 3 km, the chain falls apart"


BAD = {
    "eps zero": {"eps_km": "0"},
    "eps huge": {"eps_km": "500"},
    "min one": {"min_sites": "1"},
    "adapt word": {"adapt": "maybe"},
    "unknown border": {"border": "CAF-XYZ"},
    "site filter": {"kind": "mine"},
}


@pytest.mark.parametrize("params", BAD.values(), ids=BAD.keys())
def test_bad_cluster_parameters(client: TestClient, params: dict[str, str]) -> None:
    response = client.get(URL, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
