"""The admins' keys page in a real headless Chromium, in English and French: sign in with an
admin key, create a scoped, expiring authority key (its secret shown once), use it, revoke it
with the row's button; a forged cross-site post to the form is refused (CSRF)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from app.services import keys as key_service
from tests.e2e.conftest import LiveServer, settle

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"title": "API keys", "in use": "in use", "revoked": "revoked", "role": "Authority"},
    "fr": {
        "title": "Clés d'API",
        "in use": "en service",
        "revoked": "révoquée",
        "role": "Autorité",
    },
}


@pytest.fixture(scope="module")
def admin_key(live_server: LiveServer) -> Iterator[str]:
    with live_server.sessions() as session:
        yield key_service.create_key(session, name="Admin", role="admin", countries=[]).key


def sign_in(browser: webdriver.Chrome, server: LiveServer, key: str, lang: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{server.url}/signin?lang={lang}&next=/keys%3Ff%3Dhtml%26lang%3D{lang}")
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "signin-submit").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "create-key"))


def row_cells(browser: webdriver.Chrome, key_id: int) -> list[str]:
    row = browser.find_element(By.ID, f"key-{key_id}")
    return [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_an_admin_creates_and_revokes_a_key_in_the_browser(
    live_server: LiveServer, browser: webdriver.Chrome, admin_key: str, lang: str
) -> None:
    words = WORDS[lang]
    sign_in(browser, live_server, admin_key, lang)
    assert browser.find_element(By.TAG_NAME, "h1").text == words["title"]
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang

    name = f"Douane Garoua {lang}"
    browser.find_element(By.ID, "key-name").send_keys(name)
    Select(browser.find_element(By.ID, "key-role")).select_by_value("authority")
    browser.find_element(By.ID, "key-countries").send_keys("cmr")
    # a date input's typing order follows the browser's locale; its value is ISO everywhere
    browser.execute_script("document.getElementById('key-expires').value = '2030-01-31'")
    browser.find_element(By.ID, "create-key-submit").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "new-key"))
    secret = browser.find_element(By.ID, "new-key").text
    assert secret.startswith("blk_") and name in browser.find_element(By.ID, "created-key").text

    admin = {"Authorization": f"Bearer {admin_key}"}
    created = next(
        k
        for k in httpx.get(f"{live_server.url}/keys", headers=admin).json()["keys"]
        if k["name"] == name
    )
    assert created["role"] == "authority" and created["countries"] == ["CMR"]
    assert created["expires_at"] == "2030-01-31T00:00:00Z"
    cells = row_cells(browser, created["id"])
    assert cells[1:5] == [name, words["role"], "CMR", words["in use"]]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{live_server.url}/conformance", headers=bearer).status_code == 200

    browser.get(f"{live_server.url}/keys?f=html&lang={lang}")  # the secret is not shown again
    assert not browser.find_elements(By.ID, "new-key") and secret not in browser.page_source
    browser.find_element(By.CSS_SELECTOR, f"#key-{created['id']} button.revoke").click()
    settle(browser).until(lambda d: row_cells(d, created["id"])[4] == words["revoked"])
    refused = httpx.get(f"{live_server.url}/conformance", headers=bearer)
    assert refused.status_code == 401 and refused.json()["code"] == "revoked_key"


def test_the_form_refuses_a_post_without_the_session_token(
    live_server: LiveServer, browser: webdriver.Chrome, admin_key: str
) -> None:
    sign_in(browser, live_server, admin_key, "en")
    cookie = browser.get_cookie("borderlens_session")
    assert cookie is not None
    forged = httpx.post(
        f"{live_server.url}/keys/new",
        data={"name": "forged", "role": "admin", "csrf_token": "not the token"},
        cookies={"borderlens_session": cookie["value"]},
    )
    assert forged.status_code == 403 and forged.json()["code"] == "csrf_failed"
    admin = {"Authorization": f"Bearer {admin_key}"}
    names = [k["name"] for k in httpx.get(f"{live_server.url}/keys", headers=admin).json()["keys"]]
    assert "forged" not in names
