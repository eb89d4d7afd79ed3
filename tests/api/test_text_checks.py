"""The text checks of request values, one source for every route (app.api.text_checks): a
name is one line of storable text wherever it is given (a key's, a subscription's), form
text may span lines, and what PostgreSQL cannot store is a 422 naming the field."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.text_checks import MULTI_LINE, NOT_BLANK, SINGLE_LINE, storable

Headers = Callable[..., dict[str, str]]


@pytest.mark.parametrize(
    ("pattern", "accepted", "refused"),
    [
        (SINGLE_LINE, ["Frontière l'Est", ""], ["a\x00b", "a\tb", "a\nb", "a\rb", "x\x7f"]),
        (MULTI_LINE, ["a\tb", "a\r\nb", "Été"], ["a\x00b", "\x1b[31m", "x\x7f", "a\x0bb"]),
        (NOT_BLANK, ["a", " a\tb "], ["", "  ", "\t\n", "a\x00b"]),
    ],
)
def test_the_patterns(pattern: str, accepted: list[str], refused: list[str]) -> None:
    assert all(re.fullmatch(pattern, text) for text in accepted)
    assert not any(re.fullmatch(pattern, text) for text in refused)


def test_storable_text_has_no_nul_and_no_lone_surrogate() -> None:
    assert storable("Frontière 🙂") == "Frontière 🙂"
    with pytest.raises(ValueError, match="NUL"):
        storable("a\x00b")
    with pytest.raises(ValueError, match="surrogate"):
        storable("a\ud800b")


def _post_json(
    client: TestClient, url: str, headers: dict[str, str], payload: object
) -> httpx.Response:
    # json.dumps writes \u0000 and \ud800 as escapes, as a client sends them
    return client.post(
        url, content=json.dumps(payload), headers={**headers, "content-type": "application/json"}
    )


NAMES = ["a\x00b", "a\ud800b", "line\nbreak", "tab\there", "del\x7f"]


@pytest.mark.parametrize("name", NAMES)
def test_a_key_name_is_one_line_of_storable_text(
    client: TestClient, api_key: Headers, name: str
) -> None:
    answer = _post_json(client, "/keys", api_key("admin"), {"name": name, "role": "researcher"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["column"] == "name"


@pytest.mark.parametrize("name", NAMES)
def test_a_subscription_name_is_checked_as_a_key_name(
    client: TestClient, api_key: Headers, name: str
) -> None:
    """A tab or a line break in a subscription's name was accepted (its own check allowed
    them, a key's name refused them); both names are now one line."""
    payload = {"name": name, "criteria": {}, "events": ["site.created"]}
    answer = _post_json(client, "/subscriptions", api_key("authority"), payload)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["column"] == "name"


def test_a_subscription_name_with_accents_and_apostrophes_is_stored(
    client: TestClient, api_key: Headers
) -> None:
    payload = {"name": "Frontière l'Est", "criteria": {}, "events": ["site.created"]}
    answer = _post_json(client, "/subscriptions", api_key("authority"), payload)
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == "Frontière l'Est"


def test_form_text_may_span_lines(client: TestClient, api_key: Headers) -> None:
    answer = client.post(
        "/uploads",
        headers=api_key("researcher"),
        files={"file": ("a.csv", b"name,lat,lon\nBania,3.9,16.1\n")},
        data={"kind": "mine", "source": "team A\tcampaign 2024\r\nsecond line", "dry_run": "true"},
    )
    assert answer.status_code == 200, answer.text
