"""Keys over the API (admins): create (secret shown once), list, read, rotate, revoke; expiry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

Headers = Callable[..., dict[str, str]]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_an_admin_creates_lists_rotates_and_revokes_keys(
    client: TestClient, api_key: Headers
) -> None:
    admin = api_key("admin")
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)
    body = {"name": "Douane Garoua", "role": "authority", "countries": ["CMR"]}
    created = client.post("/keys", json={**body, "expires_at": expires.isoformat()}, headers=admin)
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["key"].startswith("blk_") and key["countries"] == ["CMR"]
    assert created.headers["location"] == f"/keys/{key['id']}"
    assert client.get("/conformance", headers=bearer(key["key"])).status_code == 200

    listed = client.get("/keys", headers=admin).json()["keys"]
    mine = next(k for k in listed if k["id"] == key["id"])
    assert "key" not in mine and mine["state"] == "active"  # the secret is never shown again
    assert dt.datetime.fromisoformat(mine["expires_at"]) == expires
    assert client.get(f"/keys/{key['id']}", headers=admin).json()["name"] == "Douane Garoua"

    rotated = client.post(f"/keys/{key['id']}/rotate", headers=admin)
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["id"] == key["id"] and new["key"] != key["key"] and new["role"] == "authority"
    old_answer = client.get("/conformance", headers=bearer(key["key"]))
    assert old_answer.status_code == 401 and old_answer.json()["code"] == "invalid_key"
    assert client.get("/conformance", headers=bearer(new["key"])).status_code == 200

    assert client.delete(f"/keys/{key['id']}", headers=admin).status_code == 204
    revoked = client.get("/conformance", headers=bearer(new["key"]))
    assert revoked.status_code == 401 and revoked.json()["code"] == "revoked_key"
    assert client.get(f"/keys/{key['id']}", headers=admin).json()["state"] == "revoked"
    assert client.post(f"/keys/{key['id']}/rotate", headers=admin).status_code == 404
    assert client.delete("/keys/999999", headers=admin).status_code == 404


def test_only_admins_manage_keys(client: TestClient, api_key: Headers) -> None:
    for role in ("researcher", "authority"):
        answer = client.get("/keys", headers=api_key(role))
        assert answer.status_code == 403 and answer.json()["code"] == "wrong_role"
    assert client.post("/keys", json={"name": "x", "role": "admin"}).status_code == 401


def test_bad_key_requests_are_problems(client: TestClient, api_key: Headers) -> None:
    admin = api_key("admin")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    cases = [
        ({"name": "x", "role": "emperor"}, 422),
        ({"name": "", "role": "admin"}, 422),
        ({"name": "x", "role": "authority", "countries": ["cmr"]}, 422),
        # a member the service refuses is a body problem too (it was a 400 invalid_parameter)
        ({"name": "x", "role": "admin", "countries": ["CMR"]}, 422),
        ({"name": "x", "role": "admin", "expires_at": past}, 422),
        ({"name": "x", "role": "admin", "expires_at": "2030-01-01T00:00:00"}, 422),  # no offset
        ({"name": "x", "role": "admin", "extra": 1}, 422),
        # shaped as a code, but no country's (a typo scoped the key to nowhere)
        ({"name": "x", "role": "researcher", "countries": ["XXX"]}, 422),
        # a time is ISO 8601 text: lax parsing once read numbers as Unix times
        ({"name": "x", "role": "admin", "expires_at": 1893456000}, 422),
        ({"name": "x", "role": "admin", "expires_at": "1893456000"}, 422),
        ({"name": "x", "role": "admin", "expires_at": 0}, 422),
    ]
    for body, status in cases:
        answer = client.post("/keys", json=body, headers=admin)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["title"] == "Invalid request body", answer.text
    # the member is named
    answer = client.post("/keys", json=cases[3][0], headers=admin)
    assert answer.json()["errors"][0]["column"] == "countries", answer.text
    answer = client.post("/keys", json={**cases[2][0], "countries": ["CAF", "ZZZ"]}, headers=admin)
    assert "'ZZZ'" in answer.json()["detail"], answer.text
    answer = client.post("/keys", json=cases[4][0], headers=admin)
    assert answer.json()["code"] == "invalid_expiry"
    assert answer.json()["errors"][0]["column"] == "expires_at", answer.text
    # a country given twice is one scope
    body = {"name": "x", "role": "authority", "countries": ["CMR", "CAF", "CMR"]}
    answer = client.post("/keys", json=body, headers=admin)
    assert answer.status_code == 201 and answer.json()["countries"] == ["CAF", "CMR"], answer.text


def test_an_expired_key_is_refused_with_a_clear_problem(
    client: TestClient, api_key: Headers, session: Session
) -> None:
    admin = api_key("admin")
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    key = client.post(
        "/keys", json={"name": "visitor", "role": "researcher", "expires_at": soon}, headers=admin
    ).json()
    assert client.get("/uploads", headers=bearer(key["key"])).status_code == 200
    session.execute(
        text("UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = :id"),
        {"id": key["id"]},
    )
    answer = client.get("/uploads", headers=bearer(key["key"]))
    assert answer.status_code == 401
    problem = answer.json()
    assert problem["code"] == "expired_key" and "expired at" in problem["detail"]
    assert answer.headers["www-authenticate"] == "Bearer"
    assert client.get(f"/keys/{key['id']}", headers=admin).json()["state"] == "expired"
