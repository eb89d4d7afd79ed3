"""The statistics dashboard in a real headless Chromium, in English and French: every chart is
drawn (an SVG with marks and translated titles), and each one's CSV beside it downloads the
rows it is drawn from."""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import text

from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser
CHARTS = ("border_band", "monthly", "minerals", "clusters")


@pytest.fixture(scope="module")
def stats_server(live_server: LiveServer) -> LiveServer:
    """Sites on both sides of the CAR-Cameroon border, close enough to form a cross-border
    cluster, observed over several months."""
    with live_server.sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        # A point of the CAR-Cameroon border line, sites in a 5 x 5 grid of 2 km around it.
        lon, lat = session.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint("
                "ST_LineMerge(geom), 0.5) AS p FROM borders b JOIN boundary_sources s "
                "ON s.id = b.source_id AND s.active WHERE pair_code = 'CAF-CMR') x"
            )
        ).one()
        drafts = [
            SiteDraft(
                kind="mine" if i % 3 else "sales_point",
                name=f"Site {i:02d}",
                lon=lon - 0.04 + (i % 5) * 0.018 + (0.5 if i >= 25 else 0),
                lat=lat - 0.04 + (i // 5 % 5) * 0.018,
                minerals=["diamond"] if i % 2 else ["gold"],
                observed_on=dt.date(2025, 1 + i % 6, 10),
            )
            for i in range(30)
        ]
        create_sites(session, state, drafts, Caller(role="admin", name="e2e"))
    return live_server


@pytest.mark.parametrize(
    ("lang", "title", "mineral"),
    [("en", "Statistics dashboard", "diamond"), ("fr", "Tableau de bord statistique", "diamant")],
)
def test_dashboard_draws_every_chart(
    stats_server: LiveServer, browser: webdriver.Chrome, lang: str, title: str, mineral: str
) -> None:
    browser.get(f"{stats_server.url}/dashboard?lang={lang}")
    assert browser.find_element(By.TAG_NAME, "h1").text == title
    for chart in CHARTS:
        section = browser.find_element(By.ID, f"chart-{chart}")
        svg = section.find_element(By.CSS_SELECTOR, "figure svg")
        size = svg.size
        assert size["width"] > 300 and size["height"] > 150, chart
        marks = svg.find_elements(By.CSS_SELECTOR, "path, line, rect")
        assert len(marks) > 5, chart
        link = section.find_element(By.CSS_SELECTOR, "a.csv-link")
        answer = httpx.get(link.get_attribute("href") or "", timeout=60)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        assert len(list(csv.DictReader(io.StringIO(answer.text)))) >= 1, chart
    minerals_svg = browser.find_element(By.CSS_SELECTOR, "#chart-minerals svg")
    assert mineral in minerals_svg.get_attribute("outerHTML").casefold()  # type: ignore[union-attr]
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "30" in body  # the number of sites counted
