"""The map page in a real headless Chromium: Leaflet loads, markers are in the DOM, popups
carry the site's details, and the page works inside an iframe."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text

from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser


def straddling(lon: float, lat: float) -> list[SiteDraft]:
    """Four sites within 2 km of a point on the CAR-Cameroon border, on both sides."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    out = []
    for i, azimuth in enumerate((90.0, 270.0, 80.0, 260.0)):
        x, y, _ = geod.fwd(lon, lat, azimuth, 1500.0)
        out.append(
            SiteDraft(
                kind="mine", name=f"Chantier frontière {i}", lon=x, lat=y, minerals=["diamond"]
            )
        )
    return out


SITES = [
    SiteDraft(
        kind="sales_point", name="Comptoir Berbérati", lon=15.7883, lat=4.2612, minerals=["diamant"]
    ),
    SiteDraft(kind="mine", name="Chantier Batouri", lon=14.3640, lat=4.4330, minerals=["or"]),
    SiteDraft(kind="mine", name="Chantier Bria", lon=21.99, lat=6.54, minerals=["diamond"]),
    SiteDraft(kind="sales_point", name="Ouesso", lon=16.05, lat=1.613, minerals=["gold"]),
]

COUNT_MARKERS = """
return Object.keys(window)
  .filter(k => k.startsWith('marker_cluster_'))
  .reduce((n, k) => n + window[k].getLayers().length, 0);
"""


@pytest.fixture(scope="module")
def with_sites(live_server: LiveServer) -> LiveServer:
    with live_server.sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        create_sites(session, state, SITES, Caller(role="admin", name="e2e"))
        lon, lat = session.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_DumpPoints(geom)).geom AS p FROM borders "
                "WHERE pair_code = 'CAF-CMR') v ORDER BY abs(ST_Y(p) - 5.5) LIMIT 1"
            )
        ).one()
        create_sites(session, state, straddling(lon, lat), Caller(role="admin", name="e2e"))
    return live_server


def wait_for_markers(driver: webdriver.Chrome) -> Any:
    def markers_drawn(d: webdriver.Chrome) -> Any:
        drawn = d.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane path.leaflet-interactive")
        clusters = d.find_elements(By.CSS_SELECTOR, ".marker-cluster")
        return (drawn or clusters) and d.execute_script(COUNT_MARKERS)

    return WebDriverWait(driver, 30).until(markers_drawn)


ALL_SITES = len(SITES) + 4


def test_map_page_draws_every_site(with_sites: LiveServer, browser: webdriver.Chrome) -> None:
    browser.get(f"{with_sites.url}/maps/sites")
    assert wait_for_markers(browser) == ALL_SITES
    assert browser.find_element(By.CSS_SELECTOR, ".leaflet-container")
    assert browser.execute_script("return typeof L.markerClusterGroup") == "function", (
        "Leaflet and the cluster plugin load from the service itself"
    )
    attribution = browser.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution").text
    assert "Natural Earth" in attribution
    borders = browser.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane path")
    assert len(borders) > len(SITES), "border lines are drawn under the sites"


def test_filters_and_french_labels(with_sites: LiveServer, browser: webdriver.Chrome) -> None:
    browser.get(f"{with_sites.url}/maps/sites?kind=sales_point&lang=fr")
    assert wait_for_markers(browser) == 2
    legend = browser.find_element(By.ID, "bl-legend").text
    assert "Point de vente" in legend and "Site minier" in legend


def test_clicking_a_marker_opens_its_popup(
    with_sites: LiveServer, browser: webdriver.Chrome
) -> None:
    browser.get(f"{with_sites.url}/maps/sites?country=CMR&mineral=gold")
    assert wait_for_markers(browser) == 1
    marker_path = browser.execute_script(
        """
        const key = Object.keys(window).find(k => k.startsWith('marker_cluster_'));
        return window[key].getLayers()[0]._path;
        """
    )
    assert marker_path is not None, "a lone site is drawn unclustered"
    marker_path.click()
    popup = WebDriverWait(browser, 15).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content")
    )[0]
    assert "Chantier Batouri" in popup.text
    assert "Cameroon" in popup.text and "gold" in popup.text


def test_map_works_inside_an_iframe_of_another_site(
    with_sites: LiveServer, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    (tmp_path / "embed.html").write_text(
        f"<html><body><iframe id='m' src='{with_sites.url}/maps/sites' width='800' "
        "height='600'></iframe></body></html>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as other_site:
        threading.Thread(target=other_site.serve_forever, daemon=True).start()
        try:
            browser.get(f"http://127.0.0.1:{other_site.server_address[1]}/embed.html")
            browser.switch_to.frame(browser.find_element(By.ID, "m"))
            assert wait_for_markers(browser) == ALL_SITES
        finally:
            browser.switch_to.default_content()
            other_site.shutdown()


def test_border_band_is_drawn(with_sites: LiveServer, browser: webdriver.Chrome) -> None:
    browser.get(f"{with_sites.url}/maps/sites?border=CAF-CMR&within_km=25")
    assert wait_for_markers(browser) == 4, "only the four sites on the border are that close"
    band = browser.execute_script(
        "return [...document.querySelectorAll('.leaflet-overlay-pane path')]"
        ".filter(p => p.getAttribute('fill') === '#e67e22').length"
    )
    assert band >= 1, "the 25 km band is drawn"
    layers = browser.find_element(By.CSS_SELECTOR, ".leaflet-control-layers").get_attribute(
        "innerHTML"
    )
    assert "Within 25 km of CAF-CMR" in layers


def test_clusters_map_shows_a_summary_on_click(
    with_sites: LiveServer, browser: webdriver.Chrome
) -> None:
    browser.get(f"{with_sites.url}/maps/clusters?lang=fr")
    outline = WebDriverWait(browser, 30).until(
        lambda d: d.execute_script(
            "const k = Object.keys(window).find(k => k.startsWith('clusters_layer_'));"
            "if (!k) return null; const layers = window[k].getLayers();"
            "return layers.length ? layers[0]._path : null;"
        )
    )
    count = browser.execute_script(
        "const k = Object.keys(window).find(k => k.startsWith('clusters_layer_'));"
        "return window[k].getLayers().length;"
    )
    assert count == 1, "one cross-border cluster: the four sites on the border"
    browser.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true,"
        " clientX: 0, clientY: 0}))",
        outline,
    )
    browser.execute_script(
        "const k = Object.keys(window).find(k => k.startsWith('clusters_layer_'));"
        "window[k].getLayers()[0].openPopup();"
    )
    popup = WebDriverWait(browser, 15).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content")
    )[0]
    assert "Groupe transfrontalier" in popup.text
    assert "4" in popup.text and "Cameroun" in popup.text
