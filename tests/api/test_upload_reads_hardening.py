"""Upload reads refuse what the database cannot take (rel-04): hostile paging cursors are a
400, ids with control characters are simply unknown (404), never a 500."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

Headers = Callable[..., dict[str, str]]


def token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        token(b"UP-\x00"),
        token(b"UP-a\x00b"),
        token(b"UP-\x1f"),
        token(b"\xff\xfe"),
        token(b"9223372036854775808"),
        "%00",
        "not base64!",
        "",
    ],
)
def test_hostile_cursors_are_400(client: TestClient, api_key: Headers, cursor: str) -> None:
    response = client.get("/uploads", params={"cursor": cursor}, headers=api_key("researcher"))
    assert response.status_code in (200, 400), response.text
    if cursor:  # an empty cursor is no cursor: the first page
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("upload_id", ["%00", "a%00b", "%01", "%1F", "UP-%00"])
@pytest.mark.parametrize("leaf", ["", "/rejected.csv"])
def test_ids_with_control_characters_are_unknown(
    client: TestClient, api_key: Headers, upload_id: str, leaf: str
) -> None:
    response = client.get(f"/uploads/{upload_id}{leaf}", headers=api_key("admin"))
    assert response.status_code == 404, response.text
    # a NUL is answered before any route, for every path (app.api.hardening)
    expected = "not_found" if "%00" in upload_id else "unknown_upload"
    assert response.json()["code"] == expected
