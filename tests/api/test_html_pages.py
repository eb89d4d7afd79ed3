"""The HTML representation through the real application: negotiation (explicit ``f``, then
``Accept`` with q-values, JSON by default), languages, pages rendered from the JSON document,
sign-in with a session cookie and CSRF on every cookie-authenticated unsafe request."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.main import create_app
from app.services import keys as key_service
from app.settings import Settings
from tests.support.sites import BATOURI_CMR, BERBERATI_CAF, OUESSO_COG, site_feature

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
PAGES = ("/", "/conformance", "/collections", "/collections/sites", "/collections/sites/items")


VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"})


class Text(HTMLParser):
    """The <html lang>, the <h1> texts, and the text inside each element that has an id."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.h1: list[str] = []
        self.ids: dict[str, str] = {}
        self._stack: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        if tag == "h1":
            self.h1.append("")
        if tag in VOID:
            return
        element_id = attributes.get("id")
        if element_id:
            self.ids.setdefault(element_id, "")
        self._stack.append((tag, element_id))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if any(tag == "h1" for tag, _ in self._stack):
            self.h1[-1] += data
        for _, element_id in self._stack:
            if element_id:
                self.ids[element_id] += data


def parse(html: str) -> Text:
    parser = Text()
    parser.feed(html)
    return parser


def add_sites(client: TestClient, header: dict[str, str], count: int) -> None:
    points = (BERBERATI_CAF, BATOURI_CMR, OUESSO_COG)
    for i in range(count):
        lon, lat = points[i % len(points)]
        body = site_feature(
            lon + i * 1e-3, lat, name=f"Chantier {i}", minerals=["diamond"], accuracy_m=15.0
        )
        assert client.post("/collections/sites/items", json=body, headers=header).status_code == 201


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "application/geo+json, application/json",  # GDAL's OAPIF driver
        "application/json",
        "application/geo+json;q=1, text/html;q=0.5",
        "text/html;q=0.5, application/json",
        "text/html, application/json",  # a tie goes to the default
        "text/html;q=0",
        "text/html;q=nonsense",
    ],
)
def test_machines_keep_getting_json(client: TestClient, accept: str | None) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    for path in PAGES:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        assert "json" in response.headers["content-type"], (path, accept)


@pytest.mark.parametrize("path", PAGES)
def test_browsers_and_f_html_get_html(client: TestClient, path: str) -> None:
    by_header = client.get(path, headers={"Accept": BROWSER})
    by_f = client.get(path, params={"f": "html"}, headers={"Accept": "application/json"})
    for response in (by_header, by_f):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert (
            "Accept" in response.headers["vary"] and "Accept-Language" in response.headers["vary"]
        )
        assert parse(response.text).lang == "en"
    # an explicit f wins over the browser's Accept
    as_json = client.get(path, params={"f": "json"}, headers={"Accept": BROWSER})
    assert "json" in as_json.headers["content-type"]


@pytest.mark.parametrize(
    ("params", "accept_language", "lang", "heading"),
    [
        ({"lang": "fr"}, None, "fr", "Collections d'entités"),
        ({"lang": "pt"}, "fr", "pt", "Coleções de elementos"),
        ({}, "pt-BR,pt;q=0.9,en;q=0.5", "pt", "Coleções de elementos"),
        ({}, "de-DE, fr;q=0.3, en;q=0.2", "fr", "Collections d'entités"),
        ({}, "de, sw", "en", "Feature collections"),
    ],
)
def test_language_choice(
    client: TestClient,
    params: dict[str, str],
    accept_language: str | None,
    lang: str,
    heading: str,
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = client.get("/collections", params={"f": "html", **params}, headers=headers)
    page = parse(response.text)
    assert page.lang == lang
    assert page.h1 == [heading]


def test_items_page_renders_the_feature_collection(
    client: TestClient, api_key: Callable[..., dict[str, str]]
) -> None:
    add_sites(client, api_key("researcher"), 5)
    as_json = client.get("/collections/sites/items", params={"limit": 2}).json()
    page = client.get("/collections/sites/items", params={"limit": 2, "f": "html", "lang": "fr"})
    text = parse(page.text)
    assert text.ids["counts"].split() == ["2", "entités", "affichées", "sur", "5"]
    for feature in as_json["features"]:
        assert f">{feature['id']}</a>" in page.text, "the same features as the JSON page"
    assert "diamant" in text.ids["features"], "minerals come from the vocabulary, in French"
    assert "Cameroun" in page.text or "République centrafricaine" in page.text
    next_link = re.search(r'rel="next" id="next-page" href="([^"]+)"', page.text)
    assert next_link is not None
    assert "f=html" in next_link.group(1) and "lang=fr" in next_link.group(1)
    data = re.search(r'<script type="application/json" id="bl-map-data">(.*?)</script>', page.text)
    assert data is not None and data.group(1).count('"Point"') == 2


def test_site_page(client: TestClient, api_key: Callable[..., dict[str, str]]) -> None:
    add_sites(client, api_key("researcher"), 1)
    feature = client.get("/collections/sites/items").json()["features"][0]
    page = client.get(
        f"/collections/sites/items/{feature['id']}", params={"lang": "pt", "f": "html"}
    )
    assert page.status_code == 200
    text = parse(page.text)
    assert text.h1 == ["Chantier 0"]
    props = feature["properties"]
    assert props["border_pair"] is not None
    figures = text.ids["border-figures"]
    assert "Camarões" in figures, "the neighbour across the CAF-CMR border, in Portuguese"
    assert props["boundary_source"] in figures
    assert "probabilidade" in text.ids["side-confidence"]
    assert 'id="bl-map"' in page.text


def test_markup_in_data_is_escaped(
    client: TestClient, api_key: Callable[..., dict[str, str]]
) -> None:
    hostile = "<script>alert(1)</script>"
    body = site_feature(*BERBERATI_CAF, name=hostile)
    created = client.post("/collections/sites/items", json=body, headers=api_key("admin"))
    assert created.status_code == 201
    for path in ("/collections/sites/items", created.headers["Location"]):
        page = client.get(path, params={"f": "html"})
        assert hostile not in page.text
        assert "<script>alert" not in page.text


@pytest.mark.parametrize("path", ["/collections", "/collections/sites/items", "/"])
def test_a_language_the_pages_do_not_speak_is_a_400_naming_lang(
    client: TestClient, path: str
) -> None:
    """As on the items, where it always was: the collections page fell back to English."""
    response = client.get(path, params={"f": "html", "lang": "xx"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["column"] == "lang"


def test_unknown_parameters_still_fail_in_html(client: TestClient) -> None:
    response = client.get("/collections/sites/items", params={"f": "html", "colour": "red"})
    assert response.status_code == 400
    response = client.get("/collections/sites/items", params={"f": "xml"})
    assert response.status_code == 400


def _form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_sign_in_session_csrf_and_sign_out(client: TestClient, session: Session) -> None:
    created = key_service.create_key(session, name="Field team A", role="researcher", countries=[])
    form = client.get("/signin", params={"lang": "fr"})
    assert form.status_code == 200 and parse(form.text).h1 == ["Se connecter"]
    token = _form_token(form.text)

    wrong = client.post("/signin", data={"key": "blk_nope", "csrf_token": token})
    assert wrong.status_code == 401 and "signin-error" in wrong.text
    forged = client.post("/signin", data={"key": created.key, "csrf_token": "forged"})
    assert forged.status_code == 403

    signed = client.post(
        "/signin",
        data={"key": created.key, "csrf_token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert created.key not in signed.headers["set-cookie"]

    home = client.get("/", params={"f": "html"})
    assert "Field team A" in home.text
    session_token = _form_token(home.text)
    assert session_token != token, "a fresh CSRF token after sign-in"

    body = site_feature(*BATOURI_CMR, name="Posted with the cookie")
    no_token = client.post("/collections/sites/items", json=body)
    assert no_token.status_code == 403 and no_token.json()["code"] == "csrf_failed"
    with_token = client.post(
        "/collections/sites/items", json=body, headers={"X-CSRF-Token": session_token}
    )
    assert with_token.status_code == 201, with_token.text

    assert client.post("/signout", data={"csrf_token": "forged"}).status_code == 403
    out = client.post("/signout", data={"csrf_token": session_token}, follow_redirects=False)
    assert out.status_code == 303
    assert client.post("/collections/sites/items", json=body).status_code == 401


def test_revoked_key_ends_the_session(client: TestClient, session: Session) -> None:
    created = key_service.create_key(session, name="Team B", role="researcher", countries=[])
    token = _form_token(client.get("/signin").text)
    client.post("/signin", data={"key": created.key, "csrf_token": token})
    page = client.get("/", params={"f": "html"})
    assert "Team B" in page.text
    key_service.revoke_key(session, created.key)
    page = client.get("/", params={"f": "html"})
    assert "Team B" not in page.text and 'id="signin-link"' in page.text
    body = site_feature(*BATOURI_CMR)
    response = client.post("/collections/sites/items", json=body, headers={"X-CSRF-Token": token})
    assert response.status_code == 401, "the revoked key's session no longer writes"


def test_every_collection_and_its_first_item_render(
    client: TestClient, api_key: Callable[..., dict[str, str]]
) -> None:
    add_sites(client, api_key("researcher"), 3)
    collections = client.get("/collections").json()["collections"]
    assert len(collections) >= 6
    for collection in collections:
        items = client.get(f"/collections/{collection['id']}/items", params={"limit": 2})
        assert items.status_code == 200, collection["id"]
        page = client.get(
            f"/collections/{collection['id']}/items", params={"limit": 2, "f": "html", "lang": "pt"}
        )
        assert page.status_code == 200, (collection["id"], page.text[:300])
        assert parse(page.text).lang == "pt"
        for feature in items.json()["features"][:1]:
            path = f"/collections/{collection['id']}/items/{feature['id']}"
            one = client.get(path, params={"f": "html"})
            assert one.status_code == 200, path
            assert str(feature["id"]) in one.text


def test_cookie_is_secure_behind_an_https_public_url(
    settings: Settings, session: Session, app: FastAPI
) -> None:
    secure = create_app(settings.model_copy(update={"public_url": "https://borderlens.example"}))
    secure.dependency_overrides = app.dependency_overrides
    client = TestClient(secure, base_url="https://testserver")
    created = key_service.create_key(session, name="Team C", role="authority", countries=[])
    token = _form_token(client.get("/signin").text)
    signed = client.post(
        "/signin", data={"key": created.key, "csrf_token": token}, follow_redirects=False
    )
    assert signed.status_code == 303
    assert "secure" in signed.headers["set-cookie"].lower()
