"""Upload form fields and query strings a user can send: never a 500 (issue 8 item 15)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

Headers = Callable[..., dict[str, str]]
CSV = b"name,lat,lon\nBania,3.9,16.1\n"


@pytest.mark.parametrize("field", ["source", "crs", "column_map", "empty_values"])
@pytest.mark.parametrize("value", ["a\x00b", "\x1b[31m", "x\x7f"])
def test_control_characters_in_form_text_are_422(
    client: TestClient, api_key: Headers, field: str, value: str
) -> None:
    response = client.post(
        "/uploads",
        headers=api_key("researcher"),
        files={"file": ("a.csv", CSV)},
        data={"kind": "mine", field: value},
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_body"


@pytest.mark.parametrize("name", ["a\x00.csv", "\x07bell.csv", "line\nbreak.csv"])
def test_control_characters_in_the_file_name_are_dropped(
    client: TestClient, api_key: Headers, name: str
) -> None:
    response = client.post(
        "/uploads",
        headers=api_key("researcher"),
        files={"file": (name, CSV)},
        data={"kind": "mine"},
    )
    assert response.status_code == 201, response.text
    stored = response.json()["upload"]["filename"]
    assert stored.isprintable() and stored.endswith(".csv")


@pytest.mark.parametrize(
    "path",
    [
        "/uploads?before=9223372036854775808",
        "/uploads?limit=5&colour=red",
        "/uploads?cursor=%00",
    ],
)
def test_undeclared_or_hostile_query_parameters_are_400(
    client: TestClient, api_key: Headers, path: str
) -> None:
    response = client.get(path, headers=api_key("researcher"))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("upload_id", ["%00", "UP-%00", "x" * 300])
def test_hostile_upload_ids_are_404(client: TestClient, api_key: Headers, upload_id: str) -> None:
    for suffix in ("", "/rejected.csv"):
        response = client.get(f"/uploads/{upload_id}{suffix}", headers=api_key("researcher"))
        assert response.status_code == 404, response.text
