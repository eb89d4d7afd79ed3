"""Upload form fields and query strings a user can send: never a 500 (issue 8 item 15)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

Headers = Callable[..., dict[str, str]]
FORM = "application/x-www-form-urlencoded"
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


@pytest.mark.parametrize(
    ("content_type", "body", "sent"),
    [
        ("application/json", b'{"file": "sites.csv"}', "not application/json"),
        ("text/csv", b"name,lon,lat\nA,15,4\n", "not text/csv"),
        (
            "application/x-www-form-urlencoded",
            b"kind=mine",
            "not application/x-www-form-urlencoded",
        ),
        (None, b"", "with its Content-Type header"),
    ],
)
def test_an_upload_that_is_no_multipart_form_is_a_415_naming_it(
    client: TestClient, api_key: Headers, content_type: str | None, body: bytes, sent: str
) -> None:
    """FastAPI read such a body as an empty form: a 422 "file: Field required", which did
    not say the file must go in a multipart form (found by a helper)."""
    headers = api_key("researcher")
    if content_type is not None:
        headers["content-type"] = content_type
    answer = client.post("/uploads", content=body, headers=headers)
    assert answer.status_code == 415, answer.text
    problem = answer.json()
    assert problem["code"] == "unsupported_media_type"
    assert problem["detail"] == f"send the body as multipart/form-data, {sent}"


def test_a_compressed_upload_is_a_415(client: TestClient, api_key: Headers) -> None:
    headers = {
        **api_key("researcher"),
        "content-type": "multipart/form-data; boundary=x",
        "content-encoding": "gzip",
    }
    answer = client.post("/uploads", content=b"--x--", headers=headers)
    assert answer.status_code == 415, answer.text
    assert "Content-Encoding gzip is not read" in answer.json()["detail"]
