"""Subscriptions with the ``zone`` / ``in_zone`` criteria: events only for the sites inside
(or, ``in_zone=false``, outside) the zone set or zone, for uploads, creations and moves; an
unknown zone is a 422 naming ``criteria.zone``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.api.test_zones import points_file, upload, zones_file
from tests.geo.test_zones import BOW_TIE, TWO_PARTS, WITH_HOLE
from tests.support.sites import site_feature

Headers = Callable[..., dict[str, str]]
ITEMS = "/collections/sites/items"
INSIDE = [(15.05, 4.05), (15.35, 4.35)]  # in Holey (not in its hole)
TWINS = (15.7, 4.1)  # in Twins
OUTSIDE = [(15.2, 4.2), (14.5, 3.5)]  # in Holey's hole; in no zone


def _zone_set(client: TestClient, writer: dict[str, str]) -> str:
    made = upload(
        client, writer, "z.geojson", zones_file([WITH_HOLE, TWO_PARTS, BOW_TIE]),
        target="zones", zone_type="concession", zone_set="Watched",
    )  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["zone_set"]["id"])


def _subscribe(client: TestClient, headers: dict[str, str], criteria: dict[str, Any]) -> Any:
    body = {"name": "zone watch", "criteria": criteria, "events": ["site.created", "site.entered"]}
    return client.post("/subscriptions", json=body, headers=headers)


def _events(client: TestClient, headers: dict[str, str], sub: str) -> list[tuple[str, str]]:
    events = client.get(f"/subscriptions/{sub}/events", headers=headers).json()["events"]
    return sorted(
        (e["payload"]["type"], e["payload"]["data"]["properties"]["name"]) for e in events
    )


@pytest.mark.parametrize("by", ["set id", "set name"])
def test_zone_criteria_match_only_the_sites_inside(
    client: TestClient, api_key: Headers, by: str
) -> None:
    authority, writer = api_key("authority"), api_key("researcher")
    set_id = _zone_set(client, writer)
    inside = _subscribe(client, authority, {"zone": set_id if by == "set id" else "watched"})
    outside = _subscribe(client, authority, {"zone": [set_id], "in_zone": False})
    assert inside.status_code == 201 and outside.status_code == 201, inside.text + outside.text
    points = [*INSIDE, *OUTSIDE]
    assert upload(client, writer, "s.geojson", points_file(points)).status_code == 201
    created = "site.created"
    assert _events(client, authority, inside.json()["id"]) == [(created, "S0"), (created, "S1")]
    assert _events(client, authority, outside.json()["id"]) == [(created, "S2"), (created, "S3")]


def test_a_zone_id_criterion_and_created_and_moved_sites(
    client: TestClient, session: Session, api_key: Headers
) -> None:
    authority, writer = api_key("authority"), api_key("researcher")
    _zone_set(client, writer)
    zone = session.execute(text("SELECT public_id FROM zones WHERE name = 'Twins'")).scalar_one()
    sub = _subscribe(client, authority, {"zone": zone}).json()["id"]
    outside = _subscribe(client, authority, {"in_zone": "false"}).json()["id"]
    assert client.post(ITEMS, json=site_feature(*TWINS, name="in"), headers=writer).is_success
    far = client.post(ITEMS, json=site_feature(*INSIDE[0], name="moved"), headers=writer)
    assert far.status_code == 201, far.text
    assert _events(client, authority, sub) == [("site.created", "in")]
    assert _events(client, authority, outside) == []  # both are inside a zone set
    site = far.json()["id"]
    moved = client.patch(
        f"{ITEMS}/{site}",
        json={"geometry": {"type": "Point", "coordinates": list(TWINS)}},
        headers={
            **writer,
            "If-Match": client.get(f"{ITEMS}/{site}").headers["etag"],
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert moved.status_code == 200, moved.text
    assert _events(client, authority, sub) == [("site.created", "in"), ("site.entered", "moved")]


@pytest.mark.parametrize(
    ("criteria", "column"),
    [
        ({"zone": "ZS-nope"}, "criteria.zone"),
        ({"zone": ["Watched", "no such set"]}, "criteria.zone"),
        ({"zone": True}, "criteria.zone"),
        ({"in_zone": "maybe"}, "criteria.in_zone"),
    ],
)
def test_bad_zone_criteria_are_422_naming_them(
    client: TestClient, api_key: Headers, criteria: dict[str, Any], column: str
) -> None:
    _zone_set(client, api_key("researcher"))
    answer = _subscribe(client, api_key("authority"), criteria)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["column"] == column
