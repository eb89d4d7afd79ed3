"""Items: paging by next/prev links, numberMatched, filters, and 400s for bad parameters."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.queries import Caller
from app.services.boundary_state import BoundaryCache
from app.services.sites import SiteDraft, create_sites
from tests.support.geojson import assert_feature_collection

URL = "/collections/sites/items"
ADMIN = Caller(role="admin", name="tests")


def add_sites(session: Session, drafts: list[SiteDraft]) -> list[str]:
    state = BoundaryCache().current(session)
    assert state is not None
    return [c.public_id for c in create_sites(session, state, drafts, ADMIN)]


def grid(n: int, **fields: Any) -> list[SiteDraft]:
    """n sites on a small grid inside CAR (around 18.5E, 6N)."""
    return [
        SiteDraft(
            name=f"grid {i}",
            lon=18.0 + (i % 10) * 0.05,
            lat=6.0 + (i // 10) * 0.05,
            **{"kind": "mine", **fields},
        )
        for i in range(n)
    ]


def link(body: dict[str, Any], rel: str) -> Any:
    return next((item for item in body["links"] if item["rel"] == rel), None)


def follow(client: TestClient, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    body = client.get(url, params=params).json()
    pages.append(body)
    while next_link := link(body, "next"):
        response = client.get(next_link["href"])
        assert response.status_code == 200
        body = response.json()
        pages.append(body)
        assert len(pages) < 100
    return pages


def test_paging_reaches_every_feature_once(client: TestClient, session: Session) -> None:
    ids = add_sites(session, grid(25))
    pages = follow(client, URL, {"limit": 10})
    assert [p["numberReturned"] for p in pages] == [10, 10, 5]
    assert all(p["numberMatched"] == 25 for p in pages)
    seen = [f["id"] for p in pages for f in p["features"]]
    assert sorted(seen) == sorted(ids)
    for page in pages:
        assert_feature_collection(page)
    assert link(pages[0], "prev") is None
    assert link(pages[-1], "next") is None


def test_prev_link_returns_the_previous_page(client: TestClient, session: Session) -> None:
    add_sites(session, grid(25))
    pages = follow(client, URL, {"limit": 10})
    back = client.get(link(pages[2], "prev")["href"]).json()
    assert [f["id"] for f in back["features"]] == [f["id"] for f in pages[1]["features"]]
    first = client.get(link(back, "prev")["href"]).json()
    assert [f["id"] for f in first["features"]] == [f["id"] for f in pages[0]["features"]]
    assert link(first, "prev") is None


def test_bbox_filter(client: TestClient, session: Session) -> None:
    add_sites(session, grid(20))
    body = client.get(URL, params={"bbox": "17.99,5.99,18.11,6.01", "limit": 100}).json()
    assert body["numberMatched"] == 3
    for feature in body["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert 17.99 <= lon <= 18.11 and 5.99 <= lat <= 6.01


def test_kind_mineral_country_filters(client: TestClient, session: Session) -> None:
    add_sites(
        session,
        [
            SiteDraft(kind="sales_point", name="a", lon=15.79, lat=4.26, minerals=["diamant"]),
            SiteDraft(kind="mine", name="b", lon=15.80, lat=4.27, minerals=["gold"]),
            SiteDraft(kind="sales_point", name="c", lon=14.36, lat=4.43, minerals=["diamond"]),
        ],
    )

    def names(**params: str) -> set[str]:
        body = client.get(URL, params={**params, "limit": 100}).json()
        return {f["properties"]["name"] for f in body["features"]}

    assert names(kind="sales_point") == {"a", "c"}
    assert names(mineral="diamond") == {"a", "c"}
    assert names(mineral="Diamant") == {"a", "c"}, "vocabulary synonyms work in filters"
    assert names(country="CMR") == {"c"}
    assert names(country="caf,cmr", kind="mine") == {"b"}
    assert names(mineral="gold,diamond", country="CAF") == {"a", "b"}


def test_datetime_filter(client: TestClient, session: Session) -> None:
    import datetime as dt

    add_sites(
        session,
        [
            SiteDraft(
                kind="mine",
                name=str(year),
                lon=18.0,
                lat=6.0 + i * 0.01,
                observed_on=dt.date(year, 6, 1),
            )
            for i, year in enumerate((2019, 2020, 2021))
        ]
        + [SiteDraft(kind="mine", name="undated", lon=18.0, lat=6.5)],
    )

    def names(value: str) -> set[str]:
        body = client.get(URL, params={"datetime": value, "limit": 100}).json()
        return {f["properties"]["name"] for f in body["features"]}

    assert names("2020-01-01T00:00:00Z/2020-12-31T23:59:59Z") == {"2020"}
    assert names("../2020-06-01") == {"2019", "2020"}
    assert names("2020-06-02/..") == {"2021"}
    assert names("2021-06-01") == {"2021"}


def test_item_by_id_and_unknown_item(client: TestClient, session: Session) -> None:
    (site_id,) = add_sites(session, grid(1))
    response = client.get(f"{URL}/{site_id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    assert response.json()["id"] == site_id
    missing = client.get(f"{URL}/BL-0000000000")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_borders_and_countries_items(client: TestClient) -> None:
    borders = client.get("/collections/borders/items", params={"limit": 200}).json()
    assert_feature_collection(borders)
    codes = {f["id"] for f in borders["features"]}
    assert {"CAF-CMR", "CAF-COD", "CAF-COG", "CAF-TCD", "CAF-SSD", "CAF-SDN"} <= codes
    caf_cmr = client.get("/collections/borders/items/CAF-CMR").json()
    assert caf_cmr["properties"]["length_km"] > 500
    countries = client.get("/collections/countries/items", params={"bbox": "15,4,16,5"}).json()
    assert {f["id"] for f in countries["features"]} >= {"CAF", "CMR"}


BAD_PARAMS: dict[str, dict[str, str]] = {
    "bbox with 3 numbers": {"bbox": "1,2,3"},
    "bbox not numbers": {"bbox": "a,b,c,d"},
    "bbox latitude out of range": {"bbox": "10,-95,20,5"},
    "bbox lat/lon swapped past 90": {"bbox": "4,100,5,120"},
    "bbox upside down": {"bbox": "10,5,20,4"},
    # decimal numbers in ASCII digits only (Python's float() read these)
    "bbox with an underscore": {"bbox": "1_0,0,20,20"},
    "bbox in Arabic-Indic digits": {"bbox": "\u0661\u0665,4,16,5"},
    "within_km with an underscore": {"within_km": "1_0"},
    "within_km nan": {"within_km": "nan"},
    "limit 0": {"limit": "0"},
    "limit negative": {"limit": "-5"},
    "limit not a number": {"limit": "ten"},
    "unknown parameter": {"colour": "red"},
    "unknown kind": {"kind": "volcano"},
    "unknown mineral": {"mineral": "unobtainium"},
    "unknown country": {"country": "XYZ"},
    "bad datetime": {"datetime": "yesterday"},
    "backwards interval": {"datetime": "2021-01-01/2020-01-01"},
    "forged cursor": {"cursor": "not-a-cursor"},
    "cursor of another type": {"cursor": "eyJrIjpbImEiXSwiYiI6ZmFsc2UsIm4iOm51bGx9"},
    "cursor direction not a boolean": {"cursor": "eyJrIjogWzFdLCAiYiI6ICJ5ZXMiLCAibiI6IDR9"},
    # a date sort key is checked as a date (PostgreSQL refused these: 500)
    "date cursor not a date": {
        "sortby": "first_observed",
        "cursor": "eyJrIjogWyIyMDIxLTAyLTMwIiwgMV0sICJiIjogZmFsc2UsICJuIjogNH0",
    },
    "date cursor of words": {
        "sortby": "-last_observed",
        "cursor": "eyJrIjogWyJub3RhZGF0ZSIsIDFdLCAiYiI6IGZhbHNlLCAibiI6IDR9",
    },
    "date cursor empty": {
        "sortby": "first_observed",
        "cursor": "eyJrIjogWyIiLCAxXSwgImIiOiBmYWxzZSwgIm4iOiA0fQ",
    },
    "date cursor as a date-time": {
        "sortby": "last_observed",
        "cursor": "eyJrIjogWyIyMDIxLTAyLTAzVDAwOjAwOjAwIiwgMV0sICJiIjogZmFsc2UsICJuIjogNH0",
    },
    "unknown format": {"f": "xml"},
    "unknown language": {"f": "html", "lang": "de"},
}


@pytest.mark.parametrize("params", BAD_PARAMS.values(), ids=BAD_PARAMS.keys())
def test_bad_parameters_are_400_problems(client: TestClient, params: dict[str, str]) -> None:
    response = client.get(URL, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400 and problem["code"] and problem["detail"]


def test_site_filters_are_unknown_on_other_collections(client: TestClient) -> None:
    assert client.get("/collections/borders/items", params={"kind": "mine"}).status_code == 400
