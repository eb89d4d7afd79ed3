"""No body a writer can send makes ``POST /collections/sites/items`` answer 500: text that
PostgreSQL cannot store, JSON that the writers cannot serialise, spellings with stray blanks,
bytes that are not JSON. Each is a 4xx problem detail naming the member."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.collections.parsing import BIGINT_MAX

URL = "/collections/sites/items"
Headers = Callable[..., dict[str, str]]


def feature(**properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [15.8, 4.3]},
        "properties": {"kind": "mine", "name": "x", **properties},
    }


def deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        node = {"k": node}
    return node


@pytest.mark.parametrize(
    "properties",
    [
        {"name": "a\x00b"},
        {"name": "a\x07b"},
        {"aliases": ["ok", "a\x00b"]},
        {"minerals": ["gold", "\x00"]},
        {"source": "team\x00A"},
        {"location_origin": "\x00"},
        {"country": "C\x00M"},
        {"attributes": {"k": "a\x00b"}},
        {"attributes": {"a\x00b": 1}},
        {"restricted": {"k": ["ok", {"deeper": "\x00"}]}},
        {"attributes": {"k": 2**64}},
        {"restricted": {"k": [-(2**63) - 1]}},
        {"attributes": {"k": 10**40}},
        {"attributes": deep(40)},
        # numbers are JSON numbers: lax parsing once stored "12" and true as accuracies
        {"accuracy_m": "12"},
        {"accuracy_m": True},
        # a date is YYYY-MM-DD text: lax parsing stored 0 as 1970-01-01, numbers as Unix times
        {"observed_on": 0},
        {"observed_on": 1700006400},
        {"observed_on": "1700006400"},
        {"observed_on": "2024-03-05T10:00:00"},
        {"observed_on": "20240305"},
    ],
)
def test_unstorable_members_are_422(
    client: TestClient, api_key: Headers, properties: dict[str, Any]
) -> None:
    response = client.post(URL, json=feature(**properties), headers=api_key("researcher"))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_body"
    member = next(iter(properties))
    assert any(member in (item.get("column") or "") for item in body["errors"])


def test_a_date_as_text_is_stored_and_a_patch_is_as_strict(
    client: TestClient, api_key: Headers
) -> None:
    writer = api_key("researcher")
    made = client.post(URL, json=feature(observed_on="2024-03-05"), headers=writer)
    assert made.status_code == 201, made.text
    assert made.json()["properties"]["first_observed"] == "2024-03-05"
    patch = client.patch(
        f"{URL}/{made.json()['id']}",
        json={"properties": {"observed_on": 86400}},
        headers={
            **writer,
            "If-Match": made.headers["etag"],
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert patch.status_code == 422, patch.text


def test_a_bbox_of_strings_is_422(client: TestClient, api_key: Headers) -> None:
    body = {**feature(), "bbox": ["15.8", "4.3", "15.8", "4.3"]}
    response = client.post(URL, json=body, headers=api_key("researcher"))
    assert response.status_code == 422, response.text
    assert any("bbox" in (item.get("column") or "") for item in response.json()["errors"])


def test_integers_within_64_bits_are_stored(client: TestClient, api_key: Headers) -> None:
    attributes = {"max": BIGINT_MAX, "min": -BIGINT_MAX, "nested": deep(10)}
    response = client.post(URL, json=feature(attributes=attributes), headers=api_key("admin"))
    assert response.status_code == 201, response.text
    assert response.json()["properties"]["attributes"] == attributes


@pytest.mark.parametrize("spelling", [" xyz", "xyz ", "  xyz\t", " x y z "])
def test_unknown_minerals_with_stray_blanks_are_named(
    client: TestClient, api_key: Headers, spelling: str
) -> None:
    response = client.post(
        URL, json=feature(minerals=["gold", spelling]), headers=api_key("researcher")
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "unknown_mineral"
    assert body["errors"][0]["column"] == "properties.minerals[1]"


@pytest.mark.parametrize("spelling", [" gold", "gold ", " Or ", "\tdiamant"])
def test_known_minerals_with_stray_blanks_are_normalised(
    client: TestClient, api_key: Headers, spelling: str
) -> None:
    response = client.post(URL, json=feature(minerals=[spelling]), headers=api_key("researcher"))
    assert response.status_code == 201, response.text
    assert response.json()["properties"]["minerals"] in (["gold"], ["diamond"])


@pytest.mark.parametrize("raw", [b"\xff\xfeoi", b"{", b"", b'{"type": "Feature",}'])
def test_bytes_that_are_not_json_are_a_problem(
    client: TestClient, api_key: Headers, raw: bytes
) -> None:
    headers = {**api_key("researcher"), "Content-Type": "application/json"}
    response = client.post(URL, content=raw, headers=headers)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_body"


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    text=st.text(st.characters(codec="utf-8"), max_size=20),
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    ),
)
def test_any_name_and_attribute_is_stored_or_refused(
    client: TestClient, api_key: Headers, text: str, value: Any
) -> None:
    body = feature(name=text or "x", aliases=[text], attributes={text: value})
    headers = {**api_key("researcher"), "Content-Type": "application/json"}
    response = client.post(URL, content=json.dumps(body), headers=headers)
    assert response.status_code in (201, 422), response.text
