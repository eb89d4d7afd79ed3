"""``If-None-Match`` on the items and on every item (RFC 9110 13.1.2), as on the tiles: a
response carries an ``ETag``, and a request naming it (weak comparison, a list, or ``*``)
is answered 304 with that ``ETag`` and no body. The items answered 200 with their body
whatever the header said, and only sites and observations pages had a tag (found by a
helper)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import collections as registry
from tests.api.test_items import add_sites, grid
from tests.support.sites import BERBERATI_CAF, site_feature

Headers = Callable[..., dict[str, str]]
SITES = "/collections/sites/items"


def _revalidated(client: TestClient, url: str, header: str, **headers: str) -> int:
    return client.get(url, headers={"If-None-Match": header, **headers}).status_code


@pytest.mark.parametrize("collection", [provider.id for provider in registry.PROVIDERS])
def test_every_items_page_has_an_etag_that_answers_304(client: TestClient, collection: str) -> None:
    url = f"/collections/{collection}/items?limit=3"
    first = client.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert "User-Agent" in again.headers["vary"] and "Authorization" in again.headers["vary"]
    assert client.get(url).headers["etag"] == etag, "the time of the answer is not in the tag"
    # weak comparison: the opaque tag alone names it too; one of a list is enough; * is any
    assert _revalidated(client, url, etag.removeprefix("W/")) == 304
    assert _revalidated(client, url, f'"other", W/"more", {etag}') == 304
    assert _revalidated(client, url, "*") == 304
    assert _revalidated(client, url, 'W/"other"') == 200
    assert _revalidated(client, url, "not a tag") == 200
    # another query is another representation (its links say so, if nothing else)
    assert client.get(f"/collections/{collection}/items?limit=2").headers["etag"] != etag


def test_a_change_gives_the_page_a_new_tag(client: TestClient, session: Session) -> None:
    add_sites(session, grid(2))
    before = client.get(SITES)
    add_sites(session, grid(3)[2:])
    after = client.get(SITES, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.json()["numberReturned"] == 3
    assert after.headers["etag"] != before.headers["etag"]


def test_the_tag_follows_what_the_caller_may_read(client: TestClient, api_key: Headers) -> None:
    """An admin reads restricted values the public does not: a tag the public got must not
    make the admin's client keep the public page (nor the reverse)."""
    admin = api_key("admin")
    created = client.post(
        SITES, json=site_feature(*BERBERATI_CAF, restricted={"workers": 40}), headers=admin
    )
    assert created.status_code == 201
    public = client.get(SITES)
    full = client.get(SITES, headers=admin)
    assert public.headers["etag"] != full.headers["etag"]
    assert _revalidated(client, SITES, public.headers["etag"], **admin) == 200
    assert _revalidated(client, SITES, full.headers["etag"], **admin) == 304
    # the same for the item, whose strong tag says the representation ("v1" / "v1-r")
    url = created.headers["location"]
    public_item, full_item = client.get(url), client.get(url, headers=admin)
    assert _revalidated(client, url, public_item.headers["etag"], **admin) == 200
    assert _revalidated(client, url, full_item.headers["etag"], **admin) == 304


def test_a_site_answers_304_to_its_row_version_tag(client: TestClient, api_key: Headers) -> None:
    admin = api_key("admin")
    created = client.post(SITES, json=site_feature(*BERBERATI_CAF), headers=admin)
    url, etag = created.headers["location"], created.headers["etag"]
    assert etag.startswith('"v'), "the strong tag If-Match takes"
    unchanged = client.get(url, headers={**admin, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b"" and unchanged.headers["etag"] == etag
    assert _revalidated(client, url, f"W/{etag}", **admin) == 304, "weak comparison"
    patched = client.patch(
        url,
        json={"properties": {"name": "renamed"}},
        headers={**admin, "If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200
    changed = client.get(url, headers={**admin, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["properties"]["name"] == "renamed"
    assert changed.headers["etag"] == patched.headers["etag"] != etag


@pytest.mark.parametrize("collection", ["borders", "countries"])
def test_an_item_without_a_row_version_is_tagged_by_its_content(
    client: TestClient, collection: str
) -> None:
    feature = client.get(f"/collections/{collection}/items?limit=1").json()["features"][0]
    url = f"/collections/{collection}/items/{feature['id']}"
    first = client.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    # the representation QGIS gets by default (without asking) has its own tag
    qgis = {"User-Agent": "Mozilla/5.0 QGIS/32215/Debian GNU/Linux 12 (bookworm)"}
    flat = client.get(url, headers=qgis)
    assert flat.content != first.content
    assert flat.headers["etag"] != etag
    assert _revalidated(client, url, etag, **qgis) == 200


def test_a_read_as_of_a_version_keeps_its_tag(client: TestClient, session: Session) -> None:
    add_sites(session, grid(2))
    version = client.get(SITES).json()["datasetVersion"]
    then = client.get(SITES, params={"as_of": version})
    add_sites(session, grid(3)[2:])
    again = client.get(SITES, params={"as_of": version})
    assert again.content == then.content
    assert again.headers["etag"] == then.headers["etag"]
    url = f"{SITES}?as_of={version}"
    assert _revalidated(client, url, then.headers["etag"]) == 304
    assert client.get(SITES).headers["etag"] != then.headers["etag"]
