"""One rule for JSON bodies, whichever parses them (app.api.json_body for the site writers,
FastAPI for the pydantic bodies): bytes that are not JSON, or that no parser reads (nested
too deeply, not UTF-8), are a 400 ``invalid_body`` naming the body and why (malformed
syntax, RFC 9110, as tests/api/test_sites_write.py holds); JSON that is no valid body is a
422. A deep body was a 400 "There was an error parsing the body" on the pydantic routes,
where broken JSON was a 422 "1: JSON decode error"."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

Headers = Callable[..., dict[str, str]]

ROUTES = [
    ("/subscriptions", "authority", "application/json"),
    ("/keys", "admin", "application/json"),
    ("/collections/sites/items", "researcher", "application/geo+json"),
]
DEEP = b"[" * 3000 + b"]" * 3000


@pytest.mark.parametrize(("url", "role", "media_type"), ROUTES)
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (DEEP, "nested too deeply"),
        (b'{"a": ' * 3000 + b"1" + b"}" * 3000, "nested too deeply"),
        (b"{bad", "Expecting property name enclosed in double quotes"),
        (b'{"name": "a"', "Expecting ',' delimiter"),
        (b'{"name": "\xff\xfe"}', "not UTF-8"),
    ],
)
def test_bytes_no_parser_reads_are_a_400(
    client: TestClient,
    api_key: Headers,
    url: str,
    role: str,
    media_type: str,
    raw: bytes,
    reason: str,
) -> None:
    headers = {**api_key(role), "content-type": media_type}
    answer = client.post(url, content=raw, headers=headers)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["code"] == "invalid_body"
    assert problem["detail"] == f"request body: {reason}"
    assert problem["errors"] == [{"code": "invalid_json", "message": reason, "column": "body"}]


@pytest.mark.parametrize(("url", "role", "media_type"), ROUTES)
@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"null", b"[" * 50 + b"]" * 50])
def test_json_that_is_no_valid_body_is_a_422(
    client: TestClient, api_key: Headers, url: str, role: str, media_type: str, raw: bytes
) -> None:
    headers = {**api_key(role), "content-type": media_type}
    answer = client.post(url, content=raw, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("url", "role", "media_type"), ROUTES)
@pytest.mark.parametrize("raw", [b"", b" \r\n\t"])
def test_an_empty_body_is_a_400_saying_so(
    client: TestClient, api_key: Headers, url: str, role: str, media_type: str, raw: bytes
) -> None:
    """No body at all is not JSON, whichever parser would read it: the pydantic routes
    answered a 422 "Field required" naming no member (found by a helper)."""
    headers = {**api_key(role), "content-type": media_type}
    answer = client.post(url, content=raw, headers=headers)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert (problem["code"], problem["detail"]) == (
        "invalid_body",
        "request body: the body is empty",
    )
    assert problem["errors"] == [
        {"code": "invalid_json", "message": "the body is empty", "column": "body"}
    ]


@pytest.mark.parametrize(("url", "role", "media_type"), ROUTES)
@pytest.mark.parametrize("sent_as", ["text/plain", "application/x-www-form-urlencoded"])
def test_json_sent_as_another_media_type_is_a_415_saying_what_to_send(
    client: TestClient, api_key: Headers, url: str, role: str, media_type: str, sent_as: str
) -> None:
    """A valid body sent as text (or as a form, as ``curl -d`` does unless told) is a 415
    naming the media type to send: the pydantic routes answered a 422 "Input should be a
    valid dictionary" (found by a helper)."""
    answer = client.post(
        url, content=b'{"name": "x"}', headers={**api_key(role), "content-type": sent_as}
    )
    assert answer.status_code == 415, answer.text
    problem = answer.json()
    assert problem["code"] == "unsupported_media_type"
    assert problem["detail"].startswith("send the body as ")
    assert media_type in problem["detail"] and problem["detail"].endswith(f"not {sent_as}")


@pytest.mark.parametrize(("url", "role", "media_type"), ROUTES)
def test_a_body_without_content_type_is_a_415_asking_for_one(
    client: TestClient, api_key: Headers, url: str, role: str, media_type: str
) -> None:
    """Every JSON route reads a body by its media type: none given is a 415 naming the one
    to send, on the pydantic routes as on the site writers."""
    answer = client.post(url, content=b"{}", headers=api_key(role))
    assert answer.status_code == 415, answer.text
    assert answer.json()["detail"] == (
        f"send the body as {media_type}"
        f"{' or application/json' if media_type != 'application/json' else ''}"
        ", with its Content-Type header"
    )


PYDANTIC_ROUTES = [r for r in ROUTES if r[2] == "application/json"]


@pytest.mark.parametrize(("url", "role", "media_type"), PYDANTIC_ROUTES)
@pytest.mark.parametrize(
    "sent_as",
    ["application/vnd.example+json", "application/problem+json", "application/merge-patch+json"],
)
def test_the_pydantic_routes_read_only_the_media_type_they_declare(
    client: TestClient, api_key: Headers, url: str, role: str, media_type: str, sent_as: str
) -> None:
    """FastAPI parsed any ``+json`` type: a key was made from a body sent as
    problem+json, where the site writers answered 415 (found by a helper)."""
    answer = client.post(url, content=b"{}", headers={**api_key(role), "content-type": sent_as})
    assert answer.status_code == 415, answer.text
    assert answer.json()["detail"] == f"send the body as {media_type}, not {sent_as}"


@pytest.mark.parametrize(("url", "role", "media_type"), ROUTES)
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'\xef\xbb\xbf{"name": "a"}', "Unexpected UTF-8 BOM (decode using utf-8-sig)"),
        ('{"name": "a"}'.encode("utf-16"), "not UTF-8"),
        (b'{"name": NaN}', "NaN is not a JSON number"),
        (b'{"name": -Infinity}', "-Infinity is not a JSON number"),
    ],
)
def test_every_json_route_refuses_what_json_is_not_alike(
    client: TestClient,
    api_key: Headers,
    url: str,
    role: str,
    media_type: str,
    raw: bytes,
    reason: str,
) -> None:
    """A byte-order mark, UTF-16 and NaN were taken by the pydantic routes (a key made from
    a UTF-16 body) and refused by the site writers (found by a helper)."""
    answer = client.post(url, content=raw, headers={**api_key(role), "content-type": media_type})
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == f"request body: {reason}"


@pytest.mark.parametrize(("url", "role", "media_type"), ROUTES)
def test_a_compressed_body_is_a_415_saying_its_coding_is_not_read(
    client: TestClient, api_key: Headers, url: str, role: str, media_type: str
) -> None:
    """A gzip body was read as text: a 400 "not UTF-8" (found by a helper); RFC 9110 answers
    a content coding the server does not read with a 415."""
    import gzip

    headers = {**api_key(role), "content-type": media_type, "content-encoding": "gzip"}
    answer = client.post(url, content=gzip.compress(b'{"name": "a"}'), headers=headers)
    assert answer.status_code == 415, answer.text
    assert answer.json()["detail"] == (
        "send the body without a content coding: Content-Encoding gzip is not read"
    )


def test_every_route_whose_body_fastapi_parses_reads_it_strictly_first(app: FastAPI) -> None:
    """A route with a JSON body model is in a router that checks the body by
    ``json_body.parse`` before the model reads it (``json_body.read_strictly``): one rule
    for every JSON body, whoever parses it."""
    from fastapi.params import Form

    from app.api import json_body
    from app.api.contract import api_routes

    bodied = [
        route
        for route in api_routes(app.routes)
        if route.body_field is not None and not isinstance(route.body_field.field_info, Form)
    ]
    assert len(bodied) >= 7  # keys, subscriptions, five curation bodies
    for route in bodied:
        calls = [d.call for d in route.dependant.dependencies]
        assert json_body.read_strictly in calls, route.path


def test_a_broken_form_is_still_the_framework_s_400(client: TestClient, api_key: Headers) -> None:
    headers = {**api_key("researcher"), "content-type": "multipart/form-data; boundary=x"}
    answer = client.post("/uploads", content=b"--x\r\nbroken", headers=headers)
    assert answer.status_code in (400, 422), answer.text
    assert "JSON" not in answer.text and "nested" not in answer.text


#: One title per status of the body problem (code invalid_body): a 400 said "Invalid parameter"
#: (bytes that are not JSON), a 422 "Invalid request body" or, from the pydantic routes,
#: "Invalid request" (found by a helper).
BODY_TITLES = {400: "Malformed request body", 422: "Invalid request body"}


@pytest.mark.parametrize(
    ("url", "role", "media_type", "raw", "status"),
    [
        ("/collections/sites/items", "researcher", "application/geo+json", b"{bad", 400),
        ("/collections/sites/items", "researcher", "application/geo+json", DEEP, 400),
        (
            "/collections/sites/items",
            "researcher",
            "application/geo+json",
            b'{"a": "\\u0000"}',
            422,
        ),
        ("/subscriptions", "authority", "application/json", b"{bad", 400),
        ("/subscriptions", "authority", "application/json", b'{"name": 3}', 422),
        ("/keys", "admin", "application/json", b'{"a": "\xff"}', 400),
        ("/keys", "admin", "application/json", b"[]", 422),
    ],
)
def test_a_body_problem_is_titled_by_its_status(
    client: TestClient,
    api_key: Headers,
    url: str,
    role: str,
    media_type: str,
    raw: bytes,
    status: int,
) -> None:
    answer = client.post(url, content=raw, headers={**api_key(role), "content-type": media_type})
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["code"] == "invalid_body"
    assert problem["title"] == BODY_TITLES[status]


def test_the_problems_the_framework_answers_are_titled_as_the_service_s_own(
    client: TestClient, api_key: Headers
) -> None:
    """A query value the framework refuses was "Invalid request" where the service's own said
    "Invalid parameter"; an unknown path "Not Found", "Method Not Allowed" (the HTTP phrases)
    where the service's own said "Not found", "Method not allowed"."""
    framework = client.get("/collections", params={"f": "xml"})
    own = client.get("/collections/sites/items", params={"limit": "x"})
    assert framework.status_code == own.status_code == 400
    assert framework.json()["code"] == own.json()["code"] == "invalid_parameter"
    assert framework.json()["title"] == own.json()["title"] == "Invalid parameter"
    unknown_path = client.get("/nowhere").json()
    unknown_feature = client.get("/collections/sites/items/BL-NOPE").json()
    assert (unknown_path["code"], unknown_path["title"]) == ("not_found", "Not found")
    assert unknown_feature["title"] == "Not found"
    refused = client.post("/conformance")
    assert refused.status_code == 405
    assert (refused.json()["code"], refused.json()["title"]) == (
        "method_not_allowed",
        "Method not allowed",
    )
