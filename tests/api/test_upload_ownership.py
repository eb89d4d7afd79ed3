"""Uploads belong to their uploader (field case rel-16).

Each role against each upload endpoint: a researcher lists, reads and downloads only the
uploads made with their key (someone else's answer 404, like a missing one); an admin sees
every upload; others are refused. Re-sending someone else's bytes names only the earlier
upload. A site's public ``source`` is what the uploader chose, never their key's name. The
``next`` link carries an opaque cursor, never an internal row id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Upload
from tests.support.sites import BERBERATI_CAF, site_feature

Headers = Callable[..., dict[str, str]]


def survey(tag: str, lon: float = 16.71, bad_rows: int = 1) -> bytes:
    lines = ["name,lat,lon,kind", f"Chantier {tag},4.71,{lon},mine"]
    lines += [f"Mauvais {tag} {i},nord,{lon},mine" for i in range(bad_rows)]
    return ("\n".join(lines) + "\n").encode()


def post(client: TestClient, headers: dict[str, str], data: bytes, **fields: Any) -> Any:
    return client.post("/uploads", files={"file": ("s.csv", data)}, data=fields, headers=headers)


@pytest.fixture
def two_researchers(
    client: TestClient, api_key: Headers
) -> tuple[dict[str, str], dict[str, str], str]:
    """Researcher A (who uploaded) and B, and A's upload id."""
    a, b = api_key("researcher"), api_key("researcher")
    created = post(client, a, survey("A"))
    assert created.status_code == 201, created.text
    return a, b, created.json()["upload"]["id"]


def paths(upload_id: str) -> list[str]:
    return [f"/uploads/{upload_id}", f"/uploads/{upload_id}/rejected.csv"]


def test_the_uploader_reads_their_upload(
    client: TestClient, two_researchers: tuple[dict[str, str], dict[str, str], str]
) -> None:
    a, _, upload_id = two_researchers
    for path in paths(upload_id):
        assert client.get(path, headers=a).status_code == 200, path
    assert upload_id in [
        u["public_id"] for u in client.get("/uploads", headers=a).json()["uploads"]
    ]


def test_another_researcher_gets_404_exactly_as_for_a_missing_upload(
    client: TestClient, two_researchers: tuple[dict[str, str], dict[str, str], str]
) -> None:
    _, b, upload_id = two_researchers
    for path, missing in zip(paths(upload_id), paths("UP-NOSUCHTHING"), strict=True):
        theirs, nothing = client.get(path, headers=b), client.get(missing, headers=b)
        assert theirs.status_code == nothing.status_code == 404, path
        assert theirs.json()["code"] == nothing.json()["code"] == "unknown_upload"
    listed = client.get("/uploads?limit=1000", headers=b).json()["uploads"]
    assert upload_id not in [u["public_id"] for u in listed]


def test_an_admin_sees_every_upload(
    client: TestClient,
    api_key: Headers,
    two_researchers: tuple[dict[str, str], dict[str, str], str],
) -> None:
    _, b, upload_id = two_researchers
    other = post(client, b, survey("B", lon=16.9)).json()["upload"]["id"]
    admin = api_key("admin")
    for path in paths(upload_id) + paths(other):
        assert client.get(path, headers=admin).status_code == 200, path
    listed = {
        u["public_id"] for u in client.get("/uploads?limit=1000", headers=admin).json()["uploads"]
    }
    assert {upload_id, other} <= listed


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("authority", 403)])
def test_non_writers_are_refused(
    client: TestClient,
    api_key: Headers,
    two_researchers: tuple[dict[str, str], dict[str, str], str],
    role: str | None,
    status: int,
) -> None:
    _, _, upload_id = two_researchers
    headers = api_key(role) if role else {}
    for path in ["/uploads", *paths(upload_id)]:
        assert client.get(path, headers=headers).status_code == status, path


def test_resending_someone_elses_bytes_names_only_the_upload(
    client: TestClient,
    session: Session,
    two_researchers: tuple[dict[str, str], dict[str, str], str],
) -> None:
    a, b, upload_id = two_researchers
    again = post(client, b, survey("A"))
    assert again.status_code == 200
    body = again.json()
    assert body["repeat"]["upload"] == upload_id and body["repeat"]["own"] is False
    assert set(body) == {"upload", "repeat"}
    assert set(body["upload"]) == {"id", "sha256"}
    stored = session.execute(select(Upload.uploader)).scalars().all()
    assert not any(name in again.text for name in stored)
    # The uploader's own repeat gets the whole first report back.
    own = post(client, a, survey("A")).json()
    assert own["repeat"]["upload"] == upload_id and own["counts"]["accepted"] == 1


@pytest.mark.parametrize(
    ("chosen", "expected"), [(None, None), ("Mission IPIS 2024", "Mission IPIS 2024")]
)
def test_a_sites_public_source_is_never_the_key_name(
    client: TestClient, api_key: Headers, chosen: str | None, expected: str | None
) -> None:
    fields = {"source": chosen} if chosen else {}
    report = post(client, api_key("researcher"), survey("S", lon=17.2), **fields).json()
    site = next(r["site"] for r in report["rows"] if r["outcome"] == "created")
    feature = client.get(f"/collections/sites/items/{site}").json()
    assert feature["properties"].get("source") == expected
    assert "test researcher" not in str(feature)


@pytest.mark.parametrize(("chosen", "expected"), [(None, None), ("Mission IPIS", "Mission IPIS")])
def test_a_site_posted_directly_has_no_key_named_source(
    client: TestClient, api_key: Headers, chosen: str | None, expected: str | None
) -> None:
    extra = {"source": chosen} if chosen else {}
    body = site_feature(*BERBERATI_CAF, name="Comptoir posted", **extra)
    response = client.post("/collections/sites/items", json=body, headers=api_key("researcher"))
    assert response.status_code == 201, response.text
    feature = client.get(f"/collections/sites/items/{response.json()['id']}").json()
    assert feature["properties"].get("source") == expected
    assert "test researcher" not in str(feature)


def test_paging_uses_an_opaque_cursor_and_sees_only_own_uploads(
    client: TestClient, api_key: Headers
) -> None:
    a, b = api_key("researcher"), api_key("researcher")
    mine = [
        post(client, a, survey(f"P{i}", lon=16.0 + i / 10)).json()["upload"]["id"] for i in range(5)
    ]
    post(client, b, survey("other", lon=17.5))
    seen: list[str] = []
    page = client.get("/uploads?limit=2", headers=a).json()
    while True:
        seen += [u["public_id"] for u in page["uploads"]]
        if "next" not in page:
            break
        cursor = re.search(r"cursor=([^&]+)", page["next"])
        assert cursor and "before=" not in page["next"]
        assert not re.fullmatch(r"\d+", cursor.group(1))
        assert all(upload_id not in page["next"] for upload_id in mine)
        page = client.get(page["next"], headers=a).json()
    assert seen == list(reversed(mine))
    for bad in ("12", "bm9wZQ", "%00", "UP-" + "A" * 10):
        response = client.get(f"/uploads?cursor={bad}", headers=a)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "bad_cursor"
    # Another researcher's cursor (from their own page) does not open A's list.
    b_page = client.get("/uploads?limit=1", headers=b).json()
    if "next" in b_page:
        assert client.get(b_page["next"], headers=a).status_code == 400
