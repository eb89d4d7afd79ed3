"""GDAL's OAPIF driver (the one QGIS uses) reads the regional collections to the last page:
``zones`` (MultiPolygons, with their validity and repair flags), sites filtered by zone, and
``routes``; the flows map draws its arrows in a real headless Chromium."""

from __future__ import annotations

import json

import pyogrio
import pytest
import shapely
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from shapely.geometry import mapping

from app.queries import Caller
from app.services import actors as actor_service
from app.services import routes as route_service
from app.services import zones as zone_service
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer

N_ZONES = 23
CMR_TOWN = [14.3640, 4.4330]
CAF_TOWN = [15.9439, 4.9396]
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
        # Routes from every site: even ones to a town in Cameroon, odd ones to one in CAR.
        lines = [
            {"type": "Feature", "properties": {"substance": "diamant"},
             "geometry": {"type": "LineString", "coordinates": [
                 [14.55 + 0.3 * i, 4.05 - 0.1 * (i % 2)], CMR_TOWN if i % 2 == 0 else CAF_TOWN]}}
            for i in range(N_ZONES)
        ]  # fmt: skip
        routes = route_service.ingest_routes(
            session,
            state,
            live_server.settings,
            route_service.RouteUploadRequest(
                json.dumps({"type": "FeatureCollection", "features": lines}).encode(),
                "routes.geojson",
            ),
            admin,
        )
        assert routes.stored and routes.report["counts"]["routes"] == N_ZONES
        # A registry: one comptoir per site (placed there), one exporter placed nowhere.
        site_ids = [row["source"] for row in routes.report["rows"]]
        table = (
            "name,type,registration,buys_at\n"
            + "".join(
                f"Comptoir {i:02d},comptoir,BA-{i},{site}\n" for i, site in enumerate(site_ids)
            )
            + "Export SA,exportateur,EX-1,\n"
        )
        registry = actor_service.ingest_actors(
            session,
            live_server.settings,
            actor_service.ActorUploadRequest(table.encode(), "registry.csv"),
            admin,
        )
        assert registry.stored and registry.report["counts"]["actors_created"] == N_ZONES + 1
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


def test_gdal_reads_every_route_across_pages(served: LiveServer) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{served.url}", layer="routes", PAGE_SIZE=PAGE_SIZE)
    assert len(frame) == N_ZONES
    assert set(frame.geometry.geom_type) == {"LineString"}
    assert (frame["length_km"] > 0).all()
    crossing = frame[frame["cross_border"].astype(bool)]
    # Sites east of 18.6 E lie in DR Congo: their routes to CAR cross CAF-COD.
    assert len(crossing) > 0 and "CAF-CMR" in set(crossing["border_pair"])
    assert crossing["border_pair"].notna().all()
    filtered = pyogrio.read_dataframe(
        f"OAPIF:{served.url}/collections/routes?cross_border=true", PAGE_SIZE=PAGE_SIZE
    )
    assert len(filtered) == len(crossing)


def test_gdal_reads_every_actor_across_pages(served: LiveServer) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{served.url}", layer="actors", PAGE_SIZE=PAGE_SIZE)
    assert len(frame) == N_ZONES + 1
    assert set(frame["actor_type"]) == {"buying_house", "exporter"}
    placed = frame[frame["actor_type"] == "buying_house"]
    assert (placed.geometry.geom_type == "Point").all()
    # Restricted: the schema declares contact, an anonymous reader gets no value.
    assert "contact" not in frame.columns or frame["contact"].isna().all()


@pytest.mark.browser
def test_flows_map_draws_arrows_in_chromium(served: LiveServer, browser: webdriver.Chrome) -> None:
    browser.get(f"{served.url}/maps/routes?lang=en")
    WebDriverWait(browser, 30).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, "path.flow")
    )
    lines = browser.find_elements(By.CSS_SELECTOR, "path.flow")
    crossing = browser.find_elements(By.CSS_SELECTOR, "path.flow.cross-border")
    arrows = browser.find_elements(By.CSS_SELECTOR, "path.flow-arrow")
    # Two destinations: one flow per source site, all shown; cross-border ones in red.
    assert len(lines) == N_ZONES and 0 < len(crossing) < N_ZONES
    assert len(arrows) == N_ZONES
    assert all(path.get_attribute("stroke") == "#c0392b" for path in crossing)
    assert all(path.size["width"] > 0 for path in lines)
