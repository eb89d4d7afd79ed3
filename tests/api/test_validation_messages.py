"""A refused request value is told what is allowed, in words (app.api.validation_messages):
a vocabulary as the list of its values, a pattern as what it means, never the regular
expression nor pydantic's phrasing ("String should match pattern '^(a|b)$'")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from app.api.contract import api_routes
from app.api.text_checks import pattern_description

Headers = Callable[..., dict[str, str]]
FALLBACK = pattern_description("no pattern anyone declared")


def _fields(dependant: Dependant) -> Iterator[Any]:
    yield from (*dependant.query_params, *dependant.header_params, *dependant.path_params)
    yield from (*dependant.cookie_params, *dependant.body_params)
    for sub in dependant.dependencies:
        yield from _fields(sub)


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_every_pattern_a_route_checks_has_words(app: FastAPI) -> None:
    """Each pattern of a parameter, form field or body member (pydantic checks them) is a
    list of values or one of app.api.text_checks.DESCRIPTIONS."""
    seen: dict[str, str] = {}
    for route in api_routes(app.routes):
        for field in _fields(route.dependant):
            info = field.field_info
            checked = (info.annotation, *info.metadata)
            kind = Annotated[checked] if info.metadata else info.annotation
            for pattern in _patterns(TypeAdapter(kind).json_schema()):
                seen[pattern] = f"{route.path} {field.name}"
    assert len(seen) >= 8, seen  # the walk found them
    wordless = {where: p for p, where in seen.items() if pattern_description(p) == FALLBACK}
    assert not wordless, wordless


def _problem(answer: Any, status: int = 400) -> tuple[str, dict[str, Any]]:
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert "should match" not in answer.text and "^" not in answer.text, problem
    return problem["detail"], problem["errors"][0]


def _subscription(client: TestClient, headers: dict[str, str]) -> str:
    payload = {"name": "watch", "criteria": {}, "events": ["site.created"]}
    answer = client.post("/subscriptions", json=payload, headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_an_events_status_names_the_statuses(client: TestClient, api_key: Headers) -> None:
    headers = api_key("authority")
    url = f"/subscriptions/{_subscription(client, headers)}/events?status=bogus"
    detail, item = _problem(client.get(url, headers=headers))
    assert detail == "status: one of pending, delivered, dead, stream"
    assert item == {
        "code": "literal_error",
        "message": "one of pending, delivered, dead, stream",
        "column": "status",
    }


@pytest.mark.parametrize(
    ("query", "detail"),
    [("f=xml", "f: one of json, html"), ("lang=de", "lang: one of en, fr, pt")],
)
def test_the_subscriptions_page_parameters_name_their_values(
    client: TestClient, api_key: Headers, query: str, detail: str
) -> None:
    answer = client.get(f"/subscriptions?{query}", headers=api_key("authority"))
    assert _problem(answer)[0] == detail


def test_a_last_event_id_says_what_an_event_id_is(client: TestClient, api_key: Headers) -> None:
    answer = client.get("/events", headers={**api_key("authority"), "Last-Event-ID": "-1"})
    assert _problem(answer)[0] == (
        "Last-Event-ID: a non-negative integer event id, at most 9223372036854775807"
    )


def test_a_dead_letter_id_says_what_an_event_id_is(client: TestClient, api_key: Headers) -> None:
    headers = api_key("authority")
    url = f"/subscriptions/{_subscription(client, headers)}/redeliver?event=msg_1"
    detail = _problem(client.post(url, headers=headers))[0]
    assert detail == "event: an event id: msg_ and 32 lowercase hexadecimal digits"


def test_a_country_says_what_a_country_code_is(client: TestClient, api_key: Headers) -> None:
    answer = client.get("/audit?country=cmr", headers=api_key("admin"))
    assert _problem(answer)[0] == (
        "country: an ISO 3166-1 alpha-3 country code in capitals, e.g. CMR"
    )


def test_a_change_token_says_what_it_is(client: TestClient) -> None:
    answer = client.get("/collections/sites/changes?since=yesterday")
    assert _problem(answer)[0] == "since: a change token: a whole number of up to 18 digits"


def test_a_body_member_is_told_in_words_too(client: TestClient, api_key: Headers) -> None:
    answer = client.post("/keys", json={"name": "a\tb", "role": "boss"}, headers=api_key("admin"))
    detail, _ = _problem(answer, 422)
    assert detail == (
        "name: text on one line, without control characters; "
        "role: one of admin, researcher, authority"
    )


def test_a_value_error_is_told_without_pydantic_s_prefix(
    client: TestClient, api_key: Headers
) -> None:
    body = {"name": "k", "role": "researcher", "expires_at": 1700000000}
    detail, item = _problem(client.post("/keys", json=body, headers=api_key("admin")), 422)
    assert detail == ("expires_at: a time is ISO 8601 text with its offset (2027-01-31T00:00:00Z)")
    assert item["code"] == "value_error"


def test_a_lone_surrogate_is_told_as_such(client: TestClient, api_key: Headers) -> None:
    answer = client.post(
        "/keys",
        content=b'{"name": "a\\ud800", "role": "researcher"}',
        headers={**api_key("admin"), "content-type": "application/json"},
    )
    detail, _ = _problem(answer, 422)
    assert detail == "name: a lone surrogate (\\ud800-\\udfff) is not text"


def test_a_form_enum_names_its_values(client: TestClient, api_key: Headers) -> None:
    answer = client.post(
        "/uploads",
        headers=api_key("researcher"),
        files={"file": ("a.csv", b"name,lat,lon\nBania,3.9,16.1\n")},
        data={"kind": "castle"},
    )
    detail, item = _problem(answer, 422)
    assert detail.startswith("kind: one of mine, ") and item["column"] == "kind"
