"""Zones through the API: ``POST /uploads`` with ``target=zones``, the ``zones`` collection, and
every site classified exactly as a brute-force shapely check and an independent geodesic
computation say; a changed zone rewrites only the answers that changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import Point, mapping
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.zones import repair
from tests.geo.test_zones import (
    BOW_TIE,
    TWO_PARTS,
    WITH_HOLE,
    independent_edge_distance_m,
)

Headers = Callable[..., dict[str, str]]

GRID = [(14.95 + 0.1 * i, 3.95 + 0.1 * j) for i in range(11) for j in range(11)]


def points_file(points: list[tuple[float, float]], prefix: str = "S") -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"name": f"{prefix}{k}", "kind": "mine"},
        }
        for k, (lon, lat) in enumerate(points)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def zones_file(geometries: list[Any], extra: list[dict[str, Any]] | None = None) -> bytes:
    names = ["Holey", "Twins", "Bow-tie"]
    features = [
        {"type": "Feature", "geometry": mapping(g), "properties": {"name": name}}
        for name, g in zip(names, geometries, strict=True)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features + (extra or [])}).encode()


def upload(
    client: TestClient, headers: dict[str, str], name: str, data: bytes, **fields: Any
) -> Any:
    return client.post("/uploads", files={"file": (name, data)}, data=fields, headers=headers)


def classification(session: Session, set_public_id: str) -> dict[str, tuple[Any, ...]]:
    rows = session.execute(
        text(
            """
            SELECT s.public_id, ST_X(s.geom), ST_Y(s.geom), sz.inside, z.name,
                   sz.edge_distance_m, sz.classified_at
            FROM site_zones sz JOIN sites s ON s.id = sz.site_id
            JOIN zone_sets zs ON zs.id = sz.zone_set_id LEFT JOIN zones z ON z.id = sz.zone_id
            WHERE zs.public_id = :set
            """
        ),
        {"set": set_public_id},
    )
    return {row[0]: tuple(row[1:]) for row in rows}


@pytest.fixture
def writer(api_key: Headers) -> dict[str, str]:
    return api_key("researcher")


def test_zone_upload_classifies_every_site_as_brute_force(
    client: TestClient, session: Session, writer: dict[str, str]
) -> None:
    sites = upload(client, writer, "grid.geojson", points_file(GRID))
    assert sites.status_code == 201, sites.text
    not_polygon = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [15, 4]},
                   "properties": {"name": "a point"}}  # fmt: skip
    data = zones_file([WITH_HOLE, TWO_PARTS, BOW_TIE], [not_polygon])
    answer = upload(
        client, writer, "green.geojson", data, target="zones", zone_type="zone verte",
        zone_set="KP green zones", valid_from="2025-01-01",
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["zone_set"]["zone_type"] == "kp_compliant_zone"
    assert report["counts"]["accepted"] == 3 and report["counts"]["rejected"] == 1
    assert report["counts"]["repaired"] == 1
    codes = {(i["row"], i["code"]) for i in report["issues"]}
    assert (3, "polygon_repaired") in codes and (4, "not_a_polygon") in codes
    set_id = report["zone_set"]["id"]

    zones = [repair(g).geometry for g in (WITH_HOLE, TWO_PARTS, BOW_TIE)]
    names = ["Holey", "Twins", "Bow-tie"]
    stored = classification(session, set_id)
    assert len(stored) == len(GRID)
    for public_id, (lon, lat, inside, zone, distance, _at) in stored.items():
        covering = [n for n, z in zip(names, zones, strict=True) if z.covers(Point(lon, lat))]
        assert inside == bool(covering), public_id
        if covering:
            assert zone == covering[0]
        expected = independent_edge_distance_m(lon, lat, zones)  # type: ignore[arg-type]
        assert abs(distance - expected) < 1.0, (lon, lat, distance, expected)

    inside_ids = {pid for pid, row in stored.items() if row[2]}
    assert inside_ids and len(inside_ids) < len(stored)
    found = client.get("/collections/sites/items", params={"zone": set_id, "limit": 1000})
    assert found.status_code == 200
    assert {f["id"] for f in found.json()["features"]} == inside_ids
    outside = client.get(
        "/collections/sites/items", params={"zone": "kp green zones", "in_zone": "false",
                                            "limit": 1000}
    )  # fmt: skip
    assert {f["id"] for f in outside.json()["features"]} == set(stored) - inside_ids
    active = client.get("/collections/sites/items", params={"in_zone": "true", "limit": 1000})
    assert {f["id"] for f in active.json()["features"]} == inside_ids

    listed = client.get("/collections/zones/items").json()
    assert {f["properties"]["name"] for f in listed["features"]} == set(names)
    bow = next(f for f in listed["features"] if f["properties"]["name"] == "Bow-tie")
    assert bow["properties"]["repaired"] is True
    assert bow["geometry"]["type"] == "MultiPolygon"
    assert bow["properties"]["zone_type"] == "kp_compliant_zone"
    assert bow["properties"]["active"] is True
    holey = next(f for f in listed["features"] if f["properties"]["name"] == "Holey")
    holey_inside = {pid for pid, row in stored.items() if row[3] == "Holey" and row[2]}
    assert holey["properties"]["sites_inside"] == len(holey_inside)
    one = client.get(f"/collections/sites/items?zone={holey['id']}&limit=1000").json()
    assert {f["id"] for f in one["features"]} == holey_inside

    # The active zones are drawn on the sites map.
    drawn = client.get("/maps/sites", params={"lang": "pt"})
    assert drawn.status_code == 200 and "Zonas" in drawn.text
    # their outlines, and only those: no polygon is drawn on this map but the zones' (and the
    # zones' names are not carried: Folium renders a layer's data twice, as a template)
    assert '"MultiPolygon"' in drawn.text or '"Polygon"' in drawn.text
    assert "Holey" not in drawn.text

    # The same file again stores nothing new.
    again = upload(
        client, writer, "green.geojson", data, target="zones", zone_type="zone verte",
        zone_set="KP green zones", valid_from="2025-01-01",
    )  # fmt: skip
    assert again.status_code == 200 and "repeat" in again.json()
    assert len(client.get("/collections/zones/items").json()["features"]) == 3


def test_changing_a_zone_rewrites_only_the_answers_that_changed(
    client: TestClient, session: Session, writer: dict[str, str]
) -> None:
    assert upload(client, writer, "grid.geojson", points_file(GRID)).status_code == 201
    first = upload(
        client, writer, "z1.geojson", zones_file([WITH_HOLE, TWO_PARTS, BOW_TIE]),
        target="zones", zone_type="concession", zone_set="Concessions",
    )  # fmt: skip
    assert first.status_code == 201, first.text
    set_id = first.json()["zone_set"]["id"]
    before = classification(session, set_id)
    zone_ids = {f["properties"]["name"]: f["id"] for f in
                client.get("/collections/zones/items").json()["features"]}  # fmt: skip

    moved = shapely.affinity.translate(TWO_PARTS, xoff=0.12)
    second = upload(
        client, writer, "z2.geojson", zones_file([WITH_HOLE, moved, BOW_TIE]),
        target="zones", zone_type="concession", zone_set="Concessions",
    )  # fmt: skip
    assert second.status_code == 201, second.text
    report = second.json()
    assert report["zone_set"]["id"] == set_id and report["zone_set"]["replaced"] is True
    assert report["counts"]["zones_updated"] == 3 and report["counts"]["zones_created"] == 0
    after = classification(session, set_id)
    # Zones keep their public ids by name.
    assert zone_ids == {f["properties"]["name"]: f["id"] for f in
                        client.get("/collections/zones/items").json()["features"]}  # fmt: skip

    def answer(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return row[2], row[3], round(row[4], 2)

    changed = {pid for pid in before if answer(before[pid]) != answer(after[pid])}
    rewritten = {pid for pid in before if before[pid][5] != after[pid][5]}
    assert changed and len(changed) < len(before)
    assert rewritten == changed
    assert report["counts"]["sites_reclassified"] == len(changed)
    # Only sites near the moved zone changed: inside it or nearest to its edge.
    for pid in changed:
        assert "Twins" in (before[pid][3], after[pid][3])


def test_new_sites_are_classified_when_uploaded(
    client: TestClient, session: Session, writer: dict[str, str]
) -> None:
    made = upload(
        client, writer, "z.geojson", zones_file([WITH_HOLE, TWO_PARTS, BOW_TIE]),
        target="zones", zone_type="protected_area",
    )  # fmt: skip
    assert made.status_code == 201, made.text
    set_id = made.json()["zone_set"]["id"]
    assert made.json()["zone_set"]["name"] == "z"
    assert made.json()["counts"]["sites_reclassified"] == 0 or classification(session, set_id)
    added = upload(client, writer, "late.geojson", points_file([(15.05, 4.05), (15.2, 4.2)], "L"))
    assert added.status_code == 201, added.text
    stored = classification(session, set_id)
    by_name = {
        row[0]: row[1]
        for row in session.execute(
            text("SELECT public_id, name FROM sites WHERE name IN ('L0', 'L1')")
        )
    }
    answers = {by_name[pid]: row for pid, row in stored.items() if pid in by_name}
    assert answers["L0"][2] is True and answers["L0"][3] == "Holey"  # inside the square
    assert answers["L1"][2] is False and answers["L1"][3] == "Holey"  # in its hole
    assert 11_000 < answers["L1"][4] < 11_100


def test_sites_uploaded_before_any_zone_set_are_remembered_then_classified(
    client: TestClient, session: Session, writer: dict[str, str]
) -> None:
    """With no zone set, an upload answers nothing but remembers each new site's point (in
    SQL, no point fetched); a zone set made later classifies them all the same."""
    added = upload(client, writer, "early.geojson", points_file([(15.05, 4.05), (15.2, 4.2)], "E"))
    assert added.status_code == 201, added.text
    remembered = session.execute(
        text(
            "SELECT s.name, ST_Equals(p.geom, s.geom) FROM site_zone_points p "
            "JOIN sites s ON s.id = p.site_id WHERE s.name IN ('E0', 'E1') ORDER BY s.name"
        )
    ).all()
    assert remembered == [("E0", True), ("E1", True)]
    assert session.execute(text("SELECT count(*) FROM site_zones")).scalar_one() == 0
    made = upload(
        client, writer, "z.geojson", zones_file([WITH_HOLE, TWO_PARTS, BOW_TIE]),
        target="zones", zone_type="protected_area",
    )  # fmt: skip
    assert made.status_code == 201, made.text
    stored = classification(session, made.json()["zone_set"]["id"])
    by_name = dict(
        session.execute(text("SELECT name, public_id FROM sites WHERE name IN ('E0', 'E1')")).all()
    )
    assert stored[by_name["E0"]][2] is True and stored[by_name["E0"]][3] == "Holey"
    assert stored[by_name["E1"]][2] is False and stored[by_name["E1"]][3] == "Holey"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"target": "zones", "zone_type": "volcano"}, "unknown_zone_type"),
        ({"target": "zones", "valid_from": "2026-02-01", "valid_to": "2026-01-01"},
         "invalid_validity"),
        ({"target": "sites", "zone_type": "concession"}, "field_not_for_target"),
    ],
)  # fmt: skip
def test_bad_zone_fields_are_problems(
    client: TestClient, writer: dict[str, str], fields: dict[str, str], code: str
) -> None:
    answer = upload(client, writer, "z.geojson", zones_file([WITH_HOLE, TWO_PARTS, BOW_TIE]),
                    **fields)  # fmt: skip
    assert answer.status_code in (400, 422), answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code


def test_a_file_without_polygons_is_refused_row_by_row(
    client: TestClient, writer: dict[str, str]
) -> None:
    answer = upload(client, writer, "pts.geojson", points_file(GRID[:3]), target="zones")
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "no_usable_rows"
    assert [item["row"] for item in body["errors"]] == [1, 2, 3]
    # the same problem as every upload target's (app.services.upload_report.nothing_usable)
    assert body["detail"].startswith(
        "pts.geojson: none of its 3 features is a polygon that can be stored (3 problems, "
        "the first at row 1)"
    )
    assert sum(c["error"] for c in body["issue_counts"].values()) == 3 and body["rows"] == 3
    assert client.get("/collections/zones/items").json()["features"] == []


def test_unknown_zone_filter_is_a_400(client: TestClient) -> None:
    answer = client.get("/collections/sites/items", params={"zone": "nowhere"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "unknown_filter_value"
