"""The HTML pages in a real headless Chromium against a real server: EN/FR/PT headings, items
paging clicked through and back, the site page's map, sign-in, a forged cross-site form post
refused (CSRF), sign-out, and an axe-core accessibility check."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import func, select

from app.db.models import Site
from app.npm import PinnedPackage, fetch_members
from app.queries import Caller
from app.services import keys as key_service
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer, settle

pytestmark = pytest.mark.browser

SITE_COUNT = 23  # three pages of ten
AXE = PinnedPackage(
    "axe-core",
    "4.14.1",
    "e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745",
    "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
)
AXE_MEMBERS = {
    "package/axe.min.js": "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
}


@pytest.fixture(scope="module")
def site_server(live_server: LiveServer) -> Iterator[tuple[LiveServer, str]]:
    """The live server with sites along the CAR-Cameroon border, and a researcher key."""
    with live_server.sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        drafts = [
            SiteDraft(
                kind="mine" if i % 2 else "sales_point",
                name=f"Chantier {i:02d}",
                lon=15.0 + i * 0.01,
                lat=4.5 + i * 0.01,
                minerals=["diamond"],
                accuracy_m=20.0,
            )
            for i in range(SITE_COUNT)
        ]
        create_sites(session, state, drafts, Caller(role="admin", name="e2e"))
        key = key_service.create_key(
            session, name="Équipe terrain", role="researcher", countries=[]
        )
    yield live_server, key.key


def headings(driver: webdriver.Chrome) -> list[str]:
    return [h.text for h in driver.find_elements(By.CSS_SELECTOR, "h1, h2")]


@pytest.mark.parametrize(
    ("lang", "collections", "border"),
    [
        ("en", "Feature collections", "Border"),
        ("fr", "Collections d'entités", "Frontière"),
        ("pt", "Coleções de elementos", "Fronteira"),
    ],
)
def test_pages_in_three_languages(
    site_server: tuple[LiveServer, str],
    browser: webdriver.Chrome,
    lang: str,
    collections: str,
    border: str,
) -> None:
    server, _ = site_server
    browser.get(f"{server.url}/collections?lang={lang}")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    assert headings(browser) == [collections], "a browser's Accept gets the HTML page"
    browser.find_element(By.CSS_SELECTOR, "#main tbody tr a").click()
    WebDriverWait(browser, 15).until(lambda d: "/collections/" in d.current_url)
    browser.get(f"{server.url}/collections/sites/items?lang={lang}&limit=1")
    browser.find_element(By.CSS_SELECTOR, "#features tbody th a").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "border-heading"))
    assert border in headings(browser)


def first_column(driver: webdriver.Chrome) -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#features tbody th a")]


def test_items_paging_next_and_back(
    site_server: tuple[LiveServer, str], browser: webdriver.Chrome
) -> None:
    server, _ = site_server
    browser.get(f"{server.url}/collections/sites/items?f=html&lang=fr&limit=10")
    assert browser.find_element(By.ID, "counts").text == f"10 entités affichées sur {SITE_COUNT}"
    first = first_column(browser)
    assert len(first) == 10 and not browser.find_elements(By.ID, "prev-page")

    seen = list(first)
    for page_size in (10, 3):
        browser.find_element(By.ID, "next-page").click()
        shown_before = seen[-10:][:1]
        settle(browser).until(lambda d, old=shown_before: first_column(d)[:1] != old)
        page = first_column(browser)
        assert len(page) == page_size and not set(page) & set(seen)
        seen += page
    assert not browser.find_elements(By.ID, "next-page"), "the last page has no next link"
    assert len(set(seen)) == SITE_COUNT

    browser.find_element(By.ID, "prev-page").click()
    settle(browser).until(lambda d: len(first_column(d)) == 10)
    assert first_column(browser) == seen[10:20]
    browser.find_element(By.ID, "prev-page").click()
    settle(browser).until(lambda d: first_column(d) == first)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"


def test_site_page_map(site_server: tuple[LiveServer, str], browser: webdriver.Chrome) -> None:
    server, _ = site_server
    browser.get(f"{server.url}/collections/sites/items?limit=1")
    browser.find_element(By.CSS_SELECTOR, "#features tbody th a").click()
    holder = WebDriverWait(browser, 30).until(
        lambda d: (
            d.find_element(By.ID, "bl-map").get_attribute("data-borders-loaded")
            and d.find_element(By.ID, "bl-map")
        )
    )
    assert "leaflet-container" in (holder.get_attribute("class") or "")
    assert holder.get_attribute("data-features") == "1"
    assert int(holder.get_attribute("data-borders-loaded") or 0) >= 1, "borders drawn around it"
    assert browser.find_elements(By.CSS_SELECTOR, "#bl-map path.leaflet-interactive")
    assert browser.execute_script("return typeof L") == "object", "Leaflet served locally"
    refused = [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert refused == [], "nothing on the page breaks the service's CSP"


def test_site_page_lists_its_observations(
    site_server: tuple[LiveServer, str], browser: webdriver.Chrome
) -> None:
    server, key = site_server
    survey = "name,lon,lat,date,kind,minerals\n" + "".join(
        f"Bania,16.1,3.9,{day},mine,diamant|or\n" for day in ("2023-05-02", "2024-02-10")
    )
    for name, rows in (("one.csv", survey.splitlines()[:2]), ("two.csv", survey.splitlines()[::2])):
        response = httpx.post(
            f"{server.url}/uploads",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": (name, ("\n".join(rows) + "\n").encode(), "text/csv")},
            timeout=60,
        )
        assert response.status_code == 201, response.text
    visits = httpx.get(f"{server.url}/collections/observations/items", timeout=30).json()
    site_id = visits["features"][0]["properties"]["site"]
    browser.get(f"{server.url}/collections/sites/items/{site_id}?lang=fr")
    table = WebDriverWait(browser, 30).until(
        lambda d: (
            d.find_element(By.ID, "observations").get_attribute("data-loaded")
            and d.find_element(By.ID, "observations")
        )
    )
    assert table.get_attribute("data-loaded") == "2"
    rows = [r.text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert "2 mai 2023" in rows[0] and "10 février 2024" in rows[1]
    assert "diamant, or" in rows[0], "mineral labels from the vocabulary, in French"
    assert "Envoi" in table.find_element(By.TAG_NAME, "thead").text


def signed_in_name(driver: webdriver.Chrome) -> str | None:
    found = driver.find_elements(By.CSS_SELECTOR, ".account .who")
    return found[0].text if found else None


def site_count(server: LiveServer) -> int:
    with server.sessions() as session:
        return int(session.execute(select(func.count()).select_from(Site)).scalar_one())


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A second web server: the attacker's pages (same host, other port, so same-site)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


FORGED = """<!DOCTYPE html><html lang="en"><head><title>x</title></head><body>
<form id="f" method="post" action="{action}">{fields}</form>
<script>document.getElementById('f').submit();</script></body></html>"""


def forge(directory: Path, name: str, action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    (directory / name).write_text(FORGED.format(action=action, fields=inputs), encoding="utf-8")
    return name


def test_sign_in_forged_post_refused_and_sign_out(
    site_server: tuple[LiveServer, str],
    browser: webdriver.Chrome,
    other_site: tuple[Path, str],
) -> None:
    server, key = site_server
    browser.delete_all_cookies()
    browser.get(f"{server.url}/collections?lang=pt")
    browser.find_element(By.ID, "signin-link").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "key"))
    assert browser.find_element(By.CSS_SELECTOR, "label[for=key]").text == "Chave de API"
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "signin-submit").click()
    WebDriverWait(browser, 15).until(signed_in_name)
    assert signed_in_name(browser) == "Ligado como Équipe terrain"
    cookie = browser.get_cookie("borderlens_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert key not in cookie["value"]

    directory, attacker = other_site
    before = site_count(server)
    forged_site = forge(
        directory,
        "site.html",
        f"{server.url}/collections/sites/items",
        {"type": "Feature", "name": "forged"},
    )
    forged_signout = forge(directory, "out.html", f"{server.url}/signout", {"csrf_token": "x"})
    for page in (forged_site, forged_signout):
        browser.get(f"{attacker}/{page}")
        WebDriverWait(browser, 15).until(lambda d: d.current_url.startswith(server.url))
        assert "csrf_failed" in browser.find_element(By.TAG_NAME, "body").text
    assert site_count(server) == before, "the forged post stored nothing"

    browser.get(f"{server.url}/?lang=pt")
    assert signed_in_name(browser) == "Ligado como Équipe terrain", "still signed in"
    browser.find_element(By.ID, "signout").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "signin-link"))
    assert signed_in_name(browser) is None


def axe_violations(driver: webdriver.Chrome, source: str) -> list[dict[str, Any]]:
    driver.execute_script(source)
    result: dict[str, Any] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']}).then(r => done(r.violations));"
    )
    return [{"id": v["id"], "nodes": [n["html"] for n in v["nodes"]][:3]} for v in result]


def test_pages_pass_axe(
    site_server: tuple[LiveServer, str], browser: webdriver.Chrome, cache_dir: Path
) -> None:
    server, _ = site_server
    files = fetch_members(AXE, AXE_MEMBERS, cache_dir / "test-web" / AXE.name / AXE.version)
    source = files["package/axe.min.js"].read_text(encoding="utf-8")
    browser.get(f"{server.url}/collections/sites/items?limit=1")
    site_url = browser.find_element(By.CSS_SELECTOR, "#features tbody th a").get_attribute("href")
    for path in (
        "/?lang=fr",
        "/collections",
        "/collections/sites",
        "/collections/sites/items",
        "/signin?lang=pt",
        "/conformance",
    ):
        browser.get(f"{server.url}{path}")
        assert axe_violations(browser, source) == [], path
    browser.get(str(site_url))
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "bl-map").get_attribute("data-borders-loaded")
    )
    assert axe_violations(browser, source) == [], "site page"
