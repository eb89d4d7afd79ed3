"""Stewardship pages in a real headless Chromium, in English and French (issue 11): the review
queue (a pair rejected, a pair merged), a site's history, and taking back an upload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from app.queries import Caller
from app.services import keys as key_service
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.e2e.conftest import LiveServer, settle

pytestmark = pytest.mark.browser

LANGS = {
    "en": {
        "review": "Likely duplicates",
        "done": "Done.",
        "merged": "merged with another site",
        "retract": "Take back upload",
    },
    "fr": {
        "review": "Doublons probables",
        "done": "Fait.",
        "merged": "fusionné avec un autre site",
        "retract": "Retirer l'envoi",
    },
}
# Each language's sites far apart (about 30 km), each pair about 300 m apart.
ORIGIN = {"en": (15.30, 4.60), "fr": (15.60, 4.60)}


@pytest.fixture(scope="module")
def stewardship_server(live_server: LiveServer) -> Iterator[tuple[LiveServer, str, dict[str, Any]]]:
    with live_server.sessions() as session:
        state = BoundaryCache().current(session)
        assert state is not None
        drafts = []
        for lang, (lon, lat) in ORIGIN.items():
            drafts += [
                SiteDraft(kind="mine", name=f"Chantier {lang} Ndele", lon=lon, lat=lat),
                SiteDraft(kind="mine", name=f"Chantier {lang} Ndélé", lon=lon + 0.003, lat=lat),
                SiteDraft(kind="mine", name=f"Mine {lang} Kopa", lon=lon, lat=lat + 0.1),
                SiteDraft(kind="mine", name=f"Mine {lang} Kopà", lon=lon + 0.003, lat=lat + 0.1),
            ]
        created = create_sites(session, state, drafts, Caller(role="admin", name="e2e"))
        key = key_service.create_key(
            session, name="Équipe terrain", role="researcher", countries=[]
        )
    ids = [c.public_id for c in created]
    pairs = {
        lang: {"reject": set(ids[4 * i : 4 * i + 2]), "merge": set(ids[4 * i + 2 : 4 * i + 4])}
        for i, lang in enumerate(ORIGIN)
    }
    yield live_server, key.key, pairs


def sign_in(browser: webdriver.Chrome, server: LiveServer, key: str, lang: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{server.url}/signin?lang={lang}")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "signin-submit").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".account .who"))


def pair_row(browser: webdriver.Chrome, sites: set[str]) -> WebElement | None:
    for row in browser.find_elements(By.CSS_SELECTOR, "#review tr.pair"):
        try:
            if {row.get_attribute("data-a"), row.get_attribute("data-b")} == sites:
                return row
        except StaleElementReferenceException:  # removed by the page script meanwhile
            continue
    return None


def decide(browser: webdriver.Chrome, sites: set[str], button: str, reason: str) -> None:
    row = pair_row(browser, sites)
    assert row is not None, f"the queue proposes {sites}"
    row.find_element(By.CSS_SELECTOR, ".pair-reason").send_keys(reason)
    row.find_element(By.CSS_SELECTOR, button).click()
    settle(browser).until(lambda d: pair_row(d, sites) is None)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_review_queue_reject_and_merge_then_history(
    stewardship_server: tuple[LiveServer, str, dict[str, Any]],
    browser: webdriver.Chrome,
    lang: str,
) -> None:
    server, key, pairs = stewardship_server
    words = LANGS[lang]
    sign_in(browser, server, key, lang)
    browser.get(f"{server.url}/review/duplicates?lang={lang}")
    assert browser.find_element(By.TAG_NAME, "h1").text == words["review"]
    decide(browser, pairs[lang]["reject"], ".pair-reject", "two different pits")
    assert browser.find_element(By.ID, "stewardship-status").text == words["done"]
    merge_row = pair_row(browser, pairs[lang]["merge"])
    assert merge_row is not None
    survivor = merge_row.get_attribute("data-a")
    merged = merge_row.get_attribute("data-b")
    decide(browser, pairs[lang]["merge"], ".pair-merge", "one pit, two spellings")

    browser.refresh()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.TAG_NAME, "h1"))
    assert pair_row(browser, pairs[lang]["reject"]) is None, "a rejected pair never returns"
    assert pair_row(browser, pairs[lang]["merge"]) is None
    moved = httpx.get(f"{server.url}/collections/sites/items/{merged}", timeout=30)
    assert moved.status_code == 308
    assert moved.headers["location"].endswith(f"/collections/sites/items/{survivor}")

    browser.get(f"{server.url}/collections/sites/items/{survivor}?lang={lang}")
    browser.find_element(By.ID, "history-link").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "history"))
    actions = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#history td.action")]
    assert actions[0].startswith(words["merged"]), actions
    assert merged in actions[0]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_take_back_an_upload(
    stewardship_server: tuple[LiveServer, str, dict[str, Any]],
    browser: webdriver.Chrome,
    lang: str,
) -> None:
    server, key, _ = stewardship_server
    lon, lat = ORIGIN[lang]
    data = f"name,lon,lat,kind\nPuits {lang} Zaza,{lon},{lat - 0.2},mine\n".encode()
    uploaded = httpx.post(
        f"{server.url}/uploads",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": (f"{lang}.csv", data, "text/csv")},
        timeout=60,
    )
    assert uploaded.status_code == 201, uploaded.text
    upload_id = uploaded.json()["upload"]["id"]
    site = uploaded.json()["rows"][0]["site"]
    sign_in(browser, server, key, lang)
    browser.get(f"{server.url}/uploads/{upload_id}/retract?lang={lang}")
    assert browser.find_element(By.TAG_NAME, "h1").text == f"{words(lang)} {upload_id}"
    browser.find_element(By.ID, "retract-reason").send_keys("wrong file")
    browser.find_element(By.ID, "retract-submit").click()
    result = WebDriverWait(browser, 15).until(
        lambda d: (
            d.find_element(By.ID, "retract-result").is_displayed()
            and d.find_element(By.ID, "retract-result")
        )
    )
    assert site in result.text
    visits = httpx.get(
        f"{server.url}/collections/observations/items?upload={upload_id}", timeout=30
    ).json()
    assert visits["numberReturned"] == 0
    item = httpx.get(f"{server.url}/collections/sites/items/{site}", timeout=30).json()
    assert item["properties"]["status"] == "retired"


def words(lang: str) -> str:
    return LANGS[lang]["retract"]
