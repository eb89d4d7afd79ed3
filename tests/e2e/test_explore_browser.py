"""The large-data map in a real headless Chromium (WebGL by SwiftShader) against a real server
holding 1 000 000 sites: MapLibre draws the vector tiles (rendered features on the canvas, every
tile request answered 200 or 204), pans and zooms several times with no error in the console,
keeps the view in the URL, and a shared URL brings back the same view and filters.

The million sites are made by one set-based INSERT (``generate_series``), as the benchmarks
make theirs (``bench/_synthetic.py``): 60 % near a border (a border vertex, offset by an
exponential distance of mean 8 km in a random direction), 40 % uniform over the region.
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text

from tests.e2e.conftest import LiveServer

# Loading a million sites takes minutes on a loaded 2-core machine: more than the default limit.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(3000)]

N_SITES = 1_000_000
REGION = (8.0, -12.0, 32.0, 14.0)  # lon/lat box of the uniform part

MILLION_SITES_SQL = """
WITH vertices AS (
    SELECT row_number() OVER () - 1 AS i, ST_X(p.geom) AS x, ST_Y(p.geom) AS y
    FROM borders b, LATERAL ST_DumpPoints(b.geom) AS p
    WHERE ST_Intersects(b.geom, ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))
), n AS (SELECT count(*) AS n FROM vertices),
draws AS (
    SELECT g, random() AS u, random() AS a, -ln(1 - random()) * 8.0 AS d_km,
           random() AS rx, random() AS ry, random() AS rk, random() AS rm
    FROM generate_series(1, :n) AS g
)
INSERT INTO sites (public_id, kind, name, minerals, geom, country_iso3, location_status,
                   accuracy_m, boundary_source_id)
SELECT 'BM-' || lpad(d.g::text, 8, '0'),
       CASE WHEN d.rk < 0.7 THEN 'mine' ELSE 'sales_point' END,
       'million ' || d.g,
       CASE WHEN d.rm < 0.5 THEN ARRAY['gold'] ELSE ARRAY['diamond', 'gold'] END,
       CASE WHEN d.u < 0.6
            THEN ST_SetSRID(ST_MakePoint(
                     v.x + d.d_km / (111.32 * cos(radians(v.y))) * cos(2 * pi() * d.a),
                     v.y + d.d_km / 110.57 * sin(2 * pi() * d.a)), 4326)
            ELSE ST_SetSRID(ST_MakePoint(:x0 + d.rx * (:x1 - :x0), :y0 + d.ry * (:y1 - :y0)),
                            4326)
       END,
       'CAF', 'country', 25.0, 'natural-earth-10m'
FROM draws d CROSS JOIN n
JOIN vertices v ON v.i = (d.g::bigint * 7919) % n.n
"""


SECONDARY_INDEXES_SQL = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = 'sites'
  AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'sites'::regclass)
"""


@pytest.fixture(scope="module")
def million(live_server: LiveServer) -> LiveServer:
    """The live server's database with 1 000 000 more sites, in one transaction: the secondary
    indexes are dropped, the rows inserted, the indexes built again (building an index once
    is several times faster than updating it a million times)."""
    x0, y0, x1, y1 = REGION
    with live_server.sessions() as session:
        session.execute(text("SET LOCAL synchronous_commit = off"))
        session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        indexes = session.execute(text(SECONDARY_INDEXES_SQL)).all()
        for name, _ in indexes:
            session.execute(text(f'DROP INDEX "{name}"'))
        started = time.perf_counter()
        session.execute(
            text(MILLION_SITES_SQL), {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "n": N_SITES}
        )
        inserted = time.perf_counter()
        for _, definition in indexes:
            session.execute(text(definition))
        session.commit()
        print(
            f"\n1 000 000 sites: insert {inserted - started:.0f} s, "
            f"{len(indexes)} indexes {time.perf_counter() - inserted:.0f} s"
        )
        session.execute(text("ANALYZE sites"))
        session.commit()
        assert session.execute(text("SELECT count(*) FROM sites")).scalar_one() >= N_SITES
    return live_server


ERRORS_WATCH = """
window.__errors = [];
window.addEventListener('error', e => window.__errors.push('error: ' + e.message));
window.addEventListener('unhandledrejection', e => window.__errors.push('rejection: ' + e.reason));
const consoleError = console.error;
console.error = function () {
  window.__errors.push('console: ' + Array.from(arguments).join(' '));
  consoleError.apply(console, arguments);
};
"""

#: Starts waiting for the map to settle (every tile loaded and drawn); the outcome lands in
#: ``window.__idle``, which the test polls (a blocking script would hit the driver's timeout
#: while a loaded machine computes the low-zoom tiles of a million sites).
IDLE = """
window.__idle = null;
const m = window.blExplore.map;
const report = () => {
  const drawn = m.queryRenderedFeatures({layers: ['sites-point', 'sites-aggregated']});
  window.__idle = {
    zoom: m.getZoom(), lng: m.getCenter().lng, lat: m.getCenter().lat,
    drawn: drawn.length,
    aggregated: drawn.filter(f => f.properties.point_count !== undefined).length,
    kinds: [...new Set(drawn.map(f => f.properties.kind).filter(k => k))],
    borders: m.queryRenderedFeatures({layers: ['borders-line']}).length,
    errors: window.blExplore.errors.slice(), search: location.search
  };
};
if (m.loaded() && m.areTilesLoaded() && !m.isMoving()) { setTimeout(report, 50); }
else { m.once('idle', report); }
"""
SETTLE_S = 900


#: Every tile the map holds, by source: MapLibre fetches them in its web worker (so the page's
#: resource timing does not list them); a tile whose request failed is ``errored``.
TILES_HELD = """
const style = window.blExplore.map.style;
const managers = style.tileManagers || style.sourceCaches;
const out = [];
for (const id of Object.keys(managers)) {
  if (!id.startsWith('src-') || id === 'src-bands') { continue; }
  for (const key of managers[id].getIds()) {
    const tile = managers[id].getTileByID(key);
    const c = tile.tileID.canonical;
    out.push([id.slice(4), c.z, c.x, c.y, tile.state]);
  }
}
return out;
"""
JUMP = "window.blExplore.map.jumpTo({center: [arguments[0], arguments[1]], zoom: arguments[2]})"


@pytest.fixture
def gl_browser(browser: webdriver.Chrome) -> Any:
    """The browser, recording page errors and console.error calls from the next page on."""
    script = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": ERRORS_WATCH}
    )
    browser.get_log("browser")  # drop what earlier tests left
    yield browser
    browser.execute_cdp_cmd(
        "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
    )


def idle(driver: webdriver.Chrome) -> dict[str, Any]:
    WebDriverWait(driver, 120).until(lambda d: d.execute_script("return !!window.blExplore"))
    driver.execute_script(IDLE)
    state: dict[str, Any] = WebDriverWait(driver, SETTLE_S, poll_frequency=0.5).until(
        lambda d: d.execute_script("return window.__idle")
    )
    return state


def console_errors(driver: webdriver.Chrome) -> list[str]:
    logged = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return logged + list(driver.execute_script("return window.__errors || []"))


def assert_tiles_answered(
    driver: webdriver.Chrome, server: LiveServer, sites_query: str = ""
) -> list[tuple[str, int, int, int]]:
    """Every tile the map holds loaded, and each of them (asked again from here, with the
    sites filters) answered 200 or 204."""
    held = [tuple(tile) for tile in driver.execute_script(TILES_HELD)]
    assert held, "the map holds tiles"
    failed = [tile for tile in held if tile[4] not in ("loaded", "reloading")]
    assert failed == [], f"tiles the map could not load: {failed[:5]}"
    for collection, z, x, y, _ in held:
        url = f"{server.url}/collections/{collection}/tiles/WebMercatorQuad/{z}/{y}/{x}"
        if collection == "sites" and sites_query:
            url += f"?{sites_query}"
        with urllib.request.urlopen(url, timeout=120) as response:
            assert response.status in (200, 204), (url, response.status)
    return [(str(c), int(z), int(x), int(y)) for c, z, x, y, _ in held]


#: (centre lon, lat, zoom): the region, the CAR-Cameroon border, closer, a street-level look,
#: a pan along the border, then back out.
MOVES = [(15.6, 5.5, 6.0), (15.2, 4.6, 8.5), (15.3, 4.4, 11.0), (16.5, 3.0, 7.0), (22.0, 5.0, 5.0)]


def test_a_million_sites_render_and_pan_without_errors(
    million: LiveServer, gl_browser: webdriver.Chrome
) -> None:
    gl_browser.get(f"{million.url}/maps/explore")
    first = idle(gl_browser)
    assert first["drawn"] > 0, "the canvas shows sites"
    assert first["aggregated"] > 0, "at zoom 4 the sites are aggregated, with their counts"
    assert first["borders"] > 0, "the borders are drawn under them"
    labels = gl_browser.find_elements(By.CSS_SELECTOR, ".bl-count")
    assert labels and all(label.text.replace(",", "").isdigit() for label in labels[:20])
    for lon, lat, zoom in MOVES:
        gl_browser.execute_script(JUMP, lon, lat, zoom)
        state = idle(gl_browser)
        assert abs(state["zoom"] - zoom) < 1e-6
        assert state["drawn"] > 0, f"sites drawn at {lon},{lat} z{zoom}"
        shared = parse_qs(state["search"].lstrip("?"))
        assert shared["zoom"] == [f"{zoom:.2f}"], "the URL follows the map"
        assert [float(v) for v in shared["center"][0].split(",")] == pytest.approx(
            [lon, lat], abs=1e-4
        )
        assert state["errors"] == []
    gl_browser.execute_script("window.blExplore.map.panBy([300, 200], {duration: 0})")
    assert idle(gl_browser)["drawn"] > 0
    held = assert_tiles_answered(gl_browser, million)
    assert {"sites", "countries", "borders"} <= {tile[0] for tile in held}
    assert console_errors(gl_browser) == []


def test_a_shared_url_restores_the_view_and_the_filters(
    million: LiveServer, gl_browser: webdriver.Chrome
) -> None:
    shared = (
        f"{million.url}/maps/explore?kind=sales_point&mineral=diamond&center=15.30000,4.40000"
        "&zoom=10.00&layers=countries,borders,sites&lang=fr"
    )
    gl_browser.get(shared)
    state = idle(gl_browser)
    assert (state["lng"], state["lat"], state["zoom"]) == pytest.approx((15.3, 4.4, 10.0))
    assert state["drawn"] > 0 and state["kinds"] == ["sales_point"], "only the filtered kind"
    assert gl_browser.find_element(By.ID, "f-kind").get_attribute("value") == "sales_point"
    assert gl_browser.find_element(By.ID, "f-mineral").get_attribute("value") == "diamond"
    layers = gl_browser.find_elements(By.CSS_SELECTOR, "#bl-layers input[name=layer]")
    checked = {box.get_attribute("value") for box in layers if box.is_selected()}
    assert checked == {"countries", "borders", "sites"}
    assert gl_browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    assert gl_browser.find_element(By.ID, "f-apply").text == "Appliquer"
    held = assert_tiles_answered(gl_browser, million, "kind=sales_point&mineral=diamond")
    assert any(tile[0] == "sites" for tile in held)
    tiles = gl_browser.execute_script("return window.blExplore.map.getSource('src-sites').tiles[0]")
    assert parse_qs(urlsplit(tiles).query) == {"kind": ["sales_point"], "mineral": ["diamond"]}
    # The page's own URL (what a reader copies) opens the same view again.
    again = gl_browser.execute_script("return location.href")
    gl_browser.get("about:blank")
    gl_browser.get(again)
    restored = idle(gl_browser)
    assert (restored["lng"], restored["lat"], restored["zoom"]) == pytest.approx(
        (15.3, 4.4, 10.0), abs=1e-4
    )
    assert restored["kinds"] == ["sales_point"]
    # Changing a filter in the form changes the tiles and the URL.
    kind = gl_browser.find_element(By.ID, "f-kind")
    gl_browser.execute_script("arguments[0].value = 'mine'", kind)
    gl_browser.find_element(By.ID, "f-apply").click()
    WebDriverWait(gl_browser, 60).until(lambda d: "kind=mine" in d.current_url)
    time.sleep(0.2)
    changed = idle(gl_browser)
    assert changed["kinds"] == ["mine"]
    status = gl_browser.find_element(By.ID, "bl-status").text
    assert "correspondent aux filtres" in status
    assert console_errors(gl_browser) == []


def test_a_bad_filter_is_reported_in_the_panel_not_the_console(
    million: LiveServer, gl_browser: webdriver.Chrome
) -> None:
    gl_browser.get(f"{million.url}/maps/explore?center=15.3,4.4&zoom=9")
    idle(gl_browser)
    box = gl_browser.find_element(By.ID, "f-filter")
    box.send_keys("name ===")
    gl_browser.find_element(By.ID, "f-apply").click()
    status = WebDriverWait(gl_browser, 60).until(
        lambda d: (
            "not valid" in d.find_element(By.ID, "bl-status").text
            and d.find_element(By.ID, "bl-status").text
        )
    )
    assert "filter" in status
    assert "filter=" not in gl_browser.current_url, "the map keeps the last valid filters"
    # Chromium itself logs the 400 the check was answered with; nothing else may be there.
    errors = [e for e in console_errors(gl_browser) if "status of 400" not in e]
    assert errors == []


def test_a_band_not_drawn_says_why(million: LiveServer, gl_browser: webdriver.Chrome) -> None:
    """A band the service does not draw (here wider than 1 000 km, which the sites filter
    takes) is named in the panel with the service's reason, in the page's language: the page
    turned every refused band into an empty layer without a word (found by a helper)."""
    gl_browser.get(f"{million.url}/maps/explore?within_km=1500&lang=pt&center=15.3,4.4&zoom=6")
    line = WebDriverWait(gl_browser, 60).until(
        lambda d: d.find_element(By.ID, "bl-band-status").text
    )
    assert line.startswith("A faixa de distância não é desenhada:")
    assert "within_km" in line and "1000" in line
    # Chromium logs the refused band itself; nothing else may be there.
    assert [e for e in console_errors(gl_browser) if "status of 400" not in e] == []
