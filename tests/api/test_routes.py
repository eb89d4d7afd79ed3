"""Trade routes through the API: an IPIS-style file of mine → destination lines imports, ends
are matched to known sites or created, a destination across the border is a cross-border flow
with the right pair code and the point where the straight line crosses the border (checked
against the border lines themselves), tables of names or ids import, the flows map and the
flow statistics answer."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pyproj
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import LineString, Point
from sqlalchemy import text
from sqlalchemy.orm import Session

Headers = Callable[..., dict[str, str]]
GEOD = pyproj.Geod(ellps="WGS84")
BERBERATI = (15.7883, 4.2612)  # CAF
CARNOT = (15.9439, 4.9396)  # CAF
BATOURI = (14.3640, 4.4330)  # CMR
GAMBOULA = (15.1389, 4.1181)  # CAF, near the border


def upload(
    client: TestClient, headers: dict[str, str], name: str, data: bytes, **fields: Any
) -> Any:
    return client.post("/uploads", files={"file": (name, data)}, data=fields, headers=headers)


def mines(points: list[tuple[str, tuple[float, float]]]) -> bytes:
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(xy)},
         "properties": {"name": name, "kind": "mine"}}
        for name, xy in points
    ]  # fmt: skip
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def ipis_routes() -> bytes:
    """Lines as IPIS draws them: from a mine (a few metres off its surveyed point) through a
    bend to the trade destination; one destination in Cameroon."""
    near_berberati = (BERBERATI[0] + 0.0002, BERBERATI[1] + 0.0001)
    features = [
        {"type": "Feature",
         "geometry": {"type": "LineString",
                      "coordinates": [near_berberati, (15.2, 4.3), BATOURI]},
         "properties": {"source": "Berberati", "destination": "Batouri",
                        "substance": "Diamant", "period": "2025", "volume": "120",
                        "unit": "carats"}},
        {"type": "Feature",
         "geometry": {"type": "LineString", "coordinates": [near_berberati, CARNOT]},
         "properties": {"destination": "Carnot market", "substance": "or"}},
        {"type": "Feature",
         "geometry": {"type": "LineString", "coordinates": [GAMBOULA, GAMBOULA]},
         "properties": {}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(CARNOT)},
         "properties": {}},
    ]  # fmt: skip
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


@pytest.fixture
def writer(api_key: Headers) -> dict[str, str]:
    return api_key("researcher")


def border_line(session: Session, pair: str) -> Any:
    wkb = session.execute(
        text(
            "SELECT ST_AsBinary(b.geom) FROM borders b JOIN boundary_sources s "
            "ON s.id = b.source_id AND s.active WHERE b.pair_code = :pair"
        ),
        {"pair": pair},
    ).scalar_one()
    return shapely.from_wkb(bytes(wkb))


def test_a_routes_upload_is_not_retracted_as_if_it_were_sites(
    client: TestClient, writer: dict[str, str]
) -> None:
    """Retraction takes back site uploads; a routes upload once answered 200 with nothing
    removed while its routes stayed. Now a 409 naming what it brought, and nothing moves."""
    answer = upload(client, writer, "ipis.geojson", ipis_routes(), target="routes")
    assert answer.status_code == 201, answer.text
    upload_id = answer.json()["upload"]["id"]
    before = client.get("/collections/routes/items").json()["numberMatched"]
    refused = client.post(f"/uploads/{upload_id}/retract", json={"reason": "x"}, headers=writer)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "not_a_site_upload"
    assert "2 routes" in refused.json()["detail"]
    assert client.get("/collections/routes/items").json()["numberMatched"] == before


def test_ipis_style_lines_import_with_the_cross_border_flow_measured(
    client: TestClient, session: Session, writer: dict[str, str]
) -> None:
    known = upload(client, writer, "mines.geojson", mines([("Berberati", BERBERATI)]))
    assert known.status_code == 201, known.text
    berberati = known.json()["rows"][0]["site"]
    answer = upload(client, writer, "ipis.geojson", ipis_routes(), target="routes")
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["counts"]["routes"] == 2 and report["counts"]["cross_border"] == 1
    assert report["counts"]["sites_created"] == 2  # Batouri and Carnot market
    codes = {(i["row"], i["code"]) for i in report["issues"]}
    assert (3, "degenerate_route") in codes and (4, "not_a_line") in codes

    found = client.get("/collections/routes/items", params={"cross_border": "true"}).json()
    assert len(found["features"]) == 1
    route = found["features"][0]["properties"]
    assert route["source"] == berberati
    assert (route["source_country"], route["destination_country"]) == ("CAF", "CMR")
    assert route["border_pair"] == "CAF-CMR"
    assert route["mineral"] == "diamond" and route["volume"] == 120.0
    assert route["volume_unit"] == "carats" and route["period"] == "2025"
    # The length is along the line as drawn, geodesic.
    drawn = LineString([(BERBERATI[0] + 0.0002, BERBERATI[1] + 0.0001), (15.2, 4.3), BATOURI])
    assert route["length_km"] == pytest.approx(GEOD.geometry_length(drawn) / 1000, rel=1e-9)
    # The crossing lies on the CAF-CMR border line, where an independently densified
    # geodesic from source to destination meets it.
    crossing = Point(route["crossing"])
    border = border_line(session, "CAF-CMR")
    assert border.distance(crossing) < 1e-6
    lon1, lat1 = BERBERATI
    dense = LineString([(lon1, lat1), *GEOD.npts(lon1, lat1, *BATOURI, 2000), BATOURI])
    expected = shapely.get_parts(dense.intersection(border))
    nearest = min(expected, key=lambda p: dense.project(p))
    _, _, gap_m = GEOD.inv(crossing.x, crossing.y, nearest.x, nearest.y)
    assert gap_m < 20

    domestic = client.get("/collections/routes/items", params={"cross_border": "false"}).json()
    assert [f["properties"]["destination_name"] for f in domestic["features"]] == ["Carnot market"]
    assert domestic["features"][0]["properties"]["border_pair"] is None
    by_border = client.get("/collections/routes/items", params={"border": "CMR"}).json()
    assert len(by_border["features"]) == 1

    # The destination became a sales point at the line's last vertex.
    batouri = client.get(f"/collections/sites/items/{route['destination']}").json()
    assert batouri["properties"]["kind"] == "sales_point"
    assert batouri["properties"]["country"] == "CMR"
    assert batouri["geometry"]["coordinates"] == pytest.approx(list(BATOURI))

    again = upload(client, writer, "ipis.geojson", ipis_routes(), target="routes")
    assert again.status_code == 200 and "repeat" in again.json()
    assert len(client.get("/collections/routes/items").json()["features"]) == 2

    stats = client.get("/statistics/routes", params={"group_by": "border,mineral"}).json()
    assert {(r["border"], r["mineral"], r["routes"]) for r in stats["rows"]} == {
        ("CAF-CMR", "diamond", 1),
        (None, "gold", 1),
    }
    as_csv = client.get("/statistics/routes", params={"group_by": "border,mineral", "f": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["border"] or None, r["routes"]) for r in rows] == [
        (r["border"], str(r["routes"])) for r in stats["rows"]
    ]
    page = client.get("/maps/routes", params={"lang": "fr"})
    assert page.status_code == 200
    assert "Flux transfrontalier" in page.text and "flow cross-border" in page.text


def test_a_table_of_names_or_ids_imports(
    client: TestClient, session: Session, writer: dict[str, str]
) -> None:
    made = upload(
        client, writer, "m.geojson",
        mines([("Bétaré Oya", (14.08, 5.60)), ("Garoua-Boulaï", (14.55, 5.89)),
               ("Twin", (15.5, 4.5)), ("Twin", (15.6, 4.6))]),
    )  # fmt: skip
    assert made.status_code == 201, made.text
    ids = {row["row"]: row["site"] for row in made.json()["rows"]}
    table = (
        "source,destination,mineral,quantité\n"
        f"betare oya,{ids[2]},or,3.5\n"
        f"{ids[1]},GAROUA-BOULAI,gold,\n"
        "Nowhere,Garoua-Boulaï,or,\n"
        "Twin,Garoua-Boulaï,or,\n"
    )
    answer = upload(client, writer, "flows.csv", table.encode(), target="routes")
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["counts"]["routes"] == 2 and report["counts"]["rejected"] == 2
    codes = {(i["row"], i["code"]) for i in report["issues"]}
    assert (4, "unknown_site") in codes and (5, "ambiguous_site") in codes
    listed = client.get("/collections/routes/items", params={"site": ids[1]}).json()["features"]
    assert len(listed) == 2
    assert {f["properties"]["cross_border"] for f in listed} == {False}
    assert sorted(f["properties"]["volume"] for f in listed if f["properties"]["volume"]) == [3.5]


def test_a_routes_column_sharing_its_name_is_refused(
    client: TestClient, writer: dict[str, str]
) -> None:
    table = b"source,destination,source\nBerberati,Batouri,Carnot\n"
    answer = upload(client, writer, "flows.csv", table, target="routes")
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "duplicate_column"
    assert problem["errors"][0]["column"] == "source"
    assert problem["detail"].startswith("flows.csv: columns 1 and 3 are both named 'source'")


def test_a_file_without_routes_is_refused(client: TestClient, writer: dict[str, str]) -> None:
    answer = upload(client, writer, "pts.geojson", mines([("A", BERBERATI)]), target="routes")
    assert answer.status_code == 422
    assert answer.json()["code"] == "no_usable_rows"
    assert client.get("/collections/routes/items").json()["features"] == []


def test_rows_of_a_table_the_reader_could_not_read_are_rejected_with_its_reason(
    client: TestClient, writer: dict[str, str]
) -> None:
    """A quote left open, a ragged row and a name that is not UTF-8 were blank records (a
    'no source given') or, not UTF-8, matched as Windows-1252 guessed it and stored: each is
    now its row's error with the reader's reason and column, and only the rows read are
    stored; a table of such rows alone is refused naming the file, row, column and reason."""
    made = upload(
        client, writer, "m.geojson",
        mines([("Bétaré Oya", (14.08, 5.60)), ("Garoua-Boulaï", (14.55, 5.89))]),
    )  # fmt: skip
    assert made.status_code == 201, made.text
    table = (
        "source,destination,mineral\n"
        "Bétaré Oya,Garoua-Boulaï,or\n"
        '"Bétaré Oya,Garoua-Boulaï,or\n'
        "Bétaré Oya,Garoua-Boulaï,or,en trop\n"
    ).encode() + "Bétaré Oya,Garoua-Boulaï,diamant\n".encode("cp1252")
    answer = upload(client, writer, "flows.csv", table, target="routes")
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["counts"]["routes"] == 1 and report["counts"]["rejected"] == 3
    assert [(i["row"], i["column"], i["code"]) for i in report["issues"]] == [
        (3, "source", "unclosed_quote"),
        (4, None, "malformed_row"),
        (5, "source", "mixed_encoding"),
        (5, "destination", "mixed_encoding"),
    ]
    listed = client.get("/collections/routes/items").json()["features"]
    assert [f["properties"]["mineral"] for f in listed] == ["gold"]

    unreadable = b'source,destination\n"Nowhere,Garoua\n' + "Bétaré,Garoua\n".encode("cp1252")
    unreadable = "source,destination,période,unité\n".encode() + unreadable.split(b"\n", 1)[1]
    refused = upload(client, writer, "bad.csv", unreadable, target="routes")
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "no_usable_rows" and problem["file"] == "bad.csv"
    assert (
        "none of its 2 rows is a route that can be stored (2 problems, the first at row 2)"
        in (problem["detail"])
    )
    assert problem["issue_counts"] == {
        "mixed_encoding": {"error": 1},
        "unclosed_quote": {"error": 1},
    }
    assert [(e["row"], e.get("column"), e["code"]) for e in problem["errors"]] == [
        (2, "source", "unclosed_quote"),
        (3, "source", "mixed_encoding"),
    ]
    assert all(e["message"].startswith("bad.csv: line ") for e in problem["errors"])
    assert len(client.get("/collections/routes/items").json()["features"]) == 1
