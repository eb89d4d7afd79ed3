"""Switching the boundary source, and back: recorded, re-measured, attributed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.db import boundaries as boundary_repo
from app.queries import Caller
from app.services import boundaries as boundary_service
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from app.settings import Settings

PUBLISHED_KM = {"CAF-CMR": 901, "CAF-COD": 1747, "CAF-COG": 487}


def test_switch_to_osm_and_back_is_recorded(
    client: TestClient, session: Session, settings: Settings
) -> None:
    state = BoundaryCache().current(session)
    assert state is not None
    (site,) = create_sites(
        session,
        state,
        [SiteDraft(kind="mine", name="near CMR", lon=15.2, lat=5.0)],
        Caller(role="admin", name="tests"),
    )

    def health_source() -> str:
        return str(client.get("/health").json()["boundaries"]["source"])

    def site_props() -> dict[str, object]:
        return dict(client.get(f"/collections/sites/items/{site.public_id}").json()["properties"])

    assert health_source() == "natural-earth-10m"
    ne_distance = site_props()["border_distance_m"]

    report = boundary_service.load_source(session, settings, "osm-maritime-10m")
    assert report.sites_recomputed == 1
    assert health_source() == "osm-maritime-10m"
    assert site_props()["boundary_source"] == "osm-maritime-10m"
    assert site_props()["border_distance_m"] != ne_distance
    collection = client.get("/collections/borders").json()
    assert "OpenStreetMap contributors" in collection["attribution"]
    borders = client.get("/collections/borders/items", params={"limit": 500}).json()
    lengths = {f["id"]: f["properties"]["length_km"] for f in borders["features"]}
    for pair, published in PUBLISHED_KM.items():
        assert abs(lengths[pair] - published) / published <= 0.10, pair

    again = boundary_service.load_source(session, settings, "natural-earth-10m")
    assert not again.fetched, "switching back reuses the stored source"
    assert health_source() == "natural-earth-10m"
    assert site_props()["border_distance_m"] == ne_distance

    events = [(e["source_id"], e["event"]) for e in boundary_repo.events_of(session)][:3]
    assert events == [
        ("natural-earth-10m", "activated"),
        ("osm-maritime-10m", "activated"),
        ("osm-maritime-10m", "loaded"),
    ]
