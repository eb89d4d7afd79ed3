"""The map page in a real headless Chromium: Leaflet loads, markers are in the DOM, popups
carry the site's details, the page works inside an iframe and under its own
Content-Security-Policy, the legend never covers a control, and the page speaks its language."""

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

from app.maps.labels import LANGUAGES, labels
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


def wait_for_popup_text(driver: webdriver.Chrome) -> str:
    """The open popup's text, once Leaflet has filled it.

    Leaflet adds the popup's element before it fills it (and fades it in): waiting for the
    element alone lets a fast check read an empty popup.
    """
    text: str = WebDriverWait(driver, 15).until(
        lambda d: "".join(
            e.text for e in d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content")
        ).strip()
    )
    return text


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
    popup_text = wait_for_popup_text(browser)
    assert "Chantier Batouri" in popup_text
    assert "Cameroon" in popup_text and "gold" in popup_text


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
    popup_text = wait_for_popup_text(browser)
    assert "Groupe transfrontalier" in popup_text
    assert "4" in popup_text and "Cameroun" in popup_text


# -- Layout and language (every page, every language, wide and narrow windows) -------------

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation',
    e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
"""
CONTROLS = (
    ".leaflet-control-scale",
    ".leaflet-control-attribution",
    ".leaflet-control-zoom",
    ".leaflet-control-layers",
)
RECT = "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];"


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture
def watched(browser: webdriver.Chrome) -> Any:
    """The browser, recording Content-Security-Policy violations from the next page on."""
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_WATCH})
    yield browser
    browser.execute_cdp_cmd(
        "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
    )
    browser.set_window_size(1200, 800)


@pytest.mark.parametrize("size", [(1200, 800), (420, 640)])
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("page", ["/maps/sites", "/maps/sites?limit=2", "/maps/clusters"])
def test_legend_is_clear_of_the_controls_and_the_page_speaks_its_language(
    with_sites: LiveServer, watched: webdriver.Chrome, page: str, lang: str, size: Any
) -> None:
    watched.set_window_size(*size)
    separator = "&" if "?" in page else "?"
    watched.get(f"{with_sites.url}{page}{separator}lang={lang}")
    legend = WebDriverWait(watched, 30).until(lambda d: d.find_elements(By.ID, "bl-legend"))[0]
    words = labels(lang)
    assert watched.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    box = watched.execute_script(RECT, legend)
    assert box[2] > box[0] and box[3] > box[1], "the legend is drawn"
    for selector in CONTROLS:
        for control in watched.find_elements(By.CSS_SELECTOR, selector):
            other = watched.execute_script(RECT, control)
            assert not overlap(box, other), f"legend {box} covers {selector} {other}"
    zoom_in = watched.find_element(By.CSS_SELECTOR, ".leaflet-control-zoom-in")
    assert zoom_in.get_attribute("title") == words["zoom_in"]
    assert zoom_in.get_attribute("aria-label") == words["zoom_in"]
    toggle = watched.find_element(By.CSS_SELECTOR, ".leaflet-control-layers-toggle")
    assert toggle.get_attribute("title") == words["layers"]
    attribution = watched.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution")
    assert words["Boundaries"] in attribution.text and "Natural Earth" in attribution.text
    assert words["leaflet_title"] in attribution.get_attribute("innerHTML")
    scale = watched.find_element(By.CSS_SELECTOR, ".leaflet-control-scale").text
    assert " km" in scale or " m" in scale
    assert "mi" not in scale.split() and "ft" not in scale.split(), "metric only"
    assert watched.execute_script("return window.__cspViolations") == []


def test_popup_close_button_is_named_in_the_page_language(
    with_sites: LiveServer, watched: webdriver.Chrome
) -> None:
    watched.get(f"{with_sites.url}/maps/sites?country=CMR&mineral=gold&lang=pt")
    assert wait_for_markers(watched) == 1
    watched.execute_script(
        "const key = Object.keys(window).find(k => k.startsWith('marker_cluster_'));"
        "window[key].getLayers()[0].openPopup();"
    )
    close = WebDriverWait(watched, 15).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-close-button")
    )[0]
    assert close.get_attribute("aria-label") == labels("pt")["close"]
    assert watched.execute_script("return window.__cspViolations") == []
