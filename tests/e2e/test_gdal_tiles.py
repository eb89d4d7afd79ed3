"""GDAL opens the vector tiles: its OGC API driver walks the tilesets of a collection, and its
MVT driver reads a tile by URL, as QGIS does with an XYZ vector tile layer."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import morecantile
import pyogrio
import pytest

from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer

N_SITES = 60
MERCATOR = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def served(live_server: LiveServer) -> LiveServer:
    drafts = [
        SiteDraft(
            kind="mine" if i % 3 else "sales_point",
            name=f"tile {i:03d}",
            lon=15.0 + (i % 10) * 0.05,
            lat=4.0 + (i // 10) * 0.05,
            minerals=["gold"],
        )
        for i in range(N_SITES)
    ]
    with live_server.sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        create_sites(session, state, drafts, Caller(role="admin", name="gdal"))
    return live_server


def site_ids(served: LiveServer, query: str = "") -> set[str]:
    with urllib.request.urlopen(f"{served.url}/collections/sites/items?limit=1000&{query}") as r:
        return {feature["id"] for feature in json.load(r)["features"]}


@pytest.mark.parametrize("tms_id", ["WebMercatorQuad", "WorldCRS84Quad"])
def test_gdal_ogcapi_driver_reads_the_tileset(served: LiveServer, tms_id: str) -> None:
    dataset = f"OGCAPI:{served.url}/collections/sites"
    info = pyogrio.read_info(dataset, layer=4, API="TILES", TILEMATRIXSET=tms_id)
    assert info["layer_name"] == "Zoom level 4"
    assert {"id", "name", "kind", "minerals", "border_distance_m"} <= set(info["fields"])
    # GDAL lists zoom levels up to the one whose tiles hold the data's box in one tile
    # (tileMatrixSetLimits): zoom 4 here
    frame = pyogrio.read_dataframe(dataset, layer="Zoom level 4", API="TILES", TILEMATRIXSET=tms_id)
    assert set(frame["id"]) == site_ids(served)
    assert set(frame["kind"]) == {"mine", "sales_point"}
    expected_crs = "EPSG:3857" if tms_id == "WebMercatorQuad" else "OGC:CRS84"
    assert frame.crs.to_string() == expected_crs
    first = frame[frame["name"] == "tile 000"].to_crs(4326).geometry.iloc[0]
    pixel_deg = 360 / 2**4 / 4096 * 2  # a tile pixel at zoom 4 (CRS84 tiles are twice as wide)
    assert abs(first.x - 15.0) <= pixel_deg and abs(first.y - 4.0) <= pixel_deg


def test_gdal_mvt_driver_reads_a_tile(served: LiveServer, tmp_path: Path) -> None:
    tile = MERCATOR.tile(15.2, 4.1, 8)
    url = f"{served.url}/collections/sites/tiles/WebMercatorQuad/8/{tile.y}/{tile.x}"
    with urllib.request.urlopen(url) as response:
        assert response.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
        path = tmp_path / "tile.mvt"
        path.write_bytes(response.read())
    frame = pyogrio.read_dataframe(path, layer="sites", X=tile.x, Y=tile.y, Z=8)
    bounds = MERCATOR.bounds(tile)
    box = f"{bounds.left},{bounds.bottom},{bounds.right},{bounds.top}"
    assert set(frame["id"]) == site_ids(served, f"bbox={box}")
    assert 0 < len(frame) < N_SITES, "the sites straddle this tile's edge"
    west, south, east, north = frame.to_crs(4326).total_bounds
    assert bounds.left <= west < east <= bounds.right
    assert bounds.bottom <= south < north <= bounds.top
