"""API keys and roles: anonymous reads, keyed writes, 401 for bad keys, 403 for wrong roles."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.services import keys as key_service
from tests.support.sites import BATOURI_CMR, BERBERATI_CAF, site_feature

Headers = Callable[..., dict[str, str]]
URL = "/collections/sites/items"


def test_anonymous_cannot_write(client: TestClient) -> None:
    response = client.post(URL, json=site_feature(*BERBERATI_CAF))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


def test_wrong_key_is_401(client: TestClient, api_key: Headers) -> None:
    good = api_key("researcher")["Authorization"]
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for header in (tampered, "Bearer nonsense", "Basic dXNlcjpwYXNz"):
        response = client.post(
            URL, json=site_feature(*BERBERATI_CAF), headers={"Authorization": header}
        )
        assert response.status_code == 401, header


def test_revoked_key_is_401(client: TestClient, session: Session) -> None:
    created = key_service.create_key(session, name="field team", role="researcher", countries=[])
    headers = {"Authorization": f"Bearer {created.key}"}
    assert client.post(URL, json=site_feature(*BERBERATI_CAF), headers=headers).status_code == 201
    key_service.revoke_key(session, created.key)
    response = client.post(URL, json=site_feature(*BERBERATI_CAF), headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "revoked_key"


def test_authority_cannot_write(client: TestClient, api_key: Headers) -> None:
    response = client.post(URL, json=site_feature(*BERBERATI_CAF), headers=api_key("authority"))
    assert response.status_code == 403
    assert response.json()["code"] == "wrong_role"


def test_keys_are_stored_hashed(session: Session) -> None:
    created = key_service.create_key(session, name="x", role="admin", countries=[])
    records = key_service.list_keys(session)
    stored = next(r for r in records if r.id == created.id)
    secret = created.key.split("_", 2)[2]
    assert secret.encode() not in stored.secret_hash
    assert created.key.split("_")[1] == stored.prefix


def test_restricted_attributes_follow_role_and_country_scope(
    client: TestClient, api_key: Headers
) -> None:
    admin = api_key("admin")
    for lon_lat, name in ((BERBERATI_CAF, "in CAF"), (BATOURI_CMR, "in CMR")):
        body = site_feature(*lon_lat, name=name, restricted={"armed_group": "X"})
        assert client.post(URL, json=body, headers=admin).status_code == 201

    def restricted(headers: dict[str, str]) -> dict[str, object]:
        features = client.get(URL, params={"limit": 100}, headers=headers).json()["features"]
        return {f["properties"]["name"]: f["properties"].get("restricted") for f in features}

    assert restricted({}) == {"in CAF": None, "in CMR": None}
    assert "restricted" not in client.get(URL).json()["features"][0]["properties"]
    assert restricted(api_key("authority", ["CMR"])) == {
        "in CAF": None,
        "in CMR": {"armed_group": "X"},
    }
    assert restricted(api_key("authority")) == {
        "in CAF": {"armed_group": "X"},
        "in CMR": {"armed_group": "X"},
    }
    assert restricted(api_key("researcher")) == {"in CAF": None, "in CMR": None}
