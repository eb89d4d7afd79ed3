"""GDAL's OGC API - Features driver asks for features in another CRS (open option ``CRS``),
filters by a box in that CRS (``bbox-crs``) and by an attribute (``filter``): what it reads
equals what pyproj says, to the millimetre."""

from __future__ import annotations

import pyogrio
import pytest
from pyproj import Transformer

from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer

N_SITES = 40
LONLAT = {
    f"crs site {i:02d}": (14.5 + (i % 8) * 0.45, 2.5 + (i // 8) * 0.9) for i in range(N_SITES)
}


@pytest.fixture(scope="module")
def served(live_server: LiveServer) -> LiveServer:
    drafts = [
        SiteDraft(kind="mine" if i % 2 else "sales_point", name=name, lon=lon, lat=lat)
        for i, (name, (lon, lat)) in enumerate(LONLAT.items())
    ]
    with live_server.sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        create_sites(session, state, drafts, Caller(role="admin", name="gdal crs"))
    return live_server


@pytest.mark.parametrize("epsg", [3857, 32633])
def test_gdal_reads_sites_in_a_projected_crs(served: LiveServer, epsg: int) -> None:
    frame = pyogrio.read_dataframe(
        f"OAPIF:{served.url}", layer="sites", CRS=f"EPSG:{epsg}", PAGE_SIZE=15
    )
    assert frame.crs is not None and frame.crs.to_epsg() == epsg
    assert len(frame) == N_SITES
    to_crs = Transformer.from_crs(4326, epsg, always_xy=True)
    for name, point in zip(frame["name"], frame.geometry, strict=True):
        x, y = to_crs.transform(*LONLAT[name])
        assert abs(point.x - x) < 1e-3 and abs(point.y - y) < 1e-3, name


def test_gdal_box_in_the_layer_crs_selects_the_sites_inside(served: LiveServer) -> None:
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    x0, y0 = to_3857.transform(15.0, 3.0)
    x1, y1 = to_3857.transform(16.9, 5.0)
    frame = pyogrio.read_dataframe(
        f"OAPIF:{served.url}", layer="sites", CRS="EPSG:3857", bbox=(x0, y0, x1, y1)
    )
    expected = {
        name for name, (lon, lat) in LONLAT.items() if 15.0 <= lon <= 16.9 and 3.0 <= lat <= 5.0
    }
    assert expected and set(frame["name"]) == expected


def test_gdal_attribute_filter_in_a_projected_crs(served: LiveServer) -> None:
    frame = pyogrio.read_dataframe(
        f"OAPIF:{served.url}", layer="sites", CRS="EPSG:3857", where="kind = 'sales_point'"
    )
    assert set(frame["name"]) == {name for i, name in enumerate(LONLAT) if i % 2 == 0}
