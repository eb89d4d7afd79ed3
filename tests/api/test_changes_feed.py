"""``/collections/sites/changes``: what changed since a token, retirements included, paged,
as the caller may see it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.support.sites import BATOURI_CMR, site_feature

URL = "/collections/sites/changes"


def _all(client: TestClient, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    features: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    while url:
        answer = client.get(url, headers=headers or {})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/geo+json")
        page = answer.json()
        first = first or page
        features.extend(page["features"])
        url = page.get("next", "")
    assert first is not None
    return {**first, "features": features}


def test_the_feed_pages_through_changes_and_says_where_to_start_next(
    client: TestClient, api_key: Callable[..., dict[str, str]]
) -> None:
    writer = api_key("researcher")
    ids = []
    for i in range(5):
        created = client.post(
            "/collections/sites/items",
            json=site_feature(BATOURI_CMR[0] + i * 0.01, BATOURI_CMR[1], name=f"S{i}"),
            headers=writer,
        )
        ids.append(created.json()["id"])
    # Inside the test's one transaction nothing of ours has "finished": the horizon says so.
    feed = _all(client, f"{URL}?since=0&limit=2")
    assert feed["since"] == 0 and isinstance(feed["until"], int)
    assert {f["id"] for f in feed["features"]} <= set(ids)


def test_other_collections_have_no_feed_and_bad_tokens_are_400(client: TestClient) -> None:
    assert client.get("/collections/borders/changes").json()["code"] == "no_changes_feed"
    assert client.get(f"{URL}?since=abc").status_code == 400
    assert client.get(f"{URL}?after=1").status_code == 400
