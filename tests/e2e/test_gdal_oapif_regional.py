"""GDAL's OAPIF driver (the one QGIS uses) reads the regional collections to the last page:
``zones`` (MultiPolygons, with their validity and repair flags) and sites filtered by zone."""

from __future__ import annotations

import json

import pyogrio
import pytest
import shapely
from shapely.geometry import mapping

from app.queries import Caller
from app.services import zones as zone_service
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer

N_ZONES = 23
PAGE_SIZE = 5


@pytest.fixture(scope="module")
def served(live_server: LiveServer) -> LiveServer:
    squares = [shapely.box(14.5 + 0.3 * i, 4.0, 14.6 + 0.3 * i, 4.1) for i in range(N_ZONES)]
    features = [
        {"type": "Feature", "geometry": mapping(g), "properties": {"name": f"zone {i:02d}"}}
        for i, g in enumerate(squares)
    ]
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    admin = Caller(role="admin", name="gdal")
    with live_server.sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        drafts = [
            SiteDraft(
                kind="mine", name=f"site {i:02d}", lon=14.55 + 0.3 * i, lat=4.05 - 0.1 * (i % 2)
            )
            for i in range(N_ZONES)
        ]
        create_sites(session, state, drafts, admin)
        request = zone_service.ZoneUploadRequest(
            data=data, filename="squares.geojson", zone_type="concession", zone_set="Squares"
        )
        outcome = zone_service.ingest_zones(session, live_server.settings, request, admin)
        assert outcome.stored
    return live_server


def test_gdal_reads_every_zone_across_pages(served: LiveServer) -> None:
    layers = {name for name, _ in pyogrio.list_layers(f"OAPIF:{served.url}")}
    assert "zones" in layers
    frame = pyogrio.read_dataframe(f"OAPIF:{served.url}", layer="zones", PAGE_SIZE=PAGE_SIZE)
    assert len(frame) == N_ZONES
    assert sorted(frame["name"]) == [f"zone {i:02d}" for i in range(N_ZONES)]
    assert set(frame["zone_type"]) == {"concession"}
    assert set(frame.geometry.geom_type) == {"MultiPolygon"}
    assert frame.crs is not None and frame.crs.to_string() == "OGC:CRS84"
    assert (frame["area_km2"] > 100).all()


def test_gdal_reads_sites_inside_a_zone_set(served: LiveServer) -> None:
    frame = pyogrio.read_dataframe(
        f"OAPIF:{served.url}/collections/sites?zone=Squares", PAGE_SIZE=PAGE_SIZE
    )
    # Even-numbered sites sit in their square; odd ones 0.1 degree south of it.
    assert sorted(frame["name"]) == [f"site {i:02d}" for i in range(0, N_ZONES, 2)]
