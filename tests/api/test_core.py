"""The collection layer as clients see it: every provider behind the same core routes.

Limits above the maximum, ``datetime`` on collections without time, RFC 3339 spelling,
``Link`` headers, extents of each collection's own data, per-collection API paths, and
parameters that must never reach the database as a 500.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import collections as registry
from app.services.sites import SiteDraft
from app.settings import Settings
from tests.api.test_items import add_sites, grid

Headers = Callable[..., dict[str, str]]


def cursor_of(values: list[Any]) -> str:
    raw = json.dumps({"k": values, "b": False, "n": None}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("asked", ["10001", "50000", str(2**70)])
def test_limit_above_the_maximum_serves_the_maximum(
    client: TestClient, session: Session, settings: Settings, asked: str
) -> None:
    add_sites(session, grid(3))
    response = client.get("/collections/sites/items", params={"limit": asked})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["numberReturned"] == 3
    # the next link (if any) and the self link keep what was asked; pages hold <= the maximum
    assert body["numberReturned"] <= settings.items_max_limit


@pytest.mark.parametrize("asked", ["0", "-1", "abc", "1.5", ""])
def test_limit_below_one_or_not_a_number_is_400(client: TestClient, asked: str) -> None:
    response = client.get("/collections/sites/items", params={"limit": asked})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_parameter"


def test_the_api_declares_limit_per_collection(client: TestClient, settings: Settings) -> None:
    paths = client.get("/api").json()["paths"]
    for provider in registry.PROVIDERS:
        operation = paths[f"/collections/{provider.id}/items"]["get"]
        limit = next(p for p in operation["parameters"] if p["name"] == "limit")
        assert limit["schema"] == {
            "type": "integer",
            "minimum": 1,
            "maximum": settings.items_max_limit,
            "default": settings.items_default_limit,
        }
        names = {p["name"] for p in operation["parameters"]}
        assert {param.name for param in provider.parameters} <= names
        assert f"/collections/{provider.id}/items/{{featureId}}" in paths
    assert "/collections/{collectionId}/items" not in paths


@pytest.mark.parametrize("collection", ["borders", "countries", "clusters", "disputed-areas"])
def test_datetime_on_a_collection_without_time_matches_everything(
    client: TestClient, collection: str
) -> None:
    everything = client.get(f"/collections/{collection}/items", params={"limit": 1000}).json()
    dated = client.get(
        f"/collections/{collection}/items",
        params={"limit": 1000, "datetime": "2020-01-01T00:00:00Z/.."},
    ).json()
    assert dated["numberReturned"] == everything["numberReturned"]


@pytest.mark.parametrize(
    "spelling",
    [
        "2024-03-05T00:00:00Z",
        "2024-03-05t00:00:00z",
        "2024-03-05T00:00:00+01:00",
        "2024-03-05",
        "2024-03-05t10:00:00.5Z/..",
        "../2024-03-05T10:00:00z",
    ],
)
def test_rfc3339_times_in_either_case(client: TestClient, session: Session, spelling: str) -> None:
    response = client.get("/collections/sites/items", params={"datetime": spelling})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "spelling",
    [
        "2024-13-05",
        "yesterday",
        "2024-03-05T25:00:00Z",
        "05/03/2024",
        # no offset: RFC 3339 has no local time (they were read as UTC)
        "2024-03-05T10:00:00",
        "2024-03-05t10:00:00.5/..",
        "../2024-03-05 10:00:00",
    ],
)
def test_bad_times_are_400(client: TestClient, spelling: str) -> None:
    response = client.get("/collections/sites/items", params={"datetime": spelling})
    assert response.status_code == 400
    assert "datetime" in response.json()["detail"]


@pytest.mark.parametrize("parameter", ["datetime", "as_of"])
def test_a_date_time_without_its_offset_is_named(client: TestClient, parameter: str) -> None:
    response = client.get("/collections/sites/items", params={parameter: "2024-03-05T10:00:00"})
    assert response.status_code == 400
    assert "needs its offset" in response.json()["detail"]


def test_paging_links_travel_as_link_headers(client: TestClient, session: Session) -> None:
    add_sites(session, grid(5))
    first = client.get("/collections/sites/items", params={"limit": 2})
    header = first.headers["link"]
    next_href = next(x["href"] for x in first.json()["links"] if x["rel"] == "next")
    assert f'<{next_href}>; rel="next"; type="application/geo+json"' in header
    second = client.get(next_href)
    assert 'rel="prev"' in second.headers["link"] and 'rel="next"' in second.headers["link"]


def test_each_collection_extent_is_its_own_data(client: TestClient, session: Session) -> None:
    add_sites(session, grid(12))
    sites = client.get("/collections/sites").json()["extent"]["spatial"]["bbox"][0]
    assert sites == pytest.approx([18.0, 6.0, 18.45, 6.05], abs=1e-6)
    borders = client.get("/collections/borders").json()["extent"]["spatial"]["bbox"][0]
    countries = client.get("/collections/countries").json()["extent"]["spatial"]["bbox"][0]
    assert borders != countries
    assert countries[0] <= borders[0] and borders[2] <= countries[2]


HOSTILE_READS = {
    "cursor beyond 64 bits": ("/collections/sites/items", {"cursor": cursor_of([2**63])}),
    "cursor far beyond 64 bits": ("/collections/sites/items", {"cursor": cursor_of([10**40])}),
    "cursor with a NUL": ("/collections/borders/items", {"cursor": cursor_of(["a\x00b"])}),
    "cursor matched out of range": (
        "/collections/sites/items",
        {"cursor": base64.urlsafe_b64encode(b'{"k":[1],"b":false,"n":1e400}').decode()},
    ),
    "tiny eps_km": ("/collections/clusters/items", {"eps_km": "0.01"}),
    "huge eps_km": ("/collections/clusters/items", {"eps_km": "1e308"}),
    "min_sites beyond 64 bits": ("/collections/clusters/items", {"min_sites": "9" * 30}),
    "huge within_km": ("/collections/sites/items", {"within_km": "1e309"}),
    "NUL in a filter value": ("/collections/sites/items", {"kind": "mine\x00"}),
    "NUL in bbox": ("/collections/sites/items", {"bbox": "1,2,3,4\x00"}),
    "unknown parameter with NUL": ("/collections/sites/items", {"a\x00": "b"}),
    "sortby unknown": ("/collections/sites/items", {"sortby": "-secret"}),
    "repeated parameter": ("/collections/sites/items?limit=1&limit=2", {}),
}


@pytest.mark.parametrize(("path", "params"), HOSTILE_READS.values(), ids=HOSTILE_READS.keys())
def test_hostile_parameters_are_400_never_500(
    client: TestClient, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params or None)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("collection", [p.id for p in registry.PROVIDERS])
@pytest.mark.parametrize("feature_id", ["%00", "a%00b", "x" * 64, "%E2%80%AE", "..%2F..%2Fetc"])
def test_odd_feature_ids_are_404(client: TestClient, collection: str, feature_id: str) -> None:
    response = client.get(f"/collections/{collection}/items/{feature_id}")
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_huge_within_km_on_the_map_draws_no_band(client: TestClient, session: Session) -> None:
    add_sites(session, grid(2))
    for within in ("10000", "19999"):
        response = client.get("/maps/sites", params={"within_km": within})
        assert response.status_code == 200, response.text


def test_clusters_filter_and_page_in_sql(client: TestClient, session: Session) -> None:
    add_sites(session, grid(30))  # 0.05 degrees apart: one cluster at 10 km, none at 1 km
    one = client.get("/collections/clusters/items", params={"eps_km": "10"}).json()
    assert one["numberReturned"] == 1 and one["numberMatched"] == 1
    assert one["features"][0]["properties"]["member_count"] == 30
    assert one["clustering"]["eps_km_asked"] == 10
    none = client.get("/collections/clusters/items", params={"eps_km": "1"}).json()
    assert none["numberReturned"] == 0
    cross = client.get(
        "/collections/clusters/items", params={"eps_km": "10", "cross_border_only": "true"}
    ).json()
    assert cross["numberReturned"] == 0
    add_sites(
        session,
        [SiteDraft(name=f"t{i}", kind="mine", lon=16 + i * 0.01, lat=4.0) for i in range(4)],
    )
    default = client.get("/collections/clusters/items").json()
    tight = next(f for f in default["features"] if f["properties"]["member_count"] == 4)
    again = client.get(f"/collections/clusters/items/{tight['id']}").json()
    assert again["id"] == tight["id"] and again["properties"] == tight["properties"]


def test_sortby_last_observed_descending_pages_in_order(
    client: TestClient, session: Session
) -> None:
    import datetime as dt

    drafts = [
        SiteDraft(
            name=f"dated {i}",
            kind="mine",
            lon=16 + i * 0.3,
            lat=4.0,
            observed_on=dt.date(2020, 1, 1) + dt.timedelta(days=37 * i) if i % 4 else None,
        )
        for i in range(9)
    ]
    add_sites(session, drafts)
    seen: list[str | None] = []
    url: str | None = "/collections/sites/items?sortby=-last_observed&limit=2"
    while url:
        body = client.get(url).json()
        seen += [f["properties"]["last_observed"] for f in body["features"]]
        url = next((x["href"] for x in body["links"] if x["rel"] == "next"), None)
    dated = [d for d in seen if d is not None]
    assert len(seen) == 9 and dated == sorted(dated, reverse=True)
    assert seen[len(dated) :] == [None] * (len(seen) - len(dated)), "undated sites come last"
